//! Where sealed chunks are kept: the content-addressed tree of chunk files, or memory.
//!
//! Layout on disk: `<root>/chunks/<bucket id hex>/<first id byte hex>/<id hex>`. A chunk is
//! written through `durable::replace_file` from a randomly named temporary file in its final
//! directory (files 0600, directories 0700). Nothing here knows object keys or bucket
//! names: paths hold only random bucket ids and keyed hashes.
//!
//! In memory (`coffer serve --in-memory`, see [`super::memory`]) the same sealed bytes are
//! kept under the same (bucket id, chunk id) keys, and in a remote object store (see
//! [`super::remote`]) under names made of the same two: everything above this module runs
//! the same code each way.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::chunks::chunk_id::ChunkId;
use crate::chunks::faults::{Faults, Site};
use crate::chunks::memory::{MemoryBudget, MemoryChunks};
use crate::chunks::remote::{self, ChunkCache, RemoteChunkStore, RemoteChunks};
use crate::durable::{create_dir_private, fsync_dir, replace_file_checked};
use crate::error::{Error, Result};
use crate::records::BucketId;

const TEMP_PREFIX: &str = ".tmp-";

/// What the chunk tree holds and how writes went, counted as they happen (and from the
/// tidying pass after open), so that reading it never walks the tree.
#[derive(Debug, Default)]
struct Tally {
    files: AtomicU64,
    bytes: AtomicU64,
    stored: AtomicU64,
    deduplicated: AtomicU64,
}

/// A reading of the chunk tree's counters (see [`crate::Store::chunk_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkStats {
    /// Chunk files on disk.
    pub files: u64,
    /// Their size (sealed bytes).
    pub bytes: u64,
    /// Chunks written since the store opened.
    pub stored: u64,
    /// Chunks not written since the store opened because an identical one was on disk.
    pub deduplicated: u64,
}

/// Subtracts without wrapping (a file counted twice by concurrent identical writes must not
/// turn the count into 2^64).
fn take_away(counter: &AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}

/// The chunk files of one data directory.
#[derive(Debug)]
struct Tree {
    dir: PathBuf,
    sync: bool,
    /// Random per open, in every temp file's name: temp files without it are leftovers of
    /// an earlier run and safe to remove while this one writes.
    run: String,
}

/// Where the chunks are.
#[derive(Debug)]
enum Backend {
    Files(Tree),
    Memory(MemoryChunks),
    Remote(Remote),
}

/// A remote object store, and the recently used chunks kept from it.
#[derive(Debug)]
struct Remote {
    store: std::sync::Arc<dyn RemoteChunks>,
    cache: ChunkCache,
    breaker: remote::Breaker,
}

/// The sealed chunks of one store.
#[derive(Debug)]
pub(crate) struct ChunkStore {
    backend: Backend,
    tally: Tally,
    /// Failures injected by tests (`faults.rs`); unarmed otherwise.
    pub(crate) faults: Faults,
}

impl ChunkStore {
    /// The tree under `dir` (`<root>/chunks`, already created). `sync` fsyncs every write.
    ///
    /// # Errors
    /// `Error::Io` if the system's random source fails.
    pub(crate) fn new(dir: PathBuf, sync: bool) -> Result<ChunkStore> {
        let run = hex::encode(crate::keys::keyring::random_bytes::<4>()?);
        Ok(ChunkStore::with(Backend::Files(Tree { dir, sync, run })))
    }

    /// Chunks in memory, refused past `budget` (see [`MemoryBudget`]).
    pub(crate) fn in_memory(budget: MemoryBudget) -> ChunkStore {
        ChunkStore::with(Backend::Memory(MemoryChunks::new(budget)))
    }

    /// Chunks in a remote object store, with a cache of recent ones in memory.
    pub(crate) fn remote(config: &RemoteChunkStore) -> ChunkStore {
        ChunkStore::with(Backend::Remote(Remote {
            store: std::sync::Arc::clone(&config.remote),
            cache: ChunkCache::new(config.cache_bytes),
            breaker: remote::Breaker::default(),
        }))
    }

    fn with(backend: Backend) -> ChunkStore {
        ChunkStore {
            backend,
            tally: Tally::default(),
            faults: Faults::default(),
        }
    }

    /// The file tree, for what only files have (paths, temp files).
    fn tree(&self) -> Option<&Tree> {
        match &self.backend {
            Backend::Files(tree) => Some(tree),
            Backend::Memory(_) | Backend::Remote(_) => None,
        }
    }

    /// Makes every chunk written so far durable, with one `syncfs` (relaxed durability
    /// flushes this way before it makes an index commit durable). Nothing to do in memory,
    /// nor for a remote (a chunk it acknowledged is durable there).
    pub(crate) fn sync_all(&self) -> Result<()> {
        match self.tree() {
            Some(tree) => crate::durable::sync_file_system(&tree.dir),
            None => Ok(()),
        }
    }

    /// Refuses a write of `more` bytes that would take an in-memory store past its budget
    /// (`Error::MemoryFull`); a store on disk always has room here (a full disk fails the
    /// write itself).
    pub(crate) fn check_room(&self, more: u64) -> Result<()> {
        match &self.backend {
            Backend::Memory(memory) => {
                memory.check_room(self.tally.bytes.load(Ordering::Relaxed), more)
            }
            Backend::Files(_) | Backend::Remote(_) => Ok(()),
        }
    }

    /// Whether the chunks can be reached now: always on disk and in memory; for a remote,
    /// whether it answers a probe.
    pub(crate) fn reachable(&self) -> bool {
        match &self.backend {
            Backend::Remote(remote) => remote.store.probe().is_ok(),
            Backend::Files(_) | Backend::Memory(_) => true,
        }
    }

    /// The counters. Two writers storing the same new chunk at once may count it twice
    /// (both find it missing); the next open counts afresh.
    pub(crate) fn stats(&self) -> ChunkStats {
        let t = &self.tally;
        ChunkStats {
            files: t.files.load(Ordering::Relaxed),
            bytes: t.bytes.load(Ordering::Relaxed),
            stored: t.stored.load(Ordering::Relaxed),
            deduplicated: t.deduplicated.load(Ordering::Relaxed),
        }
    }

    /// Counts a chunk not written because its file was there.
    pub(crate) fn note_deduplicated(&self) {
        self.tally.deduplicated.fetch_add(1, Ordering::Relaxed);
    }

    /// A chunk file's path; `None` in memory. For tests that damage files on purpose.
    #[cfg(test)]
    pub(crate) fn path(&self, bucket: &BucketId, id: &ChunkId) -> PathBuf {
        self.tree().expect("a chunk tree on disk").path(bucket, id)
    }

    /// Whether the chunk exists. When its file does and writes are durable, its directory
    /// is fsynced, since the writer that renamed it there may not have done so yet.
    pub(crate) fn exists(&self, bucket: &BucketId, id: &ChunkId) -> Result<bool> {
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => return Ok(memory.contains(bucket, id)),
            Backend::Remote(remote) => {
                if remote.cache.contains(bucket, id) {
                    return Ok(true);
                }
                let size = remote.store.size(&remote::name_of(bucket, id));
                return Ok(size.map_err(Error::remote("look a chunk up"))?.is_some());
            }
        };
        match fs::symlink_metadata(tree.path(bucket, id)) {
            Ok(_) => {
                if tree.sync {
                    fsync_dir(&tree.fan_dir(bucket, id))?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::Io {
                action: "stat chunk file",
                source,
            }),
        }
    }

    /// A chunk's sealed size; `None` if it is missing.
    pub(crate) fn len_of(&self, bucket: &BucketId, id: &ChunkId) -> Result<Option<u64>> {
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => return Ok(memory.len_of(bucket, id)),
            Backend::Remote(remote) => {
                return remote
                    .store
                    .size(&remote::name_of(bucket, id))
                    .map_err(Error::remote("look a chunk up"));
            }
        };
        match fs::symlink_metadata(tree.path(bucket, id)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io {
                action: "stat chunk file",
                source,
            }),
        }
    }

    /// Stores a sealed chunk: durably (`durable::replace_file`, making its directories the
    /// first time one is needed), or in memory within the budget.
    pub(crate) fn put(&self, bucket: &BucketId, id: &ChunkId, sealed: &[u8]) -> Result<()> {
        let check = |step| self.faults.check(Site::Write(step));
        match &self.backend {
            Backend::Files(tree) => tree.put(bucket, id, sealed, check)?,
            Backend::Memory(memory) => {
                check(crate::durable::Step::Write).map_err(Error::io("write chunk"))?;
                let used = self.tally.bytes.load(Ordering::Relaxed);
                if !memory.insert(bucket, id, sealed, used)? {
                    // Another writer stored the same chunk first: nothing more to count.
                    return Ok(());
                }
            }
            Backend::Remote(remote) => {
                check(crate::durable::Step::Write).map_err(Error::io("write chunk"))?;
                remote
                    .store
                    .put(&remote::name_of(bucket, id), sealed)
                    .map_err(Error::remote("store a chunk"))?;
                remote.cache.insert(bucket, id, sealed);
            }
        }
        self.tally.files.fetch_add(1, Ordering::Relaxed);
        self.tally
            .bytes
            .fetch_add(sealed.len() as u64, Ordering::Relaxed);
        self.tally.stored.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Reads a sealed chunk.
    pub(crate) fn get(&self, bucket: &BucketId, id: &ChunkId) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.get_into(bucket, id, &mut out)?;
        Ok(out)
    }

    /// Reads a sealed chunk into `out` (cleared first), so that a reused buffer holds it.
    pub(crate) fn get_into(
        &self,
        bucket: &BucketId,
        id: &ChunkId,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        use std::io::Read as _;
        self.faults.check(Site::Read)?;
        out.clear();
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => return memory.get_into(bucket, id, out),
            Backend::Remote(remote) => {
                if remote.cache.read_into(bucket, id, out) {
                    return Ok(());
                }
                let Some(sealed) = remote.store.get(&remote::name_of(bucket, id))? else {
                    return Err(std::io::ErrorKind::NotFound.into());
                };
                remote.cache.insert(bucket, id, &sealed);
                *out = sealed;
                return Ok(());
            }
        };
        let mut file = fs::File::open(tree.path(bucket, id))?;
        let len = file.metadata()?.len();
        out.try_reserve_exact(usize::try_from(len).unwrap_or(usize::MAX))?;
        file.read_to_end(out)?;
        Ok(())
    }

    /// Removes a chunk; a missing one is not an error.
    pub(crate) fn remove(&self, bucket: &BucketId, id: &ChunkId) -> Result<()> {
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => {
                if let Some(len) = memory.remove(bucket, id) {
                    take_away(&self.tally.files, 1);
                    take_away(&self.tally.bytes, len);
                }
                return Ok(());
            }
            Backend::Remote(remote) => {
                remote.cache.remove(bucket, id);
                // Removals run on the index writer's thread: while the remote is failing,
                // they are left for the tidying pass rather than each waiting out the
                // deadline (an unremoved chunk is only an orphan).
                remote.breaker.check()?;
                let name = remote::name_of(bucket, id);
                let len = remote
                    .store
                    .size(&name)
                    .map_err(|e| remote.breaker.tripped("look a chunk up", e))?;
                remote
                    .store
                    .delete(&name)
                    .map_err(|e| remote.breaker.tripped("remove a chunk", e))?;
                if let Some(len) = len {
                    take_away(&self.tally.files, 1);
                    take_away(&self.tally.bytes, len);
                }
                return Ok(());
            }
        };
        let path = tree.path(bucket, id);
        // Its size, for the tally; the stat costs little beside the unlink.
        let len = fs::symlink_metadata(&path).map_or(0, |m| m.len());
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove chunk file",
                source: e,
            }),
            Err(_) => Ok(()),
            Ok(()) => {
                take_away(&self.tally.files, 1);
                take_away(&self.tally.bytes, len);
                Ok(())
            }
        }
    }

    /// Removes a bucket's whole chunk directory; a missing one is not an error.
    pub(crate) fn remove_bucket(&self, bucket: &BucketId) -> Result<()> {
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => {
                let (files, bytes) = memory.remove_bucket(bucket);
                take_away(&self.tally.files, files);
                take_away(&self.tally.bytes, bytes);
                return Ok(());
            }
            Backend::Remote(remote) => {
                remote.cache.remove_bucket(bucket);
                let listed = remote
                    .store
                    .list(&remote::bucket_prefix(bucket))
                    .map_err(Error::remote("list a bucket's chunks"))?;
                for (name, len) in listed {
                    remote
                        .store
                        .delete(&name)
                        .map_err(Error::remote("remove a chunk"))?;
                    take_away(&self.tally.files, 1);
                    take_away(&self.tally.bytes, len);
                }
                return Ok(());
            }
        };
        // A bucket is deleted empty, so what is left to count is small.
        let (files, bytes) = count_files(&tree.bucket_dir(bucket));
        take_away(&self.tally.files, files);
        take_away(&self.tally.bytes, bytes);
        match fs::remove_dir_all(tree.bucket_dir(bucket)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove bucket chunk directory",
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// A file of the chunk tree, as [`ChunkStore::each_file`] finds it.
#[derive(Debug)]
pub(crate) enum TreeEntry<'a> {
    /// A chunk file in its place: its bucket, id and size.
    Chunk {
        bucket: BucketId,
        id: ChunkId,
        len: u64,
    },
    /// A temporary file of a chunk write; `ours` when this store wrote it (it may be in
    /// progress), otherwise left by an earlier run that crashed.
    Temp { path: &'a Path, ours: bool },
    /// A bucket directory, or a file, whose name or place is not what this tree writes
    /// (e.g. a chunk file moved into another fan-out folder: it cannot be read, so it is
    /// neither counted as present nor removed as an orphan).
    Foreign,
}

impl ChunkStore {
    /// The bucket ids that have a directory in the tree (or chunks in memory).
    pub(crate) fn bucket_dirs(&self) -> Result<Vec<BucketId>> {
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => return Ok(memory.buckets()),
            Backend::Remote(remote) => {
                let mut buckets: Vec<BucketId> = remote
                    .store
                    .list("")
                    .map_err(Error::remote("list chunks"))?
                    .iter()
                    .filter_map(|(name, _)| remote::parse_name(name).map(|(b, _)| b))
                    .collect();
                buckets.sort_unstable();
                buckets.dedup();
                return Ok(buckets);
            }
        };
        Ok(read_dir(&tree.dir)?
            .iter()
            .filter_map(|entry| parse_hex::<16>(&entry.file_name()))
            .collect())
    }

    /// Calls `f` with every file of the tree and every bucket directory named oddly, reading
    /// one directory at a time (in memory: with every chunk). Changes nothing itself.
    pub(crate) fn each_file(&self, mut f: impl FnMut(TreeEntry<'_>) -> Result<()>) -> Result<()> {
        let tree = match &self.backend {
            Backend::Files(tree) => tree,
            Backend::Memory(memory) => {
                for (bucket, id, len) in memory.list() {
                    f(TreeEntry::Chunk { bucket, id, len })?;
                }
                return Ok(());
            }
            Backend::Remote(remote) => {
                let listed = remote
                    .store
                    .list("")
                    .map_err(Error::remote("list chunks"))?;
                for (name, len) in listed {
                    if remote::is_shipped_index(&name) {
                        continue;
                    }
                    match remote::parse_name(&name) {
                        Some((bucket, id)) => f(TreeEntry::Chunk { bucket, id, len })?,
                        None => f(TreeEntry::Foreign)?,
                    }
                }
                return Ok(());
            }
        };
        let ours = format!("{TEMP_PREFIX}{}-", tree.run);
        for bucket_entry in read_dir(&tree.dir)? {
            let Some(bucket) = parse_hex::<16>(&bucket_entry.file_name()) else {
                f(TreeEntry::Foreign)?;
                continue;
            };
            for fan_entry in read_dir(&bucket_entry.path())? {
                let fan = parse_hex::<1>(&fan_entry.file_name());
                for file_entry in read_dir(&fan_entry.path())? {
                    let name = file_entry.file_name();
                    let text = name.to_string_lossy();
                    if text.starts_with(TEMP_PREFIX) {
                        let path = file_entry.path();
                        f(TreeEntry::Temp {
                            path: &path,
                            ours: text.starts_with(&ours),
                        })?;
                    } else if let Some(id) = parse_hex::<32>(&name)
                        && fan == Some([id[0]])
                    {
                        let len = file_entry.metadata().map_or(0, |m| m.len());
                        f(TreeEntry::Chunk {
                            bucket,
                            id: ChunkId(id),
                            len,
                        })?;
                    } else {
                        f(TreeEntry::Foreign)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts a file found on disk (the walk after open) in the tally.
    pub(crate) fn note_existing(&self, len: u64) {
        self.tally.files.fetch_add(1, Ordering::Relaxed);
        self.tally.bytes.fetch_add(len, Ordering::Relaxed);
    }

    /// Removes a temporary file an earlier run left; a missing one is not an error.
    pub(crate) fn remove_temp(path: &Path) -> Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove stale temp file",
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

impl Tree {
    fn bucket_dir(&self, bucket: &BucketId) -> PathBuf {
        self.dir.join(hex::encode(bucket))
    }

    fn fan_dir(&self, bucket: &BucketId, id: &ChunkId) -> PathBuf {
        self.bucket_dir(bucket).join(hex::encode(&id.0[..1]))
    }

    fn path(&self, bucket: &BucketId, id: &ChunkId) -> PathBuf {
        self.fan_dir(bucket, id).join(id.to_hex())
    }

    fn put(
        &self,
        bucket: &BucketId,
        id: &ChunkId,
        sealed: &[u8],
        check: impl Fn(crate::durable::Step) -> std::io::Result<()>,
    ) -> Result<()> {
        let fan = self.fan_dir(bucket, id);
        // Concurrent writers of one chunk id each get their own temp file.
        let suffix = hex::encode(crate::keys::keyring::random_bytes::<8>()?);
        let temp_path = fan.join(format!("{TEMP_PREFIX}{}-{suffix}", self.run));
        let path = self.path(bucket, id);
        match replace_file_checked(&temp_path, &path, sealed, self.sync, &check) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_dir_private(&self.bucket_dir(bucket), self.sync)?;
                create_dir_private(&fan, self.sync)?;
                replace_file_checked(&temp_path, &path, sealed, self.sync, &check)
            }
            other => other,
        }
        .map_err(Error::io("write chunk file"))
    }
}

/// Files under `dir` (one bucket's chunk tree) and their total size; 0 for a missing one.
fn count_files(dir: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    for fan in read_dir(dir).unwrap_or_default() {
        for file in read_dir(&fan.path()).unwrap_or_default() {
            files += 1;
            bytes += file.metadata().map_or(0, |m| m.len());
        }
    }
    (files, bytes)
}

fn read_dir(path: &Path) -> Result<Vec<fs::DirEntry>> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                action: "list chunk directory",
                source,
            });
        }
    };
    entries
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(Error::io("list chunk directory"))
}

pub(crate) fn parse_hex<const N: usize>(name: &std::ffi::OsStr) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(name.to_str()?, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn put_get_remove_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::new(dir.path().to_path_buf(), true).unwrap();
        let bucket = [7u8; 16];
        let id = ChunkId([9u8; 32]);
        assert!(!store.exists(&bucket, &id).unwrap());
        store.put(&bucket, &id, b"sealed").unwrap();
        assert!(store.exists(&bucket, &id).unwrap());
        assert_eq!(store.get(&bucket, &id).unwrap(), b"sealed");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path(&bucket, &id)), 0o600);
        assert_eq!(mode(&store.tree().unwrap().fan_dir(&bucket, &id)), 0o700);
        assert_eq!(mode(&store.tree().unwrap().bucket_dir(&bucket)), 0o700);
        assert_eq!(
            store.stats(),
            ChunkStats {
                files: 1,
                bytes: 6,
                stored: 1,
                deduplicated: 0
            }
        );
        store.remove(&bucket, &id).unwrap();
        store.remove(&bucket, &id).unwrap();
        assert!(!store.exists(&bucket, &id).unwrap());
        assert_eq!((store.stats().files, store.stats().bytes), (0, 0));
        store.put(&bucket, &id, b"sealed").unwrap();
        store.put(&bucket, &ChunkId([8u8; 32]), b"sealed2").unwrap();
        store.remove_bucket(&bucket).unwrap();
        assert_eq!((store.stats().files, store.stats().bytes), (0, 0));
    }

    #[test]
    fn walk_tells_chunks_temps_and_misplaced_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::new(dir.path().to_path_buf(), false).unwrap();
        let bucket = [1u8; 16];
        let (a, b) = (ChunkId([3; 32]), ChunkId([4; 32]));
        store.put(&bucket, &a, b"a").unwrap();
        store.put(&bucket, &b, b"bb").unwrap();
        // A chunk file moved into another fan-out folder, an earlier run's temp file, and
        // one of this run's (a write in progress).
        fs::rename(
            store.path(&bucket, &b),
            store.tree().unwrap().fan_dir(&bucket, &a).join(b.to_hex()),
        )
        .unwrap();
        fs::write(
            store
                .tree()
                .unwrap()
                .fan_dir(&bucket, &a)
                .join(".tmp-0badf00d-1234"),
            b"x",
        )
        .unwrap();
        let mine = format!(".tmp-{}-5678", store.tree().unwrap().run);
        fs::write(store.tree().unwrap().fan_dir(&bucket, &a).join(&mine), b"x").unwrap();
        let mut seen = Vec::new();
        store
            .each_file(|entry| {
                seen.push(match entry {
                    TreeEntry::Chunk { id, len, .. } => format!("chunk {} {len}", id.0[0]),
                    TreeEntry::Temp { ours, .. } => format!("temp {ours}"),
                    TreeEntry::Foreign => "foreign".to_owned(),
                });
                Ok(())
            })
            .unwrap();
        seen.sort();
        assert_eq!(seen, ["chunk 3 1", "foreign", "temp false", "temp true"]);
        assert_eq!(store.bucket_dirs().unwrap(), [bucket]);
    }

    #[test]
    fn in_memory_within_a_budget_that_counts_the_index() {
        use std::sync::Arc;
        let index = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let store = ChunkStore::in_memory(MemoryBudget::new(100, Arc::clone(&index)));
        let bucket = [7u8; 16];
        let (a, b, c) = (ChunkId([1; 32]), ChunkId([2; 32]), ChunkId([3; 32]));
        store.put(&bucket, &a, &[1; 60]).unwrap();
        // The same chunk again is already there: no room needed, nothing counted twice.
        store.put(&bucket, &a, &[1; 60]).unwrap();
        assert_eq!((store.stats().files, store.stats().bytes), (1, 60));
        assert!(store.exists(&bucket, &a).unwrap());
        assert_eq!(store.len_of(&bucket, &a).unwrap(), Some(60));
        assert_eq!(store.get(&bucket, &a).unwrap(), vec![1; 60]);
        assert!(matches!(
            store.put(&bucket, &b, &[2; 41]),
            Err(Error::MemoryFull { max_bytes: 100 })
        ));
        store.put(&bucket, &b, &[2; 40]).unwrap();
        assert!(matches!(store.check_room(1), Err(Error::MemoryFull { .. })));
        store.remove(&bucket, &a).unwrap();
        store.check_room(1).unwrap();
        // The index's bytes count against the same budget.
        index.store(50, std::sync::atomic::Ordering::Relaxed);
        assert!(matches!(
            store.put(&bucket, &c, &[3; 20]),
            Err(Error::MemoryFull { .. })
        ));
        store.put(&bucket, &c, &[3; 10]).unwrap();
        let mut seen = Vec::new();
        store
            .each_file(|entry| {
                if let TreeEntry::Chunk { id, len, .. } = entry {
                    seen.push((id.0[0], len));
                }
                Ok(())
            })
            .unwrap();
        seen.sort_unstable();
        assert_eq!(seen, [(2, 40), (3, 10)]);
        assert_eq!(store.bucket_dirs().unwrap(), [bucket]);
        assert!(store.get(&bucket, &a).is_err());
        store.remove_bucket(&bucket).unwrap();
        assert_eq!((store.stats().files, store.stats().bytes), (0, 0));
        assert!(store.bucket_dirs().unwrap().is_empty());
        store.sync_all().unwrap();
    }
}
