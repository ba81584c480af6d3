//! The content-addressed tree of sealed chunk files.
//!
//! Layout: `<root>/chunks/<bucket id hex>/<first id byte hex>/<id hex>`. A chunk is written
//! through `durable::replace_file` from a randomly named temporary file in its final
//! directory (files 0600, directories 0700). Nothing here knows object keys or bucket
//! names: paths hold only random bucket ids and keyed hashes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::chunks::chunk_id::ChunkId;
use crate::durable::{create_dir_private, fsync_dir, replace_file};
use crate::error::{Error, Result};
use crate::records::BucketId;

const TEMP_PREFIX: &str = ".tmp-";

/// What the chunk tree holds and how writes went, counted as they happen (and from the
/// sweep at open), so that reading it never walks the tree.
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

/// The chunk tree of one data directory.
#[derive(Debug)]
pub(crate) struct ChunkStore {
    dir: PathBuf,
    sync: bool,
    tally: Tally,
}

impl ChunkStore {
    /// The tree under `dir` (`<root>/chunks`, already created). `sync` fsyncs every write.
    pub(crate) fn new(dir: PathBuf, sync: bool) -> ChunkStore {
        ChunkStore {
            dir,
            sync,
            tally: Tally::default(),
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

    fn bucket_dir(&self, bucket: &BucketId) -> PathBuf {
        self.dir.join(hex::encode(bucket))
    }

    fn fan_dir(&self, bucket: &BucketId, id: &ChunkId) -> PathBuf {
        self.bucket_dir(bucket).join(hex::encode(&id.0[..1]))
    }

    pub(crate) fn path(&self, bucket: &BucketId, id: &ChunkId) -> PathBuf {
        self.fan_dir(bucket, id).join(id.to_hex())
    }

    /// Whether the chunk's file exists. When it does and writes are durable, its directory
    /// is fsynced, since the writer that renamed it there may not have done so yet.
    pub(crate) fn exists(&self, bucket: &BucketId, id: &ChunkId) -> Result<bool> {
        match fs::symlink_metadata(self.path(bucket, id)) {
            Ok(_) => {
                if self.sync {
                    fsync_dir(&self.fan_dir(bucket, id))?;
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

    /// Writes a sealed chunk durably (`durable::replace_file`), making its directories
    /// the first time one is needed.
    pub(crate) fn put(&self, bucket: &BucketId, id: &ChunkId, sealed: &[u8]) -> Result<()> {
        let fan = self.fan_dir(bucket, id);
        // Concurrent writers of one chunk id each get their own temp file.
        let suffix = hex::encode(crate::keys::keyring::random_bytes::<8>()?);
        let temp_path = fan.join(format!("{TEMP_PREFIX}{suffix}"));
        let path = self.path(bucket, id);
        match replace_file(&temp_path, &path, sealed, self.sync) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_dir_private(&self.bucket_dir(bucket), self.sync)?;
                create_dir_private(&fan, self.sync)?;
                replace_file(&temp_path, &path, sealed, self.sync)
            }
            other => other,
        }
        .map_err(Error::io("write chunk file"))?;
        self.tally.files.fetch_add(1, Ordering::Relaxed);
        self.tally
            .bytes
            .fetch_add(sealed.len() as u64, Ordering::Relaxed);
        self.tally.stored.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Reads a sealed chunk.
    pub(crate) fn get(&self, bucket: &BucketId, id: &ChunkId) -> std::io::Result<Vec<u8>> {
        fs::read(self.path(bucket, id))
    }

    /// Removes a chunk file; a missing one is not an error.
    pub(crate) fn remove(&self, bucket: &BucketId, id: &ChunkId) -> Result<()> {
        let path = self.path(bucket, id);
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
        // A bucket is deleted empty, so what is left to count is small.
        let (files, bytes) = count_files(&self.bucket_dir(bucket));
        take_away(&self.tally.files, files);
        take_away(&self.tally.bytes, bytes);
        match fs::remove_dir_all(self.bucket_dir(bucket)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove bucket chunk directory",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Removes what a crash can leave behind: temp files, chunk files `referenced` says no
    /// object uses, and directories of buckets `live` does not know. Returns files removed.
    /// The files kept are counted in the tally (this walk happens anyway at open).
    pub(crate) fn sweep(
        &self,
        live: impl Fn(&BucketId) -> bool,
        mut referenced: impl FnMut(&BucketId, &ChunkId) -> Result<bool>,
    ) -> Result<usize> {
        let mut removed = 0;
        for bucket_entry in read_dir(&self.dir)? {
            let bucket_path = bucket_entry.path();
            let Some(bucket) = parse_hex::<16>(&bucket_entry.file_name()) else {
                continue;
            };
            if !live(&bucket) {
                tracing::debug!("sweep: removing chunk directory of a deleted bucket");
                fs::remove_dir_all(&bucket_path)
                    .map_err(Error::io("remove stale bucket chunk directory"))?;
                continue;
            }
            for fan_entry in read_dir(&bucket_path)? {
                for file_entry in read_dir(&fan_entry.path())? {
                    let name = file_entry.file_name();
                    let stale = if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                        true
                    } else if let Some(id) = parse_hex::<32>(&name) {
                        !referenced(&bucket, &ChunkId(id))?
                    } else {
                        false
                    };
                    if stale {
                        fs::remove_file(file_entry.path())
                            .map_err(Error::io("remove stale chunk file"))?;
                        removed += 1;
                    } else {
                        let len = file_entry.metadata().map_or(0, |m| m.len());
                        self.tally.files.fetch_add(1, Ordering::Relaxed);
                        self.tally.bytes.fetch_add(len, Ordering::Relaxed);
                    }
                }
            }
        }
        if removed > 0 {
            tracing::debug!(removed, "sweep: removed unreferenced chunk files");
        }
        Ok(removed)
    }
}

/// A file of the chunk tree, as [`ChunkStore::each_file`] finds it.
#[derive(Debug)]
pub(crate) enum TreeEntry {
    /// A chunk file: its bucket and id.
    Chunk { bucket: BucketId, id: ChunkId },
    /// A temporary file a write left behind (a crash or a dropped writer).
    Temp,
    /// A bucket directory, or a file, whose name is not what this tree writes.
    Foreign,
}

impl ChunkStore {
    /// Calls `f` with every file of the tree and every bucket directory named oddly, reading
    /// one directory at a time. Changes nothing (`fsck`; the sweep at open removes).
    pub(crate) fn each_file(&self, mut f: impl FnMut(TreeEntry) -> Result<()>) -> Result<()> {
        for bucket_entry in read_dir(&self.dir)? {
            let Some(bucket) = parse_hex::<16>(&bucket_entry.file_name()) else {
                f(TreeEntry::Foreign)?;
                continue;
            };
            for fan_entry in read_dir(&bucket_entry.path())? {
                for file_entry in read_dir(&fan_entry.path())? {
                    let name = file_entry.file_name();
                    if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                        f(TreeEntry::Temp)?;
                    } else if let Some(id) = parse_hex::<32>(&name) {
                        f(TreeEntry::Chunk {
                            bucket,
                            id: ChunkId(id),
                        })?;
                    } else {
                        f(TreeEntry::Foreign)?;
                    }
                }
            }
        }
        Ok(())
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

fn parse_hex<const N: usize>(name: &std::ffi::OsStr) -> Option<[u8; N]> {
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
        let store = ChunkStore::new(dir.path().to_path_buf(), true);
        let bucket = [7u8; 16];
        let id = ChunkId([9u8; 32]);
        assert!(!store.exists(&bucket, &id).unwrap());
        store.put(&bucket, &id, b"sealed").unwrap();
        assert!(store.exists(&bucket, &id).unwrap());
        assert_eq!(store.get(&bucket, &id).unwrap(), b"sealed");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path(&bucket, &id)), 0o600);
        assert_eq!(mode(&store.fan_dir(&bucket, &id)), 0o700);
        assert_eq!(mode(&store.bucket_dir(&bucket)), 0o700);
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
    fn sweep_removes_temp_unreferenced_and_dead_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::new(dir.path().to_path_buf(), false);
        let (live, dead) = ([1u8; 16], [2u8; 16]);
        let (keep, drop_) = (ChunkId([3; 32]), ChunkId([4; 32]));
        store.put(&live, &keep, b"a").unwrap();
        store.put(&live, &drop_, b"b").unwrap();
        store.put(&dead, &keep, b"c").unwrap();
        fs::write(store.fan_dir(&live, &keep).join(".tmp-1234"), b"x").unwrap();
        let removed = store
            .sweep(|b| *b == live, |_, id| Ok(*id == keep))
            .unwrap();
        assert_eq!(removed, 2);
        // A fresh store over the same tree counts what the sweep kept.
        let reopened = ChunkStore::new(dir.path().to_path_buf(), false);
        reopened.sweep(|b| *b == live, |_, _| Ok(true)).unwrap();
        assert_eq!((reopened.stats().files, reopened.stats().bytes), (1, 1));
        assert!(store.exists(&live, &keep).unwrap());
        assert!(!store.exists(&live, &drop_).unwrap());
        assert!(!store.bucket_dir(&dead).exists());
    }
}
