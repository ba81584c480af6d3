//! The lease: which server may write a deployment, taken and renewed with conditional
//! writes on one remote object (`index/lease`), so two servers never both commit.
//!
//! The object says which epoch is current and which server (by its data directory's node
//! id) holds it. The holder renews it every third of the lease's duration with `If-Match`
//! on the tag it last wrote, and accepts writes only until `duration` after the start of
//! its last successful renewal. A renewal answered 412 means another server took the lease:
//! the holder is fenced and never writes again.
//!
//! Taking it:
//! - no lease, or one released at a clean stop, or one held by this node (a crash before):
//!   at once, with a new epoch;
//! - one held by another node: only once its tag has stayed the same for a whole duration
//!   (its holder stopped renewing, so by its own clock its lease has run out); a renewal
//!   seen meanwhile means the holder is alive, and the start is refused;
//! - by force (`coffer promote`): at once; the new holder then waits a whole duration
//!   before it commits anything, so the old holder's last renewal has run out.
//!
//! The object is plain text: it holds no secret, and an operator may read it.

use std::time::{Duration, Instant};

use super::layout::LEASE;
use crate::chunks::remote::{RemoteChunks, When};
use crate::error::{Error, Result};

/// The lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) epoch: u64,
    pub(crate) holder: String,
    pub(crate) released: bool,
}

impl Lease {
    fn text(&self) -> String {
        format!(
            "coffer-lease 1\nepoch {}\nholder {}\nreleased {}\n",
            self.epoch, self.holder, self.released
        )
    }

    fn parse(bytes: &[u8]) -> Option<Lease> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != "coffer-lease 1" {
            return None;
        }
        let epoch = lines.next()?.strip_prefix("epoch ")?.parse().ok()?;
        let holder = lines.next()?.strip_prefix("holder ")?.to_owned();
        let released = lines.next()?.strip_prefix("released ")?.parse().ok()?;
        Some(Lease {
            epoch,
            holder,
            released,
        })
    }
}

/// A lease this server holds.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) epoch: u64,
    tag: String,
    /// Writes are accepted until then.
    pub(crate) valid_until: Instant,
}

/// How to take the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Wait for another holder's lease to lapse; refuse if it is renewed meanwhile.
    WhenFree,
    /// Take it now (promotion); the caller waits a duration before committing.
    Now,
}

fn read(remote: &dyn RemoteChunks) -> Result<Option<(Option<Lease>, String)>> {
    Ok(remote
        .get_tagged(LEASE)
        .map_err(Error::remote("read the lease"))?
        .map(|(bytes, tag)| (Lease::parse(&bytes), tag)))
}

/// Takes the lease for `node`, with an epoch above every earlier one.
///
/// # Errors
/// `Error::LeaseHeld` if another holder renewed it while this one waited;
/// `Error::Remote` if the remote fails.
pub(crate) fn take(
    remote: &dyn RemoteChunks,
    node: &str,
    duration: Duration,
    how: Take,
) -> Result<Held> {
    let mut watched: Option<(String, Instant)> = None;
    let mut renewals = 0;
    loop {
        let current = read(remote)?;
        let (when, epoch) = match &current {
            None => (When::Absent, 1),
            Some((lease, tag)) => {
                let epoch = lease.as_ref().map_or(0, |l| l.epoch) + 1;
                let free = lease
                    .as_ref()
                    .is_some_and(|l| l.released || l.holder == node);
                if !free && how == Take::WhenFree {
                    // Another holder's: free once its tag stood still for a whole duration.
                    match &watched {
                        Some((seen, since)) if seen == tag => {
                            if since.elapsed() < duration + duration / 10 {
                                std::thread::sleep((duration / 8).max(Duration::from_millis(50)));
                                continue;
                            }
                        }
                        Some(_) => {
                            renewals += 1;
                            return Err(Error::LeaseHeld {
                                seen_renewals: renewals,
                            });
                        }
                        None => {
                            tracing::info!(
                                ?duration,
                                "another server held the chunk store's lease: waiting for it to lapse"
                            );
                            watched = Some((tag.clone(), Instant::now()));
                            continue;
                        }
                    }
                }
                (When::Tagged(tag.clone()), epoch)
            }
        };
        let lease = Lease {
            epoch,
            holder: node.to_owned(),
            released: false,
        };
        let started = Instant::now();
        if let Some(tag) = remote
            .put_when(LEASE, lease.text().as_bytes(), when)
            .map_err(Error::remote("take the lease"))?
        {
            return Ok(Held {
                epoch,
                tag,
                valid_until: started + duration,
            });
        }
        // Someone wrote it between the read and the write: look again.
        watched = None;
    }
}

/// What a renewal found.
#[derive(Debug)]
pub(crate) enum Renewal {
    /// Renewed: writes may go on until the new `valid_until`.
    Renewed,
    /// Another server took the lease.
    Lost,
}

/// Renews `held` for another `duration`.
///
/// # Errors
/// `Error::Remote` (the lease runs out unless a later renewal succeeds).
pub(crate) fn renew(
    remote: &dyn RemoteChunks,
    node: &str,
    held: &mut Held,
    duration: Duration,
) -> Result<Renewal> {
    let lease = Lease {
        epoch: held.epoch,
        holder: node.to_owned(),
        released: false,
    };
    let started = Instant::now();
    match remote
        .put_when(
            LEASE,
            lease.text().as_bytes(),
            When::Tagged(held.tag.clone()),
        )
        .map_err(Error::remote("renew the lease"))?
    {
        Some(tag) => {
            held.tag = tag;
            held.valid_until = started + duration;
            Ok(Renewal::Renewed)
        }
        None => Ok(Renewal::Lost),
    }
}

/// Gives the lease up at a clean stop, so the next writer need not wait for it to lapse.
/// Best effort: a failure only makes the next start wait.
pub(crate) fn release(remote: &dyn RemoteChunks, node: &str, held: &Held) {
    let lease = Lease {
        epoch: held.epoch,
        holder: node.to_owned(),
        released: true,
    };
    if let Err(e) = remote.put_when(
        LEASE,
        lease.text().as_bytes(),
        When::Tagged(held.tag.clone()),
    ) {
        tracing::warn!(error = %e, "could not release the chunk store's lease; the next start waits for it to lapse");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_round_trip_and_refuse_garbage() {
        let lease = Lease {
            epoch: 7,
            holder: "abc".to_owned(),
            released: true,
        };
        assert_eq!(Lease::parse(lease.text().as_bytes()), Some(lease));
        assert_eq!(Lease::parse(b"coffer-lease 2\nepoch 1\n"), None);
        assert_eq!(Lease::parse(b"\xff"), None);
    }
}
