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

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::durable::{create_dir_private, fsync_dir, replace_file};
use crate::error::{Error, Result};
use crate::keys::BucketId;
use crate::keys::keyring::random_key;

const DIR: &str = "key-shares";
const TEMP_SUFFIX: &str = ".tmp";

/// The share files of one data directory.
pub(crate) struct KeyShares {
    dir: PathBuf,
    sync: bool,
}

impl KeyShares {
    /// Opens (creating, 0700) `<root>/key-shares`.
    pub(crate) fn open(root: &Path, sync: bool) -> Result<KeyShares> {
        KeyShares::open_in(root, DIR, sync)
    }

    /// Opens (creating, 0700) `<root>/<dir>`: KMS keys keep their shares apart from
    /// buckets', so neither sweep takes the other's for stale.
    pub(crate) fn open_in(root: &Path, dir: &str, sync: bool) -> Result<KeyShares> {
        let dir = root.join(dir);
        create_dir_private(&dir, sync)?;
        Ok(KeyShares { dir, sync })
    }

    fn path(&self, bucket: &BucketId) -> PathBuf {
        self.dir.join(hex::encode(bucket))
    }

    /// Makes and stores a new bucket's share (durably, if syncing) before its commit.
    pub(crate) fn create(&self, bucket: &BucketId) -> Result<()> {
        let share = random_key()?;
        let path = self.path(bucket);
        let mut temp = path.clone().into_os_string();
        temp.push(TEMP_SUFFIX);
        replace_file(&PathBuf::from(temp), &path, &*share, self.sync)
            .map_err(Error::io("write key share"))?;
        Ok(())
    }

    /// A bucket's share.
    ///
    /// # Errors
    /// `Error::Corrupt` if it is missing or not 32 bytes.
    pub(crate) fn load(&self, bucket: &BucketId) -> Result<Zeroizing<[u8; 32]>> {
        let bytes = Zeroizing::new(std::fs::read(self.path(bucket)).map_err(|e| {
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
        let path = target.path(id);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.len() == 32) {
            return Ok(false);
        }
        let share = self.load(id)?;
        let mut temp = path.clone().into_os_string();
        temp.push(TEMP_SUFFIX);
        replace_file(&PathBuf::from(temp), &path, &*share, target.sync)
            .map_err(Error::io("write key share"))?;
        Ok(true)
    }

    /// Destroys a deleted bucket's share (crypto-shredding).
    pub(crate) fn remove(&self, bucket: &BucketId) -> Result<()> {
        match std::fs::remove_file(self.path(bucket)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "remove key share",
                source: e,
            }),
            _ => {
                if self.sync {
                    fsync_dir(&self.dir)?;
                }
                Ok(())
            }
        }
    }

    /// The bucket ids of the share files present (`None` for a file not named as a share),
    /// for `fsck`. Changes nothing.
    pub(crate) fn list(&self) -> Result<Vec<Option<BucketId>>> {
        let entries = std::fs::read_dir(&self.dir).map_err(Error::io("list key shares"))?;
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
        let entries = std::fs::read_dir(&self.dir).map_err(Error::io("list key shares"))?;
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
