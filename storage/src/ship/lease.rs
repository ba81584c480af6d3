//! The lease: which server may write a deployment, so two servers never both commit.
//!
//! Only create-only writes (`If-None-Match: *`) are needed, which AWS S3, Ceph RGW, MinIO,
//! Garage and Coffer all honour (Ceph 16 does not honour `If-Match` on PUT). Each time a
//! server takes the lease it *creates* the object of the next epoch,
//! `index/lease/<epoch>`; of two servers racing for one epoch, one create fails. The
//! holder renews by rewriting its own epoch's object with a new beat count, and before
//! each renewal it looks for the next epoch's object: if one exists, another server took
//! over, and the holder is fenced — it never writes again. It accepts writes only until
//! `duration` after the start of its last successful renewal.
//!
//! Taking it:
//! - no lease yet, or the latest released at a clean stop, or held by this node (a crash
//!   before): at once;
//! - held by another node: only once its beat has stood still for a whole duration (its
//!   holder stopped renewing, so by its own clock its lease has run out); a beat seen
//!   meanwhile means the holder is alive, and the start is refused;
//! - by force (`coffer promote`): at once; the new holder then waits a whole duration
//!   before it commits anything, so the old holder, which looks for the next epoch at
//!   least every third of a duration, has seen it and stopped, or its lease has run out.
//!
//! The objects are plain text: they hold no secret, and an operator may read them.

use std::time::{Duration, Instant};

use crate::chunks::remote::{RemoteChunks, When};
use crate::error::{Error, Result};

/// The prefix of the lease objects.
pub(crate) const PREFIX: &str = "index/lease/";

fn name(epoch: u64) -> String {
    format!("{PREFIX}{epoch:020}")
}

/// One epoch's lease object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) holder: String,
    pub(crate) beat: u64,
    pub(crate) released: bool,
}

impl Lease {
    fn text(&self) -> String {
        format!(
            "coffer-lease 2\nholder {}\nbeat {}\nreleased {}\n",
            self.holder, self.beat, self.released
        )
    }

    fn parse(bytes: &[u8]) -> Option<Lease> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != "coffer-lease 2" {
            return None;
        }
        let holder = lines.next()?.strip_prefix("holder ")?.to_owned();
        let beat = lines.next()?.strip_prefix("beat ")?.parse().ok()?;
        let released = lines.next()?.strip_prefix("released ")?.parse().ok()?;
        Some(Lease {
            holder,
            beat,
            released,
        })
    }
}

/// A lease this server holds.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) epoch: u64,
    beat: u64,
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

/// The latest epoch and its lease object's bytes (`None`: no lease yet).
fn latest(remote: &dyn RemoteChunks) -> Result<Option<(u64, Option<Vec<u8>>)>> {
    let listed = remote
        .list(PREFIX)
        .map_err(Error::remote("list the leases"))?;
    let Some(epoch) = listed
        .iter()
        .filter_map(|(n, _)| n.strip_prefix(PREFIX)?.parse::<u64>().ok())
        .max()
    else {
        return Ok(None);
    };
    let bytes = remote
        .get(&name(epoch))
        .map_err(Error::remote("read the lease"))?;
    Ok(Some((epoch, bytes)))
}

/// Takes the lease for `node`, with an epoch above every earlier one.
///
/// # Errors
/// `Error::LeaseHeld` if another holder renewed it while this one waited, or took it
/// first; `Error::Remote` if the remote fails.
pub(crate) fn take(
    remote: &dyn RemoteChunks,
    node: &str,
    duration: Duration,
    how: Take,
) -> Result<Held> {
    let mut watched: Option<(u64, Vec<u8>, Instant)> = None;
    loop {
        let (epoch, current) = match latest(remote)? {
            None => (1, None),
            Some((epoch, bytes)) => (epoch + 1, Some((epoch, bytes.unwrap_or_default()))),
        };
        if let (Some((held_epoch, bytes)), Take::WhenFree) = (&current, how) {
            let free = Lease::parse(bytes).is_some_and(|l| l.released || l.holder == node);
            if !free {
                // Another holder's: free once its beat stood still for a whole duration.
                match &watched {
                    Some((e, seen, since)) if e == held_epoch && seen == bytes => {
                        if since.elapsed() < duration + duration / 10 {
                            std::thread::sleep((duration / 8).max(Duration::from_millis(50)));
                            continue;
                        }
                    }
                    Some(_) => return Err(Error::LeaseHeld { seen_renewals: 1 }),
                    None => {
                        tracing::info!(
                            ?duration,
                            "another server held the chunk store's lease: waiting for it to lapse"
                        );
                        watched = Some((*held_epoch, bytes.clone(), Instant::now()));
                        continue;
                    }
                }
            }
        }
        let lease = Lease {
            holder: node.to_owned(),
            beat: 0,
            released: false,
        };
        let started = Instant::now();
        let created = remote
            .put_when(&name(epoch), lease.text().as_bytes(), When::Absent)
            .map_err(Error::remote("take the lease"))?;
        if created.is_none() {
            // Another server created this epoch first.
            return Err(Error::LeaseHeld { seen_renewals: 0 });
        }
        prune(remote, epoch);
        return Ok(Held {
            epoch,
            beat: 0,
            valid_until: started + duration,
        });
    }
}

/// Removes lease objects older than the one before `epoch`. Best effort.
fn prune(remote: &dyn RemoteChunks, epoch: u64) {
    let Ok(listed) = remote.list(PREFIX) else {
        return;
    };
    for (n, _) in listed {
        if n.strip_prefix(PREFIX)
            .and_then(|e| e.parse::<u64>().ok())
            .is_some_and(|e| e + 1 < epoch)
        {
            let _ = remote.delete(&n);
        }
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

/// Renews `held` for another `duration`, unless another server took the lease.
///
/// # Errors
/// `Error::Remote` (the lease runs out unless a later renewal succeeds).
pub(crate) fn renew(
    remote: &dyn RemoteChunks,
    node: &str,
    held: &mut Held,
    duration: Duration,
) -> Result<Renewal> {
    let started = Instant::now();
    if remote
        .size(&name(held.epoch + 1))
        .map_err(Error::remote("look for a newer lease"))?
        .is_some()
    {
        return Ok(Renewal::Lost);
    }
    let lease = Lease {
        holder: node.to_owned(),
        beat: held.beat + 1,
        released: false,
    };
    remote
        .put_when(&name(held.epoch), lease.text().as_bytes(), When::Always)
        .map_err(Error::remote("renew the lease"))?;
    held.beat += 1;
    held.valid_until = started + duration;
    Ok(Renewal::Renewed)
}

/// Gives the lease up at a clean stop, so the next writer need not wait for it to lapse.
/// Best effort: a failure only makes the next start wait.
pub(crate) fn release(remote: &dyn RemoteChunks, node: &str, held: &Held) {
    let lease = Lease {
        holder: node.to_owned(),
        beat: held.beat + 1,
        released: true,
    };
    let newer = remote.size(&name(held.epoch + 1));
    if !matches!(newer, Ok(None)) {
        // Taken over (or unknown): the newer holder's lease is not this one's to touch.
        return;
    }
    if let Err(e) = remote.put_when(&name(held.epoch), lease.text().as_bytes(), When::Always) {
        tracing::warn!(error = %e, "could not release the chunk store's lease; the next start waits for it to lapse");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_round_trip_and_refuse_garbage() {
        let lease = Lease {
            holder: "abc".to_owned(),
            beat: 7,
            released: true,
        };
        assert_eq!(Lease::parse(lease.text().as_bytes()), Some(lease));
        assert_eq!(Lease::parse(b"coffer-lease 1\nepoch 1\n"), None);
        assert_eq!(Lease::parse(b"\xff"), None);
        assert!(name(2) > name(1) && name(10) > name(9));
    }
}
