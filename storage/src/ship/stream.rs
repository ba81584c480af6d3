//! The shipped stream: the primary's shipments, the standby's following, promotion, and
//! the thread that runs them.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use redb::ReadableDatabase as _;
use zeroize::Zeroizing;

use super::files::Shipped;
use super::layout;
use super::lease::{self, Renewal, Take};
use super::{Position, Ship, ShipKey, decode_segment, encode_segment, locked};
use crate::chunks::remote::{RemoteChunks, When};
use crate::error::{Error, Result};
use crate::index::{Change, Index};
use crate::store::Shared;
use crate::writer::{Follow, Request};

/// Logs applied in one index transaction (restore and standby).
pub(crate) const LOGS_PER_APPLY: usize = 64;
/// A new snapshot is shipped after this many logs, or this many bytes of them, so a
/// restore replays a bounded tail.
const SNAPSHOT_AFTER_LOGS: u64 = 1000;
const SNAPSHOT_AFTER_BYTES: u64 = 64 << 20;
/// The snapshot being written, in the data directory (sealed, like the index).
const SNAPSHOT_TEMP: &str = "index.redb.ship";
/// A fetched snapshot a standby loads.
const INCOMING_TEMP: &str = "index.redb.incoming";

/// Where the stream stands.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    epoch: u64,
    /// The primary's last log shipped; the standby's last log applied.
    seq: u64,
    /// The primary shipped this epoch's snapshot 0.
    based: bool,
    files: Option<Shipped>,
    logs_since_snapshot: u64,
    bytes_since_snapshot: u64,
    /// Commits up to this number are shipped.
    shipped_commit: u64,
}

impl Stream {
    pub(crate) fn start_epoch(&mut self, epoch: u64) {
        let shipped_commit = self.shipped_commit;
        *self = Stream {
            epoch,
            shipped_commit,
            ..Stream::default()
        };
    }

    pub(crate) fn follow_from(&mut self, epoch: u64, seq: u64) {
        self.epoch = epoch;
        self.seq = seq;
    }

    pub(crate) fn is_based(&self) -> bool {
        self.based
    }

    pub(crate) fn shipped_commit(&self) -> u64 {
        self.shipped_commit
    }

    pub(crate) fn position(&self) -> Position {
        Position {
            epoch: self.epoch,
            seq: self.seq,
        }
    }
}

/// Fetches and opens snapshot `seq` of `epoch`: its sealed size and the index file.
pub(crate) fn fetch_snapshot(
    remote: &dyn RemoteChunks,
    key: &ShipKey,
    epoch: u64,
    seq: u64,
) -> Result<(u64, Zeroizing<Vec<u8>>)> {
    let name = layout::snapshot(epoch, seq);
    let sealed = remote
        .get(&name)
        .map_err(Error::remote("fetch a shipped snapshot"))?
        .ok_or(Error::Restore {
            what: "a shipped snapshot went missing (removed by a newer one?)",
        })?;
    Ok((sealed.len() as u64, key.open(&name, &sealed)?))
}

/// Fetches and opens log `seq` of `epoch`.
pub(crate) fn fetch_log(
    remote: &dyn RemoteChunks,
    key: &ShipKey,
    epoch: u64,
    seq: u64,
) -> Result<Vec<Change>> {
    let name = layout::log(epoch, seq);
    let sealed = remote
        .get(&name)
        .map_err(Error::remote("fetch a shipped log"))?
        .ok_or(Error::Restore {
            what: "a shipped log went missing",
        })?;
    decode_segment(&key.open(&name, &sealed)?)
}

impl Ship {
    /// Ships what changed: the key files, this epoch's snapshot 0 if not yet, the changes
    /// since the last log, and a new snapshot when the logs since the last one are many.
    ///
    /// # Errors
    /// `Error::Remote` and the like: the changes stay pending and go with the next call.
    pub(crate) fn ship(&self, index: &Index) -> Result<()> {
        let mut stream = locked(&self.stream);
        // Epoch 0: the lease is not taken yet (the remote was down at the start).
        if self.gate.is_fenced() || self.gate.is_standby() || stream.epoch == 0 {
            return Ok(());
        }
        let files = match stream.files.take() {
            Some(files) => files,
            None => Shipped::listed(self.remote.as_ref())?,
        };
        let files = stream.files.insert(files);
        files.sync(self.remote.as_ref(), &self.root)?;
        if !stream.based {
            self.ship_snapshot(&mut stream, index)?;
            stream.based = true;
        }
        let (changes, upto) = {
            let mut pending = locked(&self.pending);
            (std::mem::take(&mut pending.changes), pending.commits)
        };
        if !changes.is_empty() {
            let seq = stream.seq + 1;
            let name = layout::log(stream.epoch, seq);
            let shipped = encode_segment(&changes)
                .and_then(|plain| self.key.seal(&name, &plain))
                .and_then(|sealed| {
                    self.remote
                        .put_when(&name, &sealed, When::Always)
                        .map_err(Error::remote("ship a log"))?;
                    Ok(sealed.len() as u64)
                });
            match shipped {
                Ok(len) => {
                    stream.seq = seq;
                    stream.logs_since_snapshot += 1;
                    stream.bytes_since_snapshot += len;
                }
                Err(e) => {
                    // Back in front of what came meanwhile, for the next call.
                    let mut pending = locked(&self.pending);
                    let later = std::mem::replace(&mut pending.changes, changes);
                    pending.changes.extend(later);
                    return Err(e);
                }
            }
        }
        stream.shipped_commit = upto;
        if stream.logs_since_snapshot >= SNAPSHOT_AFTER_LOGS
            || stream.bytes_since_snapshot >= SNAPSHOT_AFTER_BYTES
        {
            self.ship_snapshot(&mut stream, index)?;
        }
        Ok(())
    }

    /// Ships a snapshot labelled with the last log shipped (it holds at least every commit
    /// of the logs up to it; replaying later logs over commits it also holds is harmless,
    /// as changes are absolute), then removes what it supersedes.
    fn ship_snapshot(&self, stream: &mut Stream, index: &Index) -> Result<()> {
        let temp = self.root.join(SNAPSHOT_TEMP);
        let _ = std::fs::remove_file(&temp);
        let bytes = index
            .snapshot()?
            .copy_into(&temp, &self.index_key)
            .and_then(|_| std::fs::read(&temp).map_err(Error::io("read index snapshot")));
        let _ = std::fs::remove_file(&temp);
        let name = layout::snapshot(stream.epoch, stream.seq);
        let sealed = self.key.seal(&name, &bytes?)?;
        self.remote
            .put_when(&name, &sealed, When::Always)
            .map_err(Error::remote("ship an index snapshot"))?;
        tracing::debug!(
            epoch = stream.epoch,
            seq = stream.seq,
            bytes = sealed.len(),
            "shipped an index snapshot"
        );
        stream.logs_since_snapshot = 0;
        stream.bytes_since_snapshot = 0;
        self.collect_garbage(stream.epoch, stream.seq);
        Ok(())
    }

    /// Removes earlier epochs, and this epoch's logs and snapshots before snapshot `seq`.
    /// Best effort: what stays is removed after the next snapshot.
    fn collect_garbage(&self, epoch: u64, seq: u64) {
        let listing = match self.remote.list(layout::ROOT) {
            Ok(listing) => listing,
            Err(e) => {
                tracing::debug!(error = %e, "could not list the shipped index to prune it");
                return;
            }
        };
        for (e, at) in layout::epochs(&listing) {
            let names = at
                .snapshots
                .keys()
                .filter(|s| e < epoch || **s < seq)
                .map(|s| layout::snapshot(e, *s))
                .chain(
                    at.logs
                        .keys()
                        .filter(|s| e < epoch || **s <= seq)
                        .map(|s| layout::log(e, *s)),
                );
            for name in names {
                if let Err(e) = self.remote.delete(&name) {
                    tracing::debug!(error = %e, "could not prune the shipped index");
                    return;
                }
            }
        }
    }

    /// A standby's round: fetches the key files, then applies the logs shipped since, or
    /// loads a newer snapshot when its logs are gone or a newer epoch began.
    pub(crate) fn follow(&self, shared: &Shared) -> Result<()> {
        super::files::fetch(self.remote.as_ref(), &self.root, true)?;
        let listing = self
            .remote
            .list(layout::ROOT)
            .map_err(Error::remote("list the shipped index"))?;
        let epochs = layout::epochs(&listing);
        let Some(plan) = layout::plan(&epochs) else {
            return Ok(());
        };
        let (mut epoch, mut seq) = {
            let stream = locked(&self.stream);
            (stream.epoch, stream.seq)
        };
        let next_shipped = epochs
            .get(&epoch)
            .is_some_and(|at| at.logs.contains_key(&(seq + 1)));
        if plan.epoch > epoch || (plan.epoch == epoch && !next_shipped && plan.snapshot > seq) {
            self.load_snapshot(shared, plan.epoch, plan.snapshot)?;
            (epoch, seq) = (plan.epoch, plan.snapshot);
            locked(&self.stream).follow_from(epoch, seq);
        }
        let Some(at) = epochs.get(&epoch) else {
            return Ok(());
        };
        for group in layout::run_after(at, seq).chunks(LOGS_PER_APPLY) {
            let mut changes = Vec::new();
            for s in group {
                changes.extend(fetch_log(self.remote.as_ref(), &self.key, epoch, *s)?);
            }
            let last = group.last().copied().unwrap_or(seq);
            send(
                shared,
                Follow::Apply {
                    changes,
                    epoch,
                    seq: last,
                },
            )?;
            locked(&self.stream).follow_from(epoch, last);
        }
        Ok(())
    }

    fn load_snapshot(&self, shared: &Shared, epoch: u64, seq: u64) -> Result<()> {
        let (_, bytes) = fetch_snapshot(self.remote.as_ref(), &self.key, epoch, seq)?;
        let temp = self.root.join(INCOMING_TEMP);
        crate::write_private_file(&temp, &bytes).map_err(Error::io("write a fetched snapshot"))?;
        drop(bytes);
        let loaded = crate::index::open_copy(&temp, &self.index_key).and_then(|db| {
            let source = db.begin_read().map_err(Error::index("begin read"))?;
            send(shared, Follow::Replace { source, epoch, seq })
        });
        let _ = std::fs::remove_file(&temp);
        tracing::info!(epoch, seq, "loaded a shipped index snapshot");
        loaded
    }

    /// Makes this standby the primary: catches up, takes the lease from whoever holds it,
    /// waits out the old holder's last renewal while still following it, catches up once
    /// more, and ships its own first snapshot.
    fn promote(&self, shared: &Shared) -> Result<Position> {
        self.follow(shared)?;
        let lease_for = self.config.lease;
        let mut held = lease::take(
            self.remote.as_ref(),
            &self.config.node,
            lease_for,
            Take::Now,
        )?;
        tracing::info!(
            epoch = held.epoch,
            "took the chunk store's lease; waiting for the old primary's to run out"
        );
        let until = Instant::now() + lease_for + lease_for / 10;
        let mut renewed = Instant::now();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            std::thread::sleep(left.min(self.config.interval).min(lease_for / 4));
            if renewed.elapsed() >= lease_for / 3 {
                self.keep(&mut held)?;
                renewed = Instant::now();
            }
            if let Err(e) = self.follow(shared) {
                tracing::warn!(error = %e, "could not follow the old primary while taking over");
            }
        }
        self.follow(shared)?;
        self.keep(&mut held)?;
        let index = shared.index()?;
        // Journal first: the gate opens only after, so no commit escapes the journal.
        index.set_journaled(true);
        locked(&self.stream).start_epoch(held.epoch);
        self.gate.make_primary(held.valid_until);
        *locked(&self.lease) = Some(held);
        if let Err(e) = self.ship(&index) {
            tracing::warn!(error = %e, "promoted, but could not ship the first snapshot yet; retrying");
        }
        Ok(self.position())
    }

    /// Renews `held`; a lost lease is an error (someone else promoted meanwhile).
    fn keep(&self, held: &mut lease::Held) -> Result<()> {
        match lease::renew(
            self.remote.as_ref(),
            &self.config.node,
            held,
            self.config.lease,
        )? {
            Renewal::Renewed => Ok(()),
            Renewal::Lost => Err(Error::LeaseHeld { seen_renewals: 1 }),
        }
    }

    /// The lease thread's round: renews, or fences this server if the lease was taken.
    fn renew(&self) {
        let mut lease = locked(&self.lease);
        let Some(held) = lease.as_mut() else {
            return;
        };
        match lease::renew(
            self.remote.as_ref(),
            &self.config.node,
            held,
            self.config.lease,
        ) {
            Ok(Renewal::Renewed) => self.gate.extend(held.valid_until),
            Ok(Renewal::Lost) => {
                self.gate.fence();
                *lease = None;
                tracing::error!(
                    "another server took this chunk store's lease: this server accepts no more writes"
                );
            }
            Err(e) => tracing::warn!(error = %e, "could not renew the chunk store's lease"),
        }
    }
}

/// Hands a standby's change to the index writer and waits for its commit.
fn send(shared: &Shared, work: Follow) -> Result<()> {
    let (reply, done) = tokio::sync::oneshot::channel();
    shared
        .writer()
        .ok_or(Error::ShuttingDown)?
        .blocking_send(Request::Follow { work, reply })
        .map_err(|_| Error::ShuttingDown)?;
    done.blocking_recv().map_err(|_| Error::ShuttingDown)?
}

/// What the shipping thread is asked.
pub(crate) enum Command {
    /// Become the primary; answers where the new epoch starts.
    Promote(mpsc::Sender<Result<Position>>),
    /// Ship what is left, give the lease up, and stop.
    Stop,
}

/// The shipping thread and the lease thread.
pub(crate) struct Runner {
    pub(crate) commands: mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Runner {
    /// Asks the thread to stop, and waits for it.
    pub(crate) fn stop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts shipping (a primary) or following (a standby) for `shared`.
pub(crate) fn spawn(shared: Arc<Shared>, ship: Arc<Ship>) -> Result<Runner> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("coffer-ship".into())
        .spawn(move || run(&shared, &ship, &rx))
        .map_err(Error::io("start the index shipping thread"))?;
    Ok(Runner {
        commands: tx,
        thread: Some(thread),
    })
}

/// Renews the lease every third of its duration until `stop` says so (or is dropped).
fn spawn_lease(ship: Arc<Ship>) -> Result<(mpsc::Sender<()>, std::thread::JoinHandle<()>)> {
    let (stop, stopped) = mpsc::channel::<()>();
    let every = ship.config.lease / 3;
    let thread = std::thread::Builder::new()
        .name("coffer-lease".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                ship.renew();
                if ship.gate.is_fenced() {
                    return;
                }
            }
        })
        .map_err(Error::io("start the lease thread"))?;
    Ok((stop, thread))
}

fn run(shared: &Arc<Shared>, ship: &Arc<Ship>, commands: &mpsc::Receiver<Command>) {
    let mut lease_thread = None;
    if !ship.gate.is_standby() {
        lease_thread = spawn_lease(ship.clone())
            .inspect_err(|e| tracing::error!(error = %e, "could not start the lease thread"))
            .ok();
    }
    // The first round at once: a restore or standby can start from this epoch right away.
    let mut wait = Duration::ZERO;
    loop {
        let command = commands.recv_timeout(wait);
        wait = ship.config.interval;
        match command {
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Command::Promote(reply)) => {
                let outcome = if ship.gate.is_standby() {
                    ship.promote(shared)
                } else {
                    Err(Error::NotWriter {
                        why: "only a standby can be promoted",
                    })
                };
                if outcome.is_ok() && lease_thread.is_none() {
                    lease_thread = spawn_lease(ship.clone())
                        .inspect_err(
                            |e| tracing::error!(error = %e, "could not start the lease thread"),
                        )
                        .ok();
                }
                let _ = reply.send(outcome);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let outcome = if ship.gate.is_standby() {
            ship.follow(shared)
        } else {
            let outcome = ship
                .take_lease_if_missing()
                .and_then(|()| shared.index())
                .and_then(|index| ship.ship(&index));
            // Removals held for this shipment may be due.
            shared.wake_writer();
            outcome
        };
        let changed = ship.note_round(outcome.is_ok());
        match outcome {
            Err(e) if changed => {
                tracing::warn!(error = %e, "index shipping failed; retrying every interval");
            }
            Ok(()) if changed => tracing::info!("index shipping works again"),
            _ => {}
        }
    }
    if !ship.gate.is_standby() && !ship.gate.is_fenced() {
        if let Err(e) = shared.index().and_then(|index| ship.ship(&index)) {
            tracing::warn!(error = %e, "could not ship the last changes at stop; the next start ships a snapshot");
        }
        if let Some((stop, thread)) = lease_thread.take() {
            drop(stop);
            let _ = thread.join();
        }
        if let Some(held) = locked(&ship.lease).take() {
            lease::release(ship.remote.as_ref(), &ship.config.node, &held);
        }
    }
    if let Some((stop, thread)) = lease_thread {
        drop(stop);
        let _ = thread.join();
    }
}

/// How long a command may wait for the thread (a promotion waits a lease out).
pub(crate) fn promote_timeout(lease_for: Duration) -> Duration {
    lease_for * 3 + Duration::from_mins(1)
}
