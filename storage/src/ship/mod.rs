//! Index shipping: the index of a store whose chunks are remote is shipped beside them, so
//! another machine can restore it, follow it as a standby, and take over.
//!
//! # What is shipped (`layout.rs`)
//!
//! Every write batch journals the keys it puts and removes (`index/journal.rs`). The
//! primary ships, every `interval` (or after each commit, before acknowledging it, with
//! `each_commit`), the changes of the commits since as one sealed log segment, and now and
//! then a sealed snapshot of the whole index, after which older segments go. Segments and
//! snapshots are sealed with AES-256-GCM-SIV under a key derived from the index key, with
//! their remote name as associated data: the remote sees sizes and timing, never a key,
//! name or record, and cannot swap or reorder them. The key files (`files.rs`) are shipped
//! as they are on disk.
//!
//! # Who writes (`lease.rs`, `gate.rs`)
//!
//! One server writes a deployment: the holder of the lease object. Each time a server
//! takes it (at start, or by promotion) it gets a new epoch and ships that epoch's
//! snapshot 0 first; restoring takes the newest epoch that has a snapshot, then its logs in
//! order up to the first gap. A standby follows the same way, every `interval`.
//!
//! # Nothing shipped names a missing chunk
//!
//! A chunk whose last reference a commit drops is removed from the remote only once the
//! log holding that commit is shipped, and a grace period later (so a standby that has not
//! applied it yet still reads the old object). A restore from any shipped state therefore
//! finds every chunk it references.

mod files;
mod gate;
mod layout;
mod lease;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

pub(crate) use gate::{Gate, Gated, Refused};
pub(crate) use stream::{Command, Runner, Stream, promote_timeout, spawn};

use crate::chunks::chunk_id::ChunkId;
use crate::chunks::remote::RemoteChunks;
use crate::error::{Error, Result};
use crate::index::Change;
use crate::keys::keyring::{Keyring, cipher_from};
use crate::records::BucketId;

/// How a store with a remote chunk store ships its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipping {
    /// How often the changes since the last shipment are shipped (and a standby looks).
    pub interval: Duration,
    /// Ship each commit before acknowledging it (a primary).
    pub each_commit: bool,
    /// Whether this server writes, or follows another.
    pub role: Role,
    /// This data directory's id: the lease holder's name.
    pub node: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
}

/// Whether a store writes its deployment or follows the server that does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes the lease and ships its index.
    Primary,
    /// Follows the shipped index and serves reads; [`crate::Store::promote`] makes it the
    /// primary.
    Standby,
}

/// Where a shipped index stands: the epoch (one per lease taken) and the last log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Position {
    /// The epoch.
    pub epoch: u64,
    /// The last log shipped (primary) or applied (standby); 0: the epoch's snapshot.
    pub seq: u64,
}

/// How index shipping stands (see [`crate::Store::shipping`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShipStatus {
    /// Whether this store writes (and ships) or follows.
    pub role: Role,
    /// The last log shipped (primary) or applied (standby).
    pub position: Position,
    /// Whether the last round failed (the remote is down or refused).
    pub failing: bool,
    /// Whether another server took the lease from this one: it writes nothing, ever.
    pub fenced: bool,
}

/// What [`restore_index`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Where the restored index stands.
    pub position: Position,
    /// The snapshot's size, sealed.
    pub snapshot_bytes: u64,
    /// Log segments applied after it.
    pub logs: u64,
    /// Changes those held.
    pub changes: u64,
}

/// The prefix of every remote name the shipped index uses.
pub(crate) const SHIPPED_PREFIX: &str = layout::ROOT;

/// Label of everything sealed under the ship key.
const LABEL: &[u8] = b"coffer shipped index\0";
const CONTEXT_SHIP: &str = "coffer 2026-12 shipped index";
/// The segment payload's format.
const SEGMENT_VERSION: u8 = 1;

/// Seals and opens shipped segments and snapshots.
pub(crate) struct ShipKey(aes_gcm_siv::Aes256GcmSiv);

impl ShipKey {
    pub(crate) fn new(index_key: &[u8; 32]) -> ShipKey {
        ShipKey(cipher_from(&Zeroizing::new(blake3::derive_key(
            CONTEXT_SHIP,
            index_key,
        ))))
    }

    fn seal(&self, name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
        crate::keys::keyring::wrap(&self.0, LABEL, &layout::seal_id(name), bytes)
    }

    fn open(&self, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        crate::keys::keyring::unwrap(&self.0, LABEL, &layout::seal_id(name), sealed).map_err(|_| {
            Error::Corrupt {
                what: "shipped index (altered, or sealed under another index key)",
            }
        })
    }
}

fn encode_segment(changes: &[Change]) -> Result<Vec<u8>> {
    let mut out = vec![SEGMENT_VERSION];
    out.extend(postcard::to_allocvec(changes).map_err(|_| Error::Corrupt {
        what: "index change",
    })?);
    Ok(out)
}

fn decode_segment(bytes: &[u8]) -> Result<Vec<Change>> {
    match bytes.split_first() {
        Some((&SEGMENT_VERSION, body)) => postcard::from_bytes(body).map_err(|_| Error::Corrupt {
            what: "shipped log segment",
        }),
        _ => Err(Error::Corrupt {
            what: "shipped log segment (unknown format)",
        }),
    }
}

/// A removal held back until the commit that decided it is shipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Removal {
    Chunk(BucketId, ChunkId),
    Bucket(BucketId),
}

#[derive(Debug)]
struct Deferred {
    commit: u64,
    at: Instant,
    what: Removal,
}

/// Changes committed and not yet shipped.
#[derive(Debug, Default)]
struct Pending {
    changes: Vec<Change>,
    /// Commits noted so far (the number of the last one).
    commits: u64,
}

/// The shipping state of a store (`Shared::ship`).
pub(crate) struct Ship {
    pub(crate) config: Shipping,
    /// The remote, ungated: the index names are this module's own.
    pub(crate) remote: Arc<dyn RemoteChunks>,
    pub(crate) gate: Arc<Gate>,
    root: PathBuf,
    key: ShipKey,
    index_key: Zeroizing<[u8; 32]>,
    pending: Mutex<Pending>,
    stream: Mutex<Stream>,
    held: Mutex<Vec<Deferred>>,
    lease: Mutex<Option<lease::Held>>,
    /// The last shipping or following round failed.
    failing: std::sync::atomic::AtomicBool,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ship {
    /// Sets shipping up for the store in `root`: a primary takes the lease (waiting for
    /// another holder's to lapse), a standby starts at `position`.
    ///
    /// # Errors
    /// `Error::LeaseHeld`, `Error::Remote`, `Error::Corrupt` (no key file).
    pub(crate) fn open(
        config: Shipping,
        remote: Arc<dyn RemoteChunks>,
        gate: Arc<Gate>,
        root: &Path,
        keyring: &Keyring,
        position: Option<(u64, u64)>,
    ) -> Result<Ship> {
        let index_key = crate::keys::key_file::load(root, keyring)?.ok_or(Error::Corrupt {
            what: "data directory: no key file",
        })?;
        let mut stream = Stream::default();
        let mut held = None;
        match config.role {
            Role::Primary => {
                match lease::take(
                    remote.as_ref(),
                    &config.node,
                    config.lease,
                    lease::Take::WhenFree,
                ) {
                    Ok(lease) => {
                        gate.make_primary(lease.valid_until);
                        stream.start_epoch(lease.epoch);
                        tracing::info!(epoch = lease.epoch, "took the chunk store's lease");
                        held = Some(lease);
                    }
                    // The remote is down: start anyway, serving what can be read, and
                    // take the lease (then accept writes) once it answers.
                    Err(e @ Error::Remote { .. }) => {
                        tracing::warn!(error = %e, "could not take the chunk store's lease; writes wait until the remote answers");
                        gate.make_primary(std::time::Instant::now());
                    }
                    Err(e) => return Err(e),
                }
            }
            Role::Standby => {
                let (epoch, seq) = position.ok_or(Error::Restore {
                    what: "this data directory was not restored from a shipped index",
                })?;
                stream.follow_from(epoch, seq);
            }
        }
        Ok(Ship {
            key: ShipKey::new(&index_key),
            index_key,
            config,
            remote,
            gate,
            root: root.to_path_buf(),
            pending: Mutex::new(Pending::default()),
            stream: Mutex::new(stream),
            held: Mutex::new(Vec::new()),
            lease: Mutex::new(held),
            failing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A primary that started without its lease (the remote was down) takes it now.
    ///
    /// # Errors
    /// `Error::Remote` (tried again next round), `Error::LeaseHeld` (another server took
    /// it meanwhile: this one is fenced).
    pub(crate) fn take_lease_if_missing(&self) -> Result<()> {
        if self.gate.is_standby() || self.gate.is_fenced() || locked(&self.lease).is_some() {
            return Ok(());
        }
        match lease::take(
            self.remote.as_ref(),
            &self.config.node,
            self.config.lease,
            lease::Take::WhenFree,
        ) {
            Ok(held) => {
                locked(&self.stream).start_epoch(held.epoch);
                self.gate.extend(held.valid_until);
                tracing::info!(epoch = held.epoch, "took the chunk store's lease");
                *locked(&self.lease) = Some(held);
                Ok(())
            }
            Err(e @ Error::LeaseHeld { .. }) => {
                self.gate.fence();
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the index changes of a commit must be journaled (this server writes).
    pub(crate) fn journals(&self) -> bool {
        !self.gate.is_standby()
    }

    /// Notes a commit's changes for the next shipment; returns the commit's number.
    pub(crate) fn note_commit(&self, changes: Vec<Change>) -> u64 {
        let mut pending = locked(&self.pending);
        pending.commits += 1;
        pending.changes.extend(changes);
        pending.commits
    }

    /// Holds a removal back until commit `commit` is shipped.
    pub(crate) fn defer(&self, commit: u64, what: Removal) {
        locked(&self.held).push(Deferred {
            commit,
            at: Instant::now(),
            what,
        });
    }

    /// How long a removal waits after it is shipped: a standby applies what is shipped
    /// within about one interval.
    fn grace(&self) -> Duration {
        self.config.interval * 3
    }

    /// The removals whose commit is shipped and whose grace has passed. None while fenced:
    /// the new primary's index may name those chunks again.
    pub(crate) fn take_due(&self) -> Vec<Removal> {
        if self.gate.is_fenced() {
            return Vec::new();
        }
        let shipped = locked(&self.stream).shipped_commit();
        let grace = self.grace();
        let mut held = locked(&self.held);
        let mut due = Vec::new();
        held.retain(|d| {
            let ready = d.commit <= shipped && d.at.elapsed() >= grace;
            if ready {
                due.push(d.what);
            }
            !ready
        });
        due
    }

    /// Waits until this epoch's first snapshot is shipped (a primary), or `stopping`.
    ///
    /// # Errors
    /// `Error::ShuttingDown` if `stopping` is set first.
    pub(crate) fn wait_shipped(&self, stopping: &std::sync::atomic::AtomicBool) -> Result<()> {
        while !self.gate.is_standby() && !locked(&self.stream).is_based() {
            if stopping.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Error::ShuttingDown);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Where the shipped stream stands.
    pub(crate) fn position(&self) -> Position {
        locked(&self.stream).position()
    }

    /// Notes whether the last round worked; whether that changed.
    pub(crate) fn note_round(&self, ok: bool) -> bool {
        self.failing.swap(!ok, std::sync::atomic::Ordering::Relaxed) == ok
    }

    /// How shipping stands.
    pub(crate) fn status(&self) -> ShipStatus {
        ShipStatus {
            role: if self.gate.is_standby() {
                Role::Standby
            } else {
                Role::Primary
            },
            position: self.position(),
            failing: self.failing.load(std::sync::atomic::Ordering::Relaxed),
            fenced: self.gate.is_fenced(),
        }
    }
}

/// What [`Ship::open`] needs: the settings, the remote ungated, and the gate.
pub(crate) type Setup = (Shipping, Arc<dyn RemoteChunks>, Arc<Gate>);

/// Opens shipping for a store just opened at `placement` (see [`Ship::open`]), and
/// turns the index's journal on if this store writes.
pub(crate) fn open_for(
    setup: Option<Setup>,
    placement: &crate::Placement,
    index: &crate::index::Index,
    keyring: &Keyring,
) -> Result<Option<Arc<Ship>>> {
    let (Some((config, remote, gate)), crate::Placement::Remote { root, .. }) = (setup, placement)
    else {
        return Ok(None);
    };
    let position = index.snapshot()?.ship_position()?;
    let ship = Ship::open(config, remote, gate, root, keyring, position)?;
    index.set_journaled(ship.journals());
    Ok(Some(Arc::new(ship)))
}

/// The shipping set-up of `placement`, if it ships: its chunk store then writes through a
/// gate (`gate.rs`), and shipping gets the ungated remote and the gate.
pub(crate) fn gate_placement(placement: crate::Placement) -> (crate::Placement, Option<Setup>) {
    match placement {
        crate::Placement::Remote {
            root,
            index,
            chunks,
        } if chunks.ship.is_some() => {
            let gate = Arc::new(Gate::standby());
            let raw = chunks.remote.clone();
            let shipping = chunks.ship.clone().map(|s| (s, raw.clone(), gate.clone()));
            let gated: Arc<dyn RemoteChunks> = Arc::new(Gated { inner: raw, gate });
            (
                crate::Placement::Remote {
                    root,
                    index,
                    chunks: crate::RemoteChunkStore {
                        remote: gated,
                        ..chunks
                    },
                },
                shipping,
            )
        }
        other => (other, None),
    }
}

/// Fetches the key files shipped under `remote` into `root`: a restore's first step, which
/// needs no key (`unlockers` must be there before anything can be unlocked).
///
/// # Errors
/// `Error::Remote`, `Error::Io`.
pub fn fetch_shipped_files(remote: &dyn RemoteChunks, root: &Path) -> Result<usize> {
    files::fetch(remote, root, false)
}

/// Rebuilds `root/index.redb` from the newest shipped snapshot and the logs after it. The
/// key files must be in `root` already ([`fetch_shipped_files`]); `master_key` opens them.
///
/// # Errors
/// `Error::Restore` (nothing shipped, an index exists), `Error::WrongMasterKey`,
/// `Error::Remote`, `Error::Corrupt`, `Error::Io`, `Error::Index`.
pub fn restore_index(
    remote: &dyn RemoteChunks,
    root: &Path,
    master_key: &crate::MasterKey,
) -> Result<RestoreReport> {
    let keyring = Keyring::new(master_key);
    let index_key = crate::keys::key_file::load(root, &keyring)?.ok_or(Error::Restore {
        what: "no key file was shipped",
    })?;
    let index_path = root.join(crate::index::sealed_file::INDEX_FILE);
    if index_path.exists() {
        return Err(Error::Restore {
            what: "the data directory has an index already",
        });
    }
    let key = ShipKey::new(&index_key);
    let listing = remote
        .list(layout::ROOT)
        .map_err(Error::remote("list the shipped index"))?;
    let plan = layout::plan(&layout::epochs(&listing)).ok_or(Error::Restore {
        what: "no index was shipped there",
    })?;
    let (sealed_len, snapshot) = stream::fetch_snapshot(remote, &key, plan.epoch, plan.snapshot)?;
    crate::write_private_file(&index_path, &snapshot).map_err(Error::io("write restored index"))?;
    drop(snapshot);
    let index = crate::index::Index::open(crate::index::IndexAt::File(root), true, &keyring)?;
    let mut report = RestoreReport {
        position: Position {
            epoch: plan.epoch,
            seq: plan.snapshot,
        },
        snapshot_bytes: sealed_len,
        ..RestoreReport::default()
    };
    for group in plan.logs.chunks(stream::LOGS_PER_APPLY) {
        let mut changes = Vec::new();
        for seq in group {
            changes.extend(stream::fetch_log(remote, &key, plan.epoch, *seq)?);
        }
        let last = *group.last().unwrap_or(&plan.snapshot);
        let mut batch = index.batch(true)?;
        batch.replay(&changes)?;
        batch.set_ship_position(plan.epoch, last)?;
        batch.commit()?;
        report.logs += group.len() as u64;
        report.changes += changes.len() as u64;
        report.position.seq = last;
    }
    if plan.logs.is_empty() {
        let mut batch = index.batch(true)?;
        batch.set_ship_position(plan.epoch, plan.snapshot)?;
        batch.commit()?;
    }
    Ok(report)
}
