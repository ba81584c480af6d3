//! Bucket key shares: the half of each bucket key that deleting the bucket destroys.
//!
//! # Design
//!
//! The bucket key is stored wrapped in the index, but redb is copy-on-write: after the
//! bucket is deleted, the page that held its wrapped key is free yet still in the file, and
//! the index key and master key that open it are still around. So deleting the wrapped key
//! alone does not shred anything. Each bucket therefore also has a random 32-byte share in
//! its own file, `<data>/key-shares/<bucket id hex>` (0600, fsynced before the bucket's
//! index commit); the bucket's working key is derived from the unwrapped secret *and* the
//! share. Deleting the bucket unlinks the share, so a copy of its chunks taken before the
//! delete cannot be opened with anything that remains in the data directory, the index's
//! free pages included. The share is outside `chunks/`, so a copy of the chunk tree does not
//! carry it. (What the file system keeps of an unlinked file's blocks is below this layer.)
//!
//! A store with no files (`--in-memory`) keeps its shares in a map instead, under the same
//! rules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use zeroize::Zeroizing;

use crate::durable::{create_dir_private, fsync_dir, replace_file};
use crate::error::{Error, Result};
use crate::keys::BucketId;
use crate::keys::keyring::random_key;

const DIR: &str = "key-shares";
const TEMP_SUFFIX: &str = ".tmp";

/// The share files of one data directory, or the shares of a store in memory.
pub(crate) enum KeyShares {
    Files { dir: PathBuf, sync: bool },
    Memory(Mutex<Shares>),
}

impl KeyShares {
    /// Shares kept in memory only.
    pub(crate) fn in_memory() -> KeyShares {
        KeyShares::Memory(Mutex::new(HashMap::new()))
    }

    /// Opens (creating, 0700) `<root>/key-shares`.
    pub(crate) fn open(root: &Path, sync: bool) -> Result<KeyShares> {
        KeyShares::open_in(root, DIR, sync)
    }

    /// Opens (creating, 0700) `<root>/<dir>`: KMS keys keep their shares apart from
    /// buckets', so neither sweep takes the other's for stale.
    pub(crate) fn open_in(root: &Path, dir: &str, sync: bool) -> Result<KeyShares> {
        let dir = root.join(dir);
        create_dir_private(&dir, sync)?;
        Ok(KeyShares::Files { dir, sync })
    }

    /// The share file's path; a store in memory has none (and is never a backup target).
    fn path(&self, bucket: &BucketId) -> Option<(PathBuf, bool)> {
        match self {
            KeyShares::Files { dir, sync } => Some((dir.join(hex::encode(bucket)), *sync)),
            KeyShares::Memory(_) => None,
        }
    }

    /// Makes and stores a new bucket's share (durably, if syncing) before its commit.
    pub(crate) fn create(&self, bucket: &BucketId) -> Result<()> {
        let share = random_key()?;
        match self {
            KeyShares::Files { dir, sync } => {
                write_share(&dir.join(hex::encode(bucket)), &share, *sync)
            }
            KeyShares::Memory(map) => {
                lock(map).insert(*bucket, Zeroizing::new(*share));
                Ok(())
            }
        }
    }

    /// A bucket's share.
    ///
    /// # Errors
    /// `Error::Corrupt` if it is missing or not 32 bytes.
    pub(crate) fn load(&self, bucket: &BucketId) -> Result<Zeroizing<[u8; 32]>> {
        let path = match self {
            KeyShares::Files { dir, .. } => dir.join(hex::encode(bucket)),
            KeyShares::Memory(map) => {
                return lock(map).get(bucket).cloned().ok_or(Error::Corrupt {
                    what: "bucket key share (missing)",
                });
            }
        };
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Corrupt {
                    what: "bucket key share (missing)",
                }
            } else {
                Error::Io {
                    action: "read key share",
                    source: e,
                }
            }
        })?);
        let mut share = Zeroizing::new([0u8; 32]);
        if bytes.len() != share.len() {
            return Err(Error::Corrupt {
                what: "bucket key share",
            });
        }
        share.copy_from_slice(&bytes);
        Ok(share)
    }

    /// Copies `id`'s share into `target` (a backup's), unless it is there already: shares
    /// never change. Returns whether it was copied; `Error::Corrupt` if it is missing here.
    pub(crate) fn copy_into(&self, target: &KeyShares, id: &BucketId) -> Result<bool> {
        let Some((path, sync)) = target.path(id) else {
            return Err(Error::BackupTarget {
                what: "a backup is written to a directory",
            });
        };
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.len() == 32) {
            return Ok(false);
        }
        write_share(&path, &*self.load(id)?, sync)?;
        Ok(true)
    }

    /// Destroys a deleted bucket's share (crypto-shredding).
    pub(crate) fn remove(&self, bucket: &BucketId) -> Result<()> {
        let KeyShares::Files { dir, sync } = self else {
            if let KeyShares::Memory(map) = self {
                lock(map).remove(bucket);
            }
            return Ok(());
        };
        match std::fs::remove_file(dir.join(hex::encode(bucket))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove key share",
                source: e,
            }),
            _ => {
                if *sync {
                    fsync_dir(dir)?;
                }
                Ok(())
            }
        }
    }

    /// The bucket ids of the share files present (`None` for a file not named as a share),
    /// for `fsck`. Changes nothing.
    pub(crate) fn list(&self) -> Result<Vec<Option<BucketId>>> {
        let dir = match self {
            KeyShares::Files { dir, .. } => dir,
            KeyShares::Memory(map) => {
                return Ok(lock(map).keys().copied().map(Some).collect());
            }
        };
        let entries = std::fs::read_dir(dir).map_err(Error::io("list key shares"))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Error::io("list key shares"))?;
            out.push(
                hex::decode(entry.file_name().as_encoded_bytes())
                    .ok()
                    .and_then(|id| BucketId::try_from(id.as_slice()).ok()),
            );
        }
        Ok(out)
    }

    /// Removes shares of buckets `live` does not know (a crash between a delete's commit
    /// and the unlink, or a create that never committed) and temp files.
    pub(crate) fn sweep(&self, live: impl Fn(&BucketId) -> bool) -> Result<()> {
        let dir = match self {
            KeyShares::Files { dir, .. } => dir,
            KeyShares::Memory(map) => {
                lock(map).retain(|id, _| live(id));
                return Ok(());
            }
        };
        let entries = std::fs::read_dir(dir).map_err(Error::io("list key shares"))?;
        for entry in entries {
            let entry = entry.map_err(Error::io("list key shares"))?;
            let name = entry.file_name();
            let stale = hex::decode(name.as_encoded_bytes())
                .ok()
                .and_then(|id| BucketId::try_from(id.as_slice()).ok())
                .is_none_or(|id| !live(&id));
            if stale {
                std::fs::remove_file(entry.path()).map_err(Error::io("remove stale key share"))?;
            }
        }
        Ok(())
    }
}

type Shares = HashMap<BucketId, Zeroizing<[u8; 32]>>;

fn lock(map: &Mutex<Shares>) -> std::sync::MutexGuard<'_, Shares> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes a share file through a temp file (durably, if `sync`).
fn write_share(path: &Path, share: &[u8; 32], sync: bool) -> Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(TEMP_SUFFIX);
    replace_file(&PathBuf::from(temp), path, share, sync).map_err(Error::io("write key share"))
}
