//! `<data>/keys`: the index key, wrapped by the master key, beside the index it opens.
//!
//! The index is sealed with a random index key, so the key that opens it cannot live inside
//! it. This small file holds `magic ‖ key check ‖ wrapped index key` (each wrapped blob
//! length-prefixed, u16 LE). The key check tells a wrong master key apart from a damaged
//! file, and it is verified before the index is touched, so a wrong master key changes
//! nothing on disk. The file is 0600 and replaced atomically (temp file, fsync, rename,
//! fsync of the directory), which also makes a master key rotation's switch-over atomic.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::keyring::Keyring;

/// File name under the data directory.
pub(crate) const KEY_FILE: &str = "keys";
const TEMP_FILE: &str = "keys.tmp";
const MAGIC: &[u8; 8] = b"CFRKEYS1";

/// The path of the key file of data directory `root`.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(KEY_FILE)
}

/// Reads the index key; `Ok(None)` if there is no key file yet.
///
/// # Errors
/// `Error::WrongMasterKey` if the key check does not open under `keyring`;
/// `Error::Corrupt` if the file is damaged.
pub(crate) fn load(root: &Path, keyring: &Keyring) -> Result<Option<Zeroizing<[u8; 32]>>> {
    let bytes = match std::fs::read(path(root)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                action: "read key file",
                source,
            });
        }
    };
    let (check, wrapped) = parse(&bytes).ok_or(Error::Corrupt { what: "key file" })?;
    keyring.verify_key_check(check)?;
    keyring.open_index_key(wrapped).map(Some)
}

/// Writes the key file for `index_key` under `keyring`, replacing any existing one
/// atomically. `sync` fsyncs the file and the directory.
pub(crate) fn store(
    root: &Path,
    keyring: &Keyring,
    index_key: &[u8; 32],
    sync: bool,
) -> Result<()> {
    let check = keyring.key_check()?;
    let wrapped = keyring.wrap_index_key(index_key)?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + check.len() + wrapped.len());
    bytes.extend_from_slice(MAGIC);
    for blob in [&check, &wrapped] {
        let len = u16::try_from(blob.len()).map_err(|_| Error::Corrupt {
            what: "oversized key blob",
        })?;
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(blob);
    }
    crate::durable::replace_file(&root.join(TEMP_FILE), &path(root), &bytes, sync)
        .map_err(Error::io("write key file"))?;
    Ok(())
}

pub(crate) fn parse(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (check, rest) = blob(rest)?;
    let (wrapped, rest) = blob(rest)?;
    rest.is_empty().then_some((check, wrapped))
}

fn blob(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::keyring::MasterKey;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn round_trip_wrong_key_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::new(&MasterKey::generate().unwrap());
        assert!(load(dir.path(), &ring).unwrap().is_none());
        store(dir.path(), &ring, &[5; 32], true).unwrap();
        assert_eq!(*load(dir.path(), &ring).unwrap().unwrap(), [5; 32]);
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let other = Keyring::new(&MasterKey::generate().unwrap());
        assert!(matches!(
            load(dir.path(), &other),
            Err(Error::WrongMasterKey)
        ));

        let mut bytes = std::fs::read(path(dir.path())).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(path(dir.path()), &bytes).unwrap();
        assert!(matches!(
            load(dir.path(), &ring),
            Err(Error::Corrupt { .. })
        ));
    }
}
