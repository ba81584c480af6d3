//! Listing parameters and pages (S3 `ListObjects`/`ListObjectsV2` semantics, byte order).

use std::time::SystemTime;

/// What to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Collapse keys that contain this after the prefix into one common prefix (up to and
    /// including its first occurrence). Any non-empty string; empty means none.
    pub delimiter: Option<String>,
    /// Exclusive start. If it falls inside a common prefix (with the delimiter), the whole
    /// prefix is skipped, so a page's `last` can be passed back as-is.
    pub start_after: Option<String>,
    /// At most this many entries; 0 gives an empty page whose `is_truncated` says whether
    /// any key exists.
    pub max_keys: usize,
}

/// One entry of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListEntry {
    /// An object.
    Object(ObjectSummary),
    /// Keys collapsed by the delimiter: the prefix, delimiter included.
    CommonPrefix(String),
}

impl ListEntry {
    /// The object key or the common prefix.
    pub fn key(&self) -> &str {
        match self {
            ListEntry::Object(o) => &o.key,
            ListEntry::CommonPrefix(p) => p,
        }
    }
}

/// What a listing shows of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSummary {
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex, no quotes.
    pub etag: String,
    /// Millisecond precision.
    pub last_modified: SystemTime,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// In key order; objects and common prefixes each count one toward `max_keys`.
    pub entries: Vec<ListEntry>,
    /// Whether more entries follow.
    pub is_truncated: bool,
    /// The key or common prefix of the last entry (for markers and continuation tokens).
    pub last: Option<String>,
}
