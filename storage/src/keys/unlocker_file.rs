//! The on-disk form of `<data>/unlockers` (see `unlockers.rs` for what it means):
//! `magic ‖ postcard(UnlockerFile)`, 0600, replaced atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::keys::passphrase::Argon2Params;

/// File name under the data directory.
pub(crate) const FILE: &str = "unlockers";
const TEMP_FILE: &str = "unlockers.tmp";
const MAGIC: &[u8; 8] = b"CFRUNLK1";

/// The whole file. Nothing in it opens without an unlocker's secret.
#[derive(Serialize, Deserialize)]
pub(crate) struct UnlockerFile {
    /// The master key, wrapped by the unlock key.
    pub(crate) master: Vec<u8>,
    /// A rotation's new master key, wrapped by the unlock key, until the rotation is done.
    pub(crate) pending: Option<Vec<u8>>,
    /// The id the next unlocker gets (ids are never reused).
    pub(crate) next_id: u32,
    /// One entry per unlocker.
    pub(crate) unlockers: Vec<Entry>,
}

/// One unlocker: its public parameters and its wrap of the unlock key.
#[derive(Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Stable id (bound into the wrap as associated data).
    pub(crate) id: u32,
    /// Kind and public parameters.
    pub(crate) kind: StoredKind,
    /// The unlock key, wrapped by this unlocker's key-encryption key.
    pub(crate) wrapped: Vec<u8>,
}

/// What turns the secret into the key-encryption key. Variants are never reordered: the
/// index is the on-disk tag.
#[derive(Serialize, Deserialize)]
pub(crate) enum StoredKind {
    /// Argon2id of the passphrase with this salt.
    Passphrase {
        params: Argon2Params,
        salt: [u8; 16],
    },
    /// `blake3::derive_key` of a key file's key.
    Key,
    /// `blake3::derive_key` of the secret a k-of-n split recombines to.
    Shares {
        set: [u8; 4],
        threshold: u8,
        count: u8,
    },
}

fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

/// Reads and decodes the file; refuses Argon2 parameters below the minimum.
pub(crate) fn load(root: &Path) -> Result<UnlockerFile> {
    let bytes = std::fs::read(path(root)).map_err(Error::io("read unlockers file"))?;
    decode(&bytes)
}

/// Decodes the file's bytes; refuses Argon2 parameters below the minimum.
pub(crate) fn decode(bytes: &[u8]) -> Result<UnlockerFile> {
    let body = bytes.strip_prefix(MAGIC).ok_or(Error::Corrupt {
        what: "unlockers file",
    })?;
    let file: UnlockerFile = postcard::from_bytes(body).map_err(|_| Error::Corrupt {
        what: "unlockers file",
    })?;
    for entry in &file.unlockers {
        if let StoredKind::Passphrase { params, .. } = &entry.kind {
            // Refuse a file edited to cheap parameters before anyone types a passphrase.
            params.check()?;
        }
    }
    Ok(file)
}

/// The file's bytes: magic and postcard.
pub(crate) fn encode(file: &UnlockerFile) -> Result<Vec<u8>> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend(postcard::to_stdvec(file).map_err(|_| Error::Corrupt {
        what: "unlockers file (encode)",
    })?);
    Ok(bytes)
}

/// Replaces the file atomically: temp file (0600), fsync, rename, fsync of the directory.
pub(crate) fn store(root: &Path, file: &UnlockerFile) -> Result<()> {
    let bytes = encode(file)?;
    crate::durable::replace_file(&root.join(TEMP_FILE), &path(root), &bytes, true)
        .map_err(Error::io("write unlockers file"))
}
