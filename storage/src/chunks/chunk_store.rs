//! The content-addressed tree of sealed chunk files.
//!
//! Layout: `<root>/chunks/<bucket id hex>/<first id byte hex>/<id hex>`. A chunk is written
//! through `durable::replace_file` from a randomly named temporary file in its final
//! directory (files 0600, directories 0700). Nothing here knows object keys or bucket
//! names: paths hold only random bucket ids and keyed hashes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::chunks::chunk_id::ChunkId;
use crate::durable::{create_dir_private, fsync_dir, replace_file};
use crate::error::{Error, Result};
use crate::records::BucketId;

const TEMP_PREFIX: &str = ".tmp-";

/// The chunk tree of one data directory.
#[derive(Debug)]
pub(crate) struct ChunkStore {
    dir: PathBuf,
    sync: bool,
}

impl ChunkStore {
    /// The tree under `dir` (`<root>/chunks`, already created). `sync` fsyncs every write.
    pub(crate) fn new(dir: PathBuf, sync: bool) -> ChunkStore {
        ChunkStore { dir, sync }
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
        .map_err(Error::io("write chunk file"))
    }

    /// Reads a sealed chunk.
    pub(crate) fn get(&self, bucket: &BucketId, id: &ChunkId) -> std::io::Result<Vec<u8>> {
        fs::read(self.path(bucket, id))
    }

    /// Removes a chunk file; a missing one is not an error.
    pub(crate) fn remove(&self, bucket: &BucketId, id: &ChunkId) -> Result<()> {
        match fs::remove_file(self.path(bucket, id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove chunk file",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Removes a bucket's whole chunk directory; a missing one is not an error.
    pub(crate) fn remove_bucket(&self, bucket: &BucketId) -> Result<()> {
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
        store.remove(&bucket, &id).unwrap();
        store.remove(&bucket, &id).unwrap();
        assert!(!store.exists(&bucket, &id).unwrap());
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
        assert!(store.exists(&live, &keep).unwrap());
        assert!(!store.exists(&live, &drop_).unwrap());
        assert!(!store.bucket_dir(&dead).exists());
    }
}
