//! The data directory's key files, shipped as they are beside the index: `keys` (the
//! index key, wrapped by the master key), `unlockers` (the master key, sealed by each
//! unlocker), and the bucket and KMS key shares. Each is already useless without the master
//! key, and a restore needs `unlockers` before it can unlock anything, so they are not
//! sealed again. The shares' names are random ids, as on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::layout::FILES;
use crate::chunks::remote::{RemoteChunks, When};
use crate::durable::create_dir_private;
use crate::error::{Error, Result};
use crate::keys::{key_file, unlocker_file};

/// The folders of key shares.
const SHARE_DIRS: [&str; 2] = ["key-shares", crate::kms_shares::DIR];

/// Whether `rel` is a path this module ships (and so may write on restore): nothing that
/// could climb out of the data directory.
fn is_shipped(rel: &str) -> bool {
    if rel == key_file::KEY_FILE || rel == unlocker_file::FILE {
        return true;
    }
    let Some((dir, name)) = rel.split_once('/') else {
        return false;
    };
    SHARE_DIRS.contains(&dir)
        && !name.is_empty()
        && !name.starts_with('.')
        && !Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tmp"))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Every shipped file of `root`, with its bytes.
pub(crate) fn local(root: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for rel in [key_file::KEY_FILE, unlocker_file::FILE] {
        match std::fs::read(root.join(rel)) {
            Ok(bytes) => {
                out.insert(rel.to_owned(), bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read a key file to ship")(e)),
        }
    }
    for dir in SHARE_DIRS {
        let entries = match std::fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list key shares to ship")(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::io("list key shares to ship"))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let rel = format!("{dir}/{name}");
            if !is_shipped(&rel) {
                continue;
            }
            match std::fs::read(entry.path()) {
                Ok(bytes) => {
                    out.insert(rel, bytes);
                }
                // Removed meanwhile (a bucket deleted): the next round ships that.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("read a key share to ship")(e)),
            }
        }
    }
    Ok(out)
}

/// What is shipped already: file name to a hash of its bytes.
#[derive(Debug, Default)]
pub(crate) struct Shipped(BTreeMap<String, blake3::Hash>);

impl Shipped {
    /// What the remote holds now (each file's hash unknown: shipped again once).
    pub(crate) fn listed(remote: &dyn RemoteChunks) -> Result<Shipped> {
        let names = remote
            .list(FILES)
            .map_err(Error::remote("list shipped key files"))?;
        Ok(Shipped(
            names
                .into_iter()
                .filter_map(|(name, _)| name.strip_prefix(FILES).map(str::to_owned))
                .map(|rel| (rel, blake3::Hash::from_bytes([0; 32])))
                .collect(),
        ))
    }

    /// Ships what changed in `root` since, and removes what is gone (a deleted bucket's
    /// share: its crypto-shredding reaches the remote too). Returns the files written.
    pub(crate) fn sync(&mut self, remote: &dyn RemoteChunks, root: &Path) -> Result<usize> {
        let now = local(root)?;
        let mut written = 0;
        for (rel, bytes) in &now {
            let hash = blake3::hash(bytes);
            if self.0.get(rel) == Some(&hash) {
                continue;
            }
            remote
                .put_when(&format!("{FILES}{rel}"), bytes, When::Always)
                .map_err(Error::remote("ship a key file"))?;
            self.0.insert(rel.clone(), hash);
            written += 1;
        }
        let gone: Vec<String> = self
            .0
            .keys()
            .filter(|rel| !now.contains_key(*rel))
            .cloned()
            .collect();
        for rel in gone {
            remote
                .delete(&format!("{FILES}{rel}"))
                .map_err(Error::remote("remove a shipped key share"))?;
            self.0.remove(&rel);
        }
        Ok(written)
    }
}

/// Fetches every shipped file into `root` (created 0700). With `prune`, local key shares
/// the remote no longer has are removed (a standby following its primary's deletions).
/// Returns the files written.
///
/// # Errors
/// `Error::Remote`, `Error::Io`.
pub(crate) fn fetch(remote: &dyn RemoteChunks, root: &Path, prune: bool) -> Result<usize> {
    create_dir_private(root, true)?;
    for dir in SHARE_DIRS {
        create_dir_private(&root.join(dir), true)?;
    }
    let listed = remote
        .list(FILES)
        .map_err(Error::remote("list shipped key files"))?;
    let mut wanted = BTreeSet::new();
    let mut written = 0;
    for (name, _) in listed {
        let Some(rel) = name.strip_prefix(FILES).filter(|rel| is_shipped(rel)) else {
            continue;
        };
        wanted.insert(rel.to_owned());
        let path = root.join(rel);
        let Some(bytes) = remote
            .get(&name)
            .map_err(Error::remote("fetch a shipped key file"))?
        else {
            continue;
        };
        if std::fs::read(&path).is_ok_and(|have| have == bytes) {
            continue;
        }
        crate::write_private_file(&path, &bytes).map_err(Error::io("write a fetched key file"))?;
        written += 1;
    }
    if prune {
        for dir in SHARE_DIRS {
            for entry in std::fs::read_dir(root.join(dir))
                .map_err(Error::io("list key shares"))?
                .flatten()
            {
                let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
                if is_shipped(&rel) && !wanted.contains(&rel) {
                    std::fs::remove_file(entry.path())
                        .map_err(Error::io("remove a deleted bucket's key share"))?;
                }
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::is_shipped;

    #[test]
    fn only_key_files_are_shipped_or_fetched() {
        for ok in ["keys", "unlockers", "key-shares/00ff", "kms-shares/a-b_c.1"] {
            assert!(is_shipped(ok), "{ok}");
        }
        for bad in [
            "index.redb",
            "master.key",
            "key-shares/../keys",
            "key-shares/",
            "key-shares/x.tmp",
            "chunks/ab",
            "key-shares/a/b",
            "/etc/passwd",
        ] {
            assert!(!is_shipped(bad), "{bad}");
        }
    }
}
