//! The anchor expiry leaves: a sealed note of where the trail now starts.
//!
//! Without it, [`crate::verify`] would have to trust the oldest segment's header, and
//! removing the oldest segments by hand would go unnoticed. With it, a trail that does not
//! start at sequence 1 verifies only if the anchor opens under the trail's key and names a
//! segment the trail still reaches with the same header.
//!
//! ```text
//! anchor file = "CANK" ‖ format (1) ‖ nonce (12) ‖ sealed postcard Anchor
//! ```
//!
//! The clear prefix is the associated data; the anchor key is derived from the trail's key
//! with its own label, so only the trail's owner can write one, and an anchor from another
//! trail does not open.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::format::Header;
use crate::keys::AuditKey;
use crate::writer::{set_private, sync_dir};
use crate::{Error, Result};

/// The anchor's file name in the trail's directory.
pub const ANCHOR_FILE: &str = "anchor.audit";
/// Where an anchor is written before it is renamed over [`ANCHOR_FILE`].
const ANCHOR_TEMP: &str = "anchor.audit.tmp";
const MAGIC: &[u8; 4] = b"CANK";
const FORMAT: u8 = 1;
const PREFIX: usize = 4 + 1;
/// An anchor is a few dozen bytes; anything much longer is not one.
const MAX_LEN: u64 = 4096;

/// Where the trail starts after expiry, and what was removed before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Anchor {
    /// The oldest segment kept.
    pub(crate) segment: u64,
    /// Its first sequence number: records 1 to `first - 1` were removed.
    pub(crate) first: u64,
    /// The chain hash before it.
    pub(crate) chain: [u8; 32],
    /// Segments removed since the trail began, counting those this expiry removes.
    pub(crate) segments_removed: u64,
    /// When this expiry ran, in milliseconds since the Unix epoch.
    pub(crate) removed_at_ms: u64,
    /// The cutoff it applied: every removed record is older than this.
    pub(crate) cutoff_ms: u64,
}

impl Anchor {
    /// Whether `header` is the header this anchor names.
    pub(crate) fn matches(&self, header: &Header) -> bool {
        self.first == header.first && self.chain == header.chain
    }
}

fn bad(what: &'static str) -> Error {
    Error::BadAnchor { what }
}

/// The anchor in `dir`, if there is one.
///
/// # Errors
/// `Error::BadAnchor` if it is not an anchor or does not open under `key` (altered, or
/// from another trail); I/O errors.
pub(crate) fn read(dir: &Path, key: &AuditKey) -> Result<Option<Anchor>> {
    let path = dir.join(ANCHOR_FILE);
    let len = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read audit anchor")(e)),
    };
    if len > MAX_LEN {
        return Err(bad("the anchor file is not an anchor"));
    }
    let bytes = std::fs::read(&path).map_err(Error::io("read audit anchor"))?;
    decode(&bytes, key).map(Some)
}

/// Opens and decodes an anchor file's bytes.
pub(crate) fn decode(bytes: &[u8], key: &AuditKey) -> Result<Anchor> {
    if bytes.len() < PREFIX + 12 || &bytes[..4] != MAGIC || bytes[4] != FORMAT {
        return Err(bad("the anchor file is not an anchor"));
    }
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&bytes[PREFIX..PREFIX + 12]);
    let plain = key
        .open_anchor(&bytes[..PREFIX], &nonce, &bytes[PREFIX + 12..])
        .ok_or_else(|| {
            bad("the anchor does not open under the trail's key: it was altered, or comes from another trail")
        })?;
    postcard::from_bytes(&plain).map_err(|_| bad("the anchor does not decode"))
}

/// Replaces the anchor in `dir` by `anchor`, durably: written to a temporary file,
/// fsynced, renamed over the old one, and the directory fsynced, so a crash leaves the old
/// anchor or the new one, never a mix.
///
/// # Errors
/// I/O errors.
pub(crate) fn write(dir: &Path, key: &AuditKey, anchor: &Anchor) -> Result<()> {
    let plain = zeroize::Zeroizing::new(postcard::to_allocvec(anchor).map_err(|_| Error::Encode)?);
    let bytes = seal(key, &plain)?;
    let temp = dir.join(ANCHOR_TEMP);
    // A temporary file left by a crash is simply overwritten: there is one writer.
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&temp)
        .map_err(Error::io("create audit anchor"))?;
    set_private(&temp)?;
    file.write_all(&bytes)
        .map_err(Error::io("write audit anchor"))?;
    file.sync_all().map_err(Error::io("sync audit anchor"))?;
    drop(file);
    std::fs::rename(&temp, dir.join(ANCHOR_FILE)).map_err(Error::io("rename audit anchor"))?;
    // The rename is durable only once the directory is fsynced; segments must not be
    // removed before it is.
    sync_dir(dir)
}

/// The anchor file's bytes for the postcard `plain`: clear prefix, nonce, sealed body.
pub(crate) fn seal(key: &AuditKey, plain: &[u8]) -> Result<Vec<u8>> {
    let mut prefix = [0u8; PREFIX];
    prefix[..4].copy_from_slice(MAGIC);
    prefix[4] = FORMAT;
    let (nonce, sealed) = key.seal_anchor(&prefix, plain).ok_or(Error::Encode)?;
    let mut bytes = Vec::with_capacity(PREFIX + nonce.len() + sealed.len());
    bytes.extend_from_slice(&prefix);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    Ok(bytes)
}

/// Checks that the oldest segment present, `segment` with `header`, may start the trail:
/// it starts at sequence 1, or `anchor` vouches for the records before it. An anchor
/// naming a later segment passes here (expiry wrote it and stopped before removing every
/// segment before that one); the caller must then see the trail reach that segment with
/// the anchor's header.
///
/// # Errors
/// `Error::StartRemoved` without an anchor; `Error::StaleAnchor` if the anchor names a
/// segment older than the oldest present (segments were removed after it was written).
pub(crate) fn check_start(segment: u64, header: &Header, anchor: Option<&Anchor>) -> Result<()> {
    match anchor {
        Some(a) if a.segment < segment => Err(Error::StaleAnchor {
            segment,
            first: header.first,
            anchored: a.first,
        }),
        Some(_) => Ok(()),
        None if *header == Header::GENESIS => Ok(()),
        None => Err(Error::StartRemoved {
            segment,
            first: header.first,
        }),
    }
}
