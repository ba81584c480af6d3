//! What callers see of versioning, Object Lock and conditional writes.
//!
//! The rules themselves (which version becomes current, what a lock forbids) are applied
//! inside the index transaction, in `index/versions.rs`, so a concurrent request can never
//! slip between a check and the change it guards.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A bucket's versioning state. Once enabled it never goes back to `Unversioned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: a write replaces the object, a delete removes it.
    Unversioned,
    /// Every write makes a new version; a delete writes a delete marker.
    Enabled,
    /// Writes replace the `null` version; older versions are kept.
    Suspended,
}

impl Versioning {
    /// The one-byte stored form (`Unversioned` is the absence of the setting).
    pub(crate) fn to_byte(self) -> Option<u8> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(1),
            Versioning::Suspended => Some(2),
        }
    }

    pub(crate) fn from_byte(byte: Option<&[u8]>) -> Result<Versioning> {
        match byte {
            None => Ok(Versioning::Unversioned),
            Some([1]) => Ok(Versioning::Enabled),
            Some([2]) => Ok(Versioning::Suspended),
            Some(_) => Err(Error::Corrupt {
                what: "versioning setting",
            }),
        }
    }
}

/// An Object Lock retention mode. Stored as its variant index: never reorder, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    /// Removable early by a caller allowed to bypass governance retention.
    Governance,
    /// Removable by no one, root included, until it expires.
    Compliance,
}

/// A version's retention: it cannot be deleted or overwritten before `until_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// The mode.
    pub mode: LockMode,
    /// Retain until, in milliseconds since the Unix epoch.
    pub until_ms: u64,
}

/// The Object Lock state of one version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    /// Retention, if any (it may have expired: compare with the clock).
    pub retention: Option<Retention>,
    /// A legal hold: no deletion at all while it is on, whatever the retention.
    pub legal_hold: bool,
}

impl ObjectLock {
    /// Whether this lock asks for anything.
    pub fn is_set(&self) -> bool {
        self.retention.is_some() || self.legal_hold
    }
}

/// How long a bucket's default retention lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    /// Days.
    Days(u32),
    /// Years (of 365 days).
    Years(u32),
}

impl RetentionPeriod {
    /// The period in milliseconds (saturating).
    pub fn as_ms(self) -> u64 {
        let days = match self {
            RetentionPeriod::Days(d) => u64::from(d),
            RetentionPeriod::Years(y) => u64::from(y).saturating_mul(365),
        };
        days.saturating_mul(86_400_000)
    }
}

/// The retention a bucket gives new versions that ask for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    /// The mode.
    pub mode: LockMode,
    /// How long.
    pub period: RetentionPeriod,
}

/// A bucket's Object Lock configuration. Its presence means Object Lock is enabled, which
/// cannot be undone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// Applied to new versions written without a retention of their own.
    pub default_retention: Option<DefaultRetention>,
}

/// A condition a write or delete needs to hold at commit time (checked in the same index
/// transaction as the change, so of many concurrent creators exactly one wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `If-None-Match: *`: no current object at the key.
    IfNoneMatch,
    /// `If-Match`: the current object's `ETag` is this (hex, no quotes), or `*` for any.
    IfMatch(String),
}

/// Which version a request names: `null` or an id this store issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRef {
    /// The `null` version.
    Null,
    /// A version made while versioning was enabled.
    Id(u64),
}

/// The text of the `null` version id.
pub const NULL_VERSION: &str = "null";
const ID_LEN: usize = 16;

impl VersionRef {
    /// Parses a client's `versionId`.
    ///
    /// # Errors
    /// `Error::InvalidVersionId` for text this store never issues.
    pub fn parse(text: &str) -> Result<VersionRef> {
        if text == NULL_VERSION {
            return Ok(VersionRef::Null);
        }
        if text.len() != ID_LEN || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::InvalidVersionId);
        }
        let mut bytes = [0u8; 8];
        hex::decode_to_slice(text.to_ascii_lowercase(), &mut bytes)
            .map_err(|_| Error::InvalidVersionId)?;
        // Ids are shown with the sequence scrambled, so one version id does not say how
        // many writes the store has seen; the scramble is a fixed permutation.
        Ok(VersionRef::Id(unscramble(u64::from_le_bytes(bytes))))
    }

    /// The text a client sees.
    pub(crate) fn id_text(seq: u64) -> String {
        hex::encode(scramble(seq).to_le_bytes())
    }
}

impl std::fmt::Display for VersionRef {
    /// The id as clients see it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionRef::Null => f.write_str(NULL_VERSION),
            VersionRef::Id(seq) => f.write_str(&VersionRef::id_text(*seq)),
        }
    }
}

// An odd multiplier and its inverse mod 2^64, with xor-shifts: a bijection on u64.
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const MUL_INV: u64 = inverse(MUL);

/// The inverse of an odd number mod 2^64 (Newton's iteration doubles the correct bits).
const fn inverse(a: u64) -> u64 {
    let mut x = a;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

fn scramble(x: u64) -> u64 {
    let x = x ^ (x >> 31);
    let x = x.wrapping_mul(MUL);
    x ^ (x >> 29)
}

fn unscramble(y: u64) -> u64 {
    // Inverse of `x ^ (x >> 29)`: apply twice more (29 * 3 > 64).
    let y = y ^ (y >> 29) ^ (y >> 58);
    let x = y.wrapping_mul(MUL_INV);
    x ^ (x >> 31) ^ (x >> 62)
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Whether something was there (a version, or a current object).
    pub found: bool,
    /// The version removed or created is a delete marker.
    pub delete_marker: bool,
    /// The id of the version removed or of the delete marker written; `None` in a bucket
    /// that never had versioning.
    pub version_id: Option<String>,
}

/// One page request of [`Store::list_object_versions`](crate::Store::list_object_versions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionListParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first delimiter after the prefix into common prefixes.
    pub delimiter: Option<String>,
    /// Start after this key (or within it, after `version_id_marker`).
    pub key_marker: Option<String>,
    /// With `key_marker`: start after this version of that key.
    pub version_id_marker: Option<String>,
    /// Versions and common prefixes per page, at least 1.
    pub max_keys: usize,
}

/// One version or delete marker in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionSummary {
    /// Object key.
    pub key: String,
    /// Version id (`null` for the null version).
    pub version_id: String,
    /// Whether it is the key's latest version.
    pub is_latest: bool,
    /// A delete marker (then size and `ETag` are empty).
    pub delete_marker: bool,
    /// Size in bytes.
    pub size: u64,
    /// Hex `ETag`, no quotes.
    pub etag: String,
    /// When it was written.
    pub last_modified: std::time::SystemTime,
}

/// An entry of a version listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionListEntry {
    /// A version or delete marker.
    Version(VersionSummary),
    /// Keys rolled up under a common prefix.
    CommonPrefix(String),
}

/// One page of versions, keys in byte order, each key's versions newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionsPage {
    /// The entries.
    pub entries: Vec<VersionListEntry>,
    /// More follow: continue with `next_key_marker` and `next_version_id_marker`.
    pub is_truncated: bool,
    /// Where the next page starts (set when truncated).
    pub next_key_marker: Option<String>,
    /// Where the next page starts within `next_key_marker` (set when truncated after a version).
    pub next_version_id_marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn version_ids_round_trip(seq in any::<u64>()) {
            let text = VersionRef::id_text(seq);
            prop_assert_eq!(text.len(), ID_LEN);
            prop_assert_eq!(VersionRef::parse(&text).unwrap(), VersionRef::Id(seq));
        }
    }

    #[test]
    fn null_and_garbage() {
        assert_eq!(VersionRef::parse("null").unwrap(), VersionRef::Null);
        for bad in ["", "NULL", "xyz", "0123456789abcdeg", "0123456789abcdef0"] {
            assert!(matches!(
                VersionRef::parse(bad),
                Err(Error::InvalidVersionId)
            ));
        }
        // Consecutive writes do not get consecutive-looking ids.
        assert_ne!(VersionRef::id_text(1)[..8], VersionRef::id_text(2)[..8]);
    }
}
