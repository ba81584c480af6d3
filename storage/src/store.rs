//! Opening a data directory, and the [`Store`] every other crate talks to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use crate::chunks::buffers::BufferPool;
use crate::chunks::chunk_store::ChunkStore;
use crate::chunks::memory::MemoryBudget;
use crate::chunks::remote::RemoteChunkStore;
use crate::chunks::seal::SEAL_OVERHEAD;
use crate::durable::create_dir_private;
use crate::error::{Error, Result};
use crate::index::{Index, IndexAt};
use crate::inflight::{InFlight, Release};
use crate::keys::key_shares::KeyShares;
use crate::keys::keyring::{BucketKeys, Keyring, MasterKey};
use crate::records::BucketId;
use crate::writer::{self, Op, Reply, Request};

/// Default chunk size: 4 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;
/// Smallest allowed chunk size: 64 KiB.
pub const MIN_CHUNK_SIZE: usize = 64 << 10;
/// Largest allowed chunk size: 64 MiB.
pub const MAX_CHUNK_SIZE: usize = 64 << 20;
/// Default largest body kept inline in its object record: 16 KiB (see `ingest.rs`).
pub const DEFAULT_INLINE_MAX: usize = 16 << 10;
/// Largest allowed inline limit: 64 KiB. Every index page holding a record is rewritten
/// when a neighbour changes, so records stay small.
pub const MAX_INLINE: usize = 64 << 10;
/// Longest object key, in bytes (as S3).
pub const MAX_KEY_LEN: usize = 1024;
/// Largest bucket setting document, in bytes: 64 KiB. Above S3's own limits for every
/// kind (a bucket policy is at most 20 KiB), so a valid document always fits, while a
/// client cannot grow the index without bound.
pub const MAX_BUCKET_SETTING_LEN: usize = 64 << 10;

/// How hard writes try to survive a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Chunk files and their directories are fsynced before the commit, and the index
    /// commits with redb `Durability::Immediate`: an acknowledged write survives a crash.
    Immediate,
    /// No fsync per write (ephemeral mode, `--durability relaxed`): every second, one
    /// `syncfs` of the chunk tree and one durable index commit flush what was written
    /// since. A crash loses at most that second of acknowledged writes, never older ones.
    Relaxed,
}

/// Opens (creating, 0700) a data directory's index, chunk tree and key shares.
fn open_directory(
    root: &Path,
    location: IndexLocation,
    sync: bool,
    keyring: &Keyring,
) -> Result<(Index, ChunkStore, (KeyShares, KeyShares))> {
    if !root.exists() {
        std::fs::create_dir_all(root).map_err(Error::io("create data directory"))?;
        std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(Error::io("chmod data directory"))?;
    }
    let at = match location {
        IndexLocation::File => IndexAt::File(root),
        IndexLocation::Memory => IndexAt::Memory,
    };
    let index = Index::open(at, sync, keyring)?;
    let chunk_dir = root.join("chunks");
    create_dir_private(&chunk_dir, sync)?;
    let chunks = ChunkStore::new(chunk_dir, sync)?;
    let key_shares = KeyShares::open(root, sync)?;
    let kms_shares = KeyShares::open_in(root, crate::kms_shares::DIR, sync)?;
    Ok((index, chunks, (key_shares, kms_shares)))
}

/// Opens the index, chunk store and key shares of `placement`.
fn open_placement(
    placement: &Placement,
    sync: bool,
    keyring: &Keyring,
) -> Result<(Index, ChunkStore, (KeyShares, KeyShares))> {
    match placement {
        Placement::Directory { root, index } => open_directory(root, *index, sync, keyring),
        Placement::Memory { max_bytes } => open_memory(*max_bytes, keyring),
        Placement::Remote {
            root,
            index,
            chunks,
        } => {
            let (index, _, shares) = open_directory(root, *index, sync, keyring)?;
            Ok((index, ChunkStore::remote(chunks), shares))
        }
    }
}

/// Opens a store with no files: an index, chunks and key shares in memory, bounded together
/// by `max_bytes`.
fn open_memory(
    max_bytes: u64,
    keyring: &Keyring,
) -> Result<(Index, ChunkStore, (KeyShares, KeyShares))> {
    let index = Index::open(IndexAt::Memory, false, keyring)?;
    let budget = MemoryBudget::new(max_bytes, index.memory_bytes().unwrap_or_default());
    let chunks = ChunkStore::in_memory(budget);
    Ok((
        index,
        chunks,
        (KeyShares::in_memory(), KeyShares::in_memory()),
    ))
}

/// The tidying pass after open (`tidy.rs`), in the background.
fn spawn_tidy(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || match crate::tidy::run(&shared) {
        Ok(done) => {
            let took = started.elapsed();
            tracing::debug!(?done, ?took, "tidied the chunk tree after open");
        }
        Err(Error::ShuttingDown) => {}
        Err(e) => tracing::warn!(error = %e, "could not tidy the chunk tree after open"),
    })
}

/// Relaxed durability's clock: a tick to the writer every flush interval, so writes
/// acknowledged just before the server goes idle are flushed too. Ends with the writer.
async fn tick(writer: mpsc::WeakSender<Request>) {
    let mut every = tokio::time::interval(writer::RELAXED_FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(tx) = writer.upgrade() else {
            return;
        };
        if tx.send(Request::Tick).await.is_err() {
            return;
        }
    }
}

/// A reading of the index writer's counters (see [`Store::index_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Index shipping, with a remote chunk store.
    pub shipping: Option<crate::ShipStatus>,
    /// Write transactions run since the store opened (a failed batch retried one request
    /// at a time counts once).
    pub commits: u64,
    /// Requests those transactions carried.
    pub requests: u64,
}

/// The writer thread's tallies behind [`IndexStats`].
#[derive(Debug, Default)]
pub(crate) struct CommitCounts {
    commits: AtomicU64,
    requests: AtomicU64,
}

impl CommitCounts {
    /// One transaction carrying `requests`.
    pub(crate) fn note(&self, requests: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests as u64, Ordering::Relaxed);
    }
}

/// Where the index lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexLocation {
    /// `<root>/index.redb`.
    File,
    /// In memory (redb `InMemoryBackend`): gone at exit. For ephemeral mode.
    Memory,
}

/// Where a store keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A data directory, created 0700 if missing: chunks under `<root>/chunks`, key shares
    /// beside them, and the index where `index` says.
    Directory {
        /// The data directory.
        root: PathBuf,
        /// Where the index lives.
        index: IndexLocation,
    },
    /// Nothing on disk: the index, the sealed chunks and the key shares are kept in
    /// memory and gone at exit. Writes that would take sealed chunks plus the index past
    /// `max_bytes` are refused with [`Error::MemoryFull`].
    Memory {
        /// The budget, in bytes.
        max_bytes: u64,
    },
    /// A data directory for the index and key shares, as [`Placement::Directory`], with the
    /// sealed chunks in a remote object store instead of `<root>/chunks`.
    Remote {
        /// The data directory.
        root: PathBuf,
        /// Where the index lives.
        index: IndexLocation,
        /// Where the chunks go.
        chunks: RemoteChunkStore,
    },
}

impl Placement {
    /// A data directory with its index in a file (a durable server's).
    #[must_use]
    pub fn directory(root: impl Into<PathBuf>) -> Placement {
        Placement::Directory {
            root: root.into(),
            index: IndexLocation::File,
        }
    }
}

/// How to open a store.
#[derive(Debug)]
pub struct StoreConfig {
    /// Where the data lives.
    pub placement: Placement,
    /// Chunk size in bytes, [`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`]; usually
    /// [`DEFAULT_CHUNK_SIZE`].
    pub chunk_size: usize,
    /// Bodies up to this many bytes are sealed into their object's index record instead
    /// of a chunk file; 0 keeps every body in chunk files. At most [`MAX_INLINE`]; usually
    /// [`DEFAULT_INLINE_MAX`].
    pub inline_max: usize,
    /// Whether writes are fsynced (ignored in memory).
    pub durability: Durability,
    /// The master key; it never leaves the store.
    pub master_key: MasterKey,
}

impl StoreConfig {
    fn check(&self) -> Result<()> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(Error::BadConfig {
                what: "chunk_size must be 64 KiB ..= 64 MiB",
            });
        }
        if self.inline_max > MAX_INLINE {
            return Err(Error::BadConfig {
                what: "inline_max must be at most 64 KiB",
            });
        }
        Ok(())
    }
}

/// State shared by the store, its writer thread, object writers and readers.
pub(crate) struct Shared {
    /// `None` once shut down.
    index: RwLock<Option<Arc<Index>>>,
    pub(crate) chunks: ChunkStore,
    pub(crate) keyring: Keyring,
    /// Bucket key shares: deleting one shreds its bucket (see `keys/key_shares.rs`).
    pub(crate) shares: KeyShares,
    /// KMS key shares: deleting one shreds its KMS key (see `kms_shares.rs`).
    pub(crate) kms_shares: KeyShares,
    key_cache: Mutex<HashMap<BucketId, Arc<BucketKeys>>>,
    pub(crate) inflight: InFlight,
    /// Removals held back while a backup copies a snapshot (see `backup/pin.rs`).
    pub(crate) pins: crate::backup::Pins,
    /// The data directory, for `backup`; `None` in memory.
    pub(crate) root: Option<PathBuf>,
    releases: Mutex<Vec<Release>>,
    wake: mpsc::WeakSender<Request>,
    pub(crate) chunk_size: usize,
    pub(crate) inline_max: usize,
    /// How many requests each index commit carried (group commit), for metrics.
    pub(crate) commits: CommitCounts,
    /// Chunk-sized buffers for uploads and downloads (see `chunks/buffers.rs`).
    pub(crate) buffers: Arc<BufferPool>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// Set at shutdown, so background passes (`tidy.rs`) stop and let the index close.
    pub(crate) stopping: AtomicBool,
    /// Index shipping, with a remote chunk store (`ship/`).
    pub(crate) ship: Option<Arc<crate::ship::Ship>>,
}

impl Shared {
    /// The open index.
    pub(crate) fn index(&self) -> Result<Arc<Index>> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(Error::ShuttingDown)
    }

    /// Runs a read against a fresh snapshot, off the reactor.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::index::Snapshot) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let index = self.index()?;
        tokio::task::spawn_blocking(move || f(&index.snapshot()?))
            .await
            .map_err(Error::join)?
    }

    /// A bucket's working keys, from the cache or unwrapped from the index.
    pub(crate) async fn bucket_keys(
        self: &Arc<Self>,
        bucket: &BucketId,
    ) -> Result<Arc<BucketKeys>> {
        if let Some(keys) = self.cached_keys(bucket) {
            return Ok(keys);
        }
        let id = *bucket;
        let shared = self.clone();
        let (wrapped, share) = self
            .read(move |s| {
                s.bucket_key(&id)?
                    .map(|wrapped| Ok((wrapped, shared.shares.load(&id)?)))
                    .transpose()
            })
            .await?
            .ok_or(Error::NoSuchBucket)?;
        let keys = Arc::new(
            self.keyring
                .open_bucket_key_with_share(bucket, &wrapped, &share)?,
        );
        self.cache_keys(*bucket, keys.clone());
        Ok(keys)
    }

    fn cached_keys(&self, bucket: &BucketId) -> Option<Arc<BucketKeys>> {
        self.key_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    fn cache_keys(&self, bucket: BucketId, keys: Arc<BucketKeys>) {
        self.key_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(bucket, keys);
    }

    /// Drops a deleted bucket's keys (they zeroize once the last user lets go).
    pub(crate) fn forget_bucket_keys(&self, bucket: &BucketId) {
        self.key_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
    }

    /// Queues a release for the writer thread and wakes it. Never blocks: this runs in
    /// `Drop`, possibly on the reactor or on the writer thread itself.
    pub(crate) fn release(&self, release: Release) {
        self.releases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(release);
        self.wake_writer();
    }

    /// Wakes the writer thread so it handles releases and due removals. Never blocks.
    pub(crate) fn wake_writer(&self) {
        if let Some(tx) = self.wake.upgrade() {
            // Full queue: the writer is busy and will look at releases after the batch.
            let _ = tx.try_send(Request::Wake);
        }
    }

    /// A sender to the writer thread, while it runs.
    pub(crate) fn writer(&self) -> Option<mpsc::Sender<Request>> {
        self.wake.upgrade()
    }

    pub(crate) fn take_releases(&self) -> Vec<Release> {
        std::mem::take(&mut *self.releases.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// An open data directory. Cheap to clone; all clones share one index writer.
///
/// # Design
///
/// Reads run on redb read transactions in `spawn_blocking`. Writes go to one thread that
/// owns redb write transactions and group-commits whatever is queued (see
/// `writer.rs`). Object bodies never pass through that thread: an
/// [`ObjectWriter`](crate::ObjectWriter) seals and writes chunk files itself, and the
/// commit only records them. Call [`Store::shutdown`] before dropping the last clone, so
/// the index is closed (and can be reopened) when it returns.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The tidying pass after open (`tidy.rs`), until awaited.
    tidy: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The index shipping thread, with a remote chunk store.
    ship: Mutex<Option<crate::ship::Runner>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a data directory: creates directories (0700), opens or creates the index,
    /// checks the master key against the key-check record, removes stray key shares, and
    /// starts the index writer thread. What a crash left in the chunk tree (temp files,
    /// uncommitted chunks) is removed by a pass in the background (`tidy.rs`; see
    /// [`Store::tidied`]): opening never walks the chunk tree.
    ///
    /// # Errors
    /// `Error::WrongMasterKey` (nothing changed on disk), `Error::BadConfig` for a chunk
    /// size out of range, `Error::Io`/`Error::Index` if the directory or index cannot be
    /// opened.
    pub async fn open(cfg: StoreConfig) -> Result<Store> {
        Store::open_with(cfg, true).await
    }

    /// Opens a data directory as [`Store::open`] does but removes nothing, so that `fsck`
    /// sees (and reports) what a crash or a fault left: unreferenced chunk files, stray key
    /// shares.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_unswept(cfg: StoreConfig) -> Result<Store> {
        Store::open_with(cfg, false).await
    }

    async fn open_with(cfg: StoreConfig, sweep: bool) -> Result<Store> {
        cfg.check()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| Error::Io {
            action: "find the tokio runtime",
            source: std::io::Error::other(e),
        })?;
        let StoreConfig {
            placement,
            chunk_size,
            inline_max,
            durability,
            master_key,
        } = cfg;
        let durability = match placement {
            Placement::Memory { .. } => Durability::Relaxed,
            Placement::Directory { .. } | Placement::Remote { .. } => durability,
        };
        let sync = durability == Durability::Immediate;
        let (placement, shipping) = crate::ship::gate_placement(placement);
        // A standby removes nothing: what its index does not name yet may be the primary's.
        let sweep = sweep
            && !shipping
                .as_ref()
                .is_some_and(|(s, _, _)| s.role == crate::ship::Role::Standby);
        let location = placement.clone();
        let (index, chunks, keyring, key_shares, ship) = tokio::task::spawn_blocking(move || {
            let keyring = Keyring::new(&master_key);
            drop(master_key);
            let (index, chunks, shares) = open_placement(&placement, sync, &keyring)?;
            let ship = crate::ship::open_for(shipping, &placement, &index, &keyring)?;
            if sweep {
                let live: std::collections::HashSet<BucketId> = index
                    .snapshot()?
                    .buckets()?
                    .into_iter()
                    .map(|(_, b)| b.id)
                    .collect();
                shares.0.sweep(|b| live.contains(b))?;
            }
            Ok::<_, Error>((Arc::new(index), chunks, keyring, shares, ship))
        })
        .await
        .map_err(Error::join)??;

        let (tx, rx) = mpsc::channel(writer::QUEUE_DEPTH);
        let shared = Arc::new(Shared {
            index: RwLock::new(Some(index.clone())),
            chunks,
            keyring,
            shares: key_shares.0,
            kms_shares: key_shares.1,
            key_cache: Mutex::new(HashMap::new()),
            inflight: InFlight::default(),
            pins: crate::backup::Pins::default(),
            root: match &location {
                Placement::Directory { root, .. } | Placement::Remote { root, .. } => {
                    Some(root.clone())
                }
                Placement::Memory { .. } => None,
            },
            releases: Mutex::new(Vec::new()),
            wake: tx.downgrade(),
            chunk_size,
            inline_max,
            commits: CommitCounts::default(),
            buffers: BufferPool::new(chunk_size + SEAL_OVERHEAD),
            runtime,
            stopping: AtomicBool::new(false),
            ship: ship.clone(),
        });
        if durability == Durability::Relaxed {
            shared.runtime.spawn(tick(tx.downgrade()));
        }
        let thread = writer::spawn(shared.clone(), index, rx)?;
        let ship = ship
            .map(|ship| crate::ship::spawn(shared.clone(), ship))
            .transpose()?;
        let tidy = sweep.then(|| spawn_tidy(shared.clone()));
        tracing::debug!(
            chunk_size,
            ?durability,
            memory = matches!(location, Placement::Memory { .. }),
            "storage opened"
        );
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                tx,
                thread: Mutex::new(Some(thread)),
                tidy: Mutex::new(tidy),
                ship: Mutex::new(ship),
            }),
        })
    }

    /// Stops the writer after draining queued commits, and closes the index. Idempotent.
    /// Later calls fail with `Error::ShuttingDown`.
    pub async fn shutdown(&self) {
        self.inner.shared.stopping.store(true, Ordering::Relaxed);
        self.tidied().await;
        let _ = self.inner.tx.send(Request::Shutdown).await;
        let thread = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        // After the writer: the last commits are shipped, then the lease is given up.
        let ship = self
            .inner
            .ship
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut ship) = ship {
            let _ = tokio::task::spawn_blocking(move || ship.stop()).await;
        }
        *self
            .inner
            .shared
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Waits for the tidying pass that follows open (`tidy.rs`) to finish and the writer
    /// thread to remove the unreferenced chunk files it found. Serving does not need to
    /// wait for this; tests and tools do.
    pub async fn tidied(&self) {
        let tidy = self
            .inner
            .tidy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(tidy) = tidy {
            let _ = tidy.await;
        }
        let (reply, done) = oneshot::channel();
        if self.inner.tx.send(Request::Barrier(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Makes this standby the primary (`coffer promote`): it takes the chunk store's lease,
    /// waits for the old primary's to run out while still following it, and then accepts
    /// writes. Returns where its own shipped stream starts.
    ///
    /// # Errors
    /// `Error::NotWriter` if this store is not a standby; `Error::Remote`,
    /// `Error::LeaseHeld` if the promotion could not complete.
    pub async fn promote(&self) -> Result<crate::Position> {
        let commands = self
            .inner
            .ship
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|runner| runner.commands.clone())
            .ok_or(Error::NotWriter {
                why: "it does not ship its index (no remote chunk store)",
            })?;
        let lease_for = self
            .inner
            .shared
            .ship
            .as_ref()
            .map_or(std::time::Duration::ZERO, |s| s.config.lease);
        tokio::task::spawn_blocking(move || {
            let (reply, answer) = std::sync::mpsc::channel();
            commands
                .send(crate::ship::Command::Promote(reply))
                .map_err(|_| Error::ShuttingDown)?;
            answer
                .recv_timeout(crate::ship::promote_timeout(lease_for))
                .map_err(|_| Error::ShuttingDown)?
        })
        .await
        .map_err(Error::join)?
    }

    /// How index shipping stands; `None` without it.
    #[must_use]
    pub fn shipping(&self) -> Option<crate::ShipStatus> {
        Some(self.inner.shared.ship.as_ref()?.status())
    }

    /// Refused unless this store may write now (a standby, a fenced primary or a lapsed
    /// lease may not): lets a server refuse a write before it reads the body.
    ///
    /// # Errors
    /// `Error::NotWriter`.
    pub fn check_writable(&self) -> Result<()> {
        match self.inner.shared.ship.as_ref() {
            Some(ship) => ship.gate.check(),
            None => Ok(()),
        }
    }

    /// Whether the sealed chunks can be reached now: always for a data directory or memory;
    /// with a remote chunk store, whether it answers a short probe. For readiness probes.
    pub async fn chunks_reachable(&self) -> bool {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || shared.chunks.reachable())
            .await
            .unwrap_or(false)
    }

    /// Whether writes can still commit: the index is open and its writer thread is running
    /// (it stops at [`Store::shutdown`], or if it died). A cheap check for readiness probes.
    pub fn is_open(&self) -> bool {
        !self.inner.tx.is_closed()
            && self
                .inner
                .shared
                .index
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
    }

    /// What the chunk tree holds (files and sealed bytes) and how many chunk writes were
    /// saved by deduplication since the store opened. Kept current by the writers and
    /// counted once by the tidying pass after open: reading it costs nothing.
    pub fn chunk_stats(&self) -> crate::ChunkStats {
        self.inner.shared.chunks.stats()
    }

    /// How the index writer's group commit batches requests: commits since open, and the
    /// requests they carried (their ratio is the mean batch size).
    pub fn index_stats(&self) -> IndexStats {
        let c = &self.inner.shared.commits;
        IndexStats {
            commits: c.commits.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            shipping: self.shipping(),
        }
    }

    /// Sends an operation to the writer thread and waits for its commit.
    /// A change waits for the request's [`crate::CommitGate`] first (a barrier changes
    /// nothing and does not).
    pub(crate) async fn submit(&self, op: Op) -> Result<Reply> {
        if !matches!(op, Op::Barrier) {
            crate::commit_gate::pass().await?;
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Request::Op { op, reply })
            .await
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Waits until every write queued before this call is committed, and chunk files
    /// released by dropped writers are removed.
    ///
    /// # Errors
    /// `Error::ShuttingDown`.
    pub async fn flush(&self) -> Result<()> {
        self.submit(Op::Barrier).await.map(|_| ())
    }

    /// Reads a record sealed with [`Store::put_sealed`].
    ///
    /// # Errors
    /// `Error::Corrupt` if the stored record does not open; index errors.
    pub async fn get_sealed(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let owned = name.to_owned();
        let sealed = self.inner.shared.read(move |s| s.sealed(&owned)).await?;
        sealed
            .map(|sealed| self.inner.shared.keyring.open_record(name, &sealed))
            .transpose()
    }

    /// Seals `value` for a client to send back later (a listing's continuation token):
    /// AES-256-GCM-SIV with a random nonce under a key derived from the master key for
    /// tokens alone, with `scope` as associated data. The client learns nothing of `value`
    /// and cannot alter or forge a token; it opens only under the same `scope`, and no
    /// longer once the master key is rotated. Cheap (microseconds for short values): fine
    /// on the reactor.
    ///
    /// # Errors
    /// `Error::Io` if the OS has no randomness to give.
    pub fn seal_token(&self, scope: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        self.inner.shared.keyring.seal_token(scope, value)
    }

    /// Opens a token made by [`Store::seal_token`] under the same `scope`; `None` for
    /// anything else: altered, forged, from another scope or from before a master key
    /// rotation. A client's bad token is its mistake, so it is no storage error.
    #[must_use]
    pub fn open_token(&self, scope: &[u8], token: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.inner.shared.keyring.open_token(scope, token)
    }

    /// Stores a value sealed with a key derived from the master key; `name` is associated
    /// data, so a record cannot be moved to another name. For other crates' secrets (auth's
    /// credential table).
    ///
    /// # Errors
    /// Index errors; `Error::ShuttingDown`.
    pub async fn put_sealed(&self, name: &str, value: Zeroizing<Vec<u8>>) -> Result<()> {
        let sealed = self.inner.shared.keyring.seal_record(name, &value)?;
        drop(value);
        self.submit(Op::PutSealed {
            name: name.to_owned(),
            sealed,
        })
        .await
        .map(|_| ())
    }
}
