//! The version listing (ListObjectVersions): keys in byte order taken from both tables
//! (`objects` for current versions, `versions` for the rest), each key's versions newest
//! first. One seek per key into each table, and a delimiter skips a whole common prefix,
//! so a page costs its own size whatever the bucket holds.

use std::ops::Bound;

use redb::ReadOnlyTable;

use super::snapshot::Snapshot;
use super::versions::{key_of_version, versions_prefix, versions_prefix_bytes};
use super::{prefix_end, prefixed};
use crate::error::{Error, Result};
use crate::object::time_from_ms;
use crate::records::{self, BucketId, ObjectHead, VersionHead};
use crate::version::{VersionListEntry, VersionListParams, VersionSummary, VersionsPage};

impl Snapshot {
    /// One page of every version of a bucket's keys.
    pub(crate) fn list_versions(
        &self,
        bucket: &BucketId,
        params: &VersionListParams,
    ) -> Result<VersionsPage> {
        let versions = self.versions_table()?;
        VersionScan {
            objects: self.objects_table(),
            versions: &versions,
            bucket,
            params,
        }
        .run()
    }
}

/// The version listing: keys in byte order taken from both tables, each key's versions
/// newest first (its current object, then older versions).
struct VersionScan<'a> {
    objects: &'a ReadOnlyTable<&'static [u8], &'static [u8]>,
    versions: &'a ReadOnlyTable<&'static [u8], &'static [u8]>,
    bucket: &'a BucketId,
    params: &'a VersionListParams,
}

/// Where the key scan stands: keys at or after `key` (or strictly after, if `after`).
/// Bytes, not text: the end of a common prefix need not be valid UTF-8.
struct Cursor {
    key: Vec<u8>,
    after: bool,
}

impl VersionScan<'_> {
    fn run(&self) -> Result<VersionsPage> {
        let prefix = self.params.prefix.as_str();
        let delimiter = self.params.delimiter.as_deref().filter(|d| !d.is_empty());
        let max = self.params.max_keys.max(1);
        let mut page = VersionsPage::default();
        let mut skip_until: Option<&str> = None;
        let mut cursor = Cursor {
            key: prefix.as_bytes().to_vec(),
            after: false,
        };
        if let Some(marker) = self.params.key_marker.as_deref()
            && marker >= prefix
        {
            // A marker inside a common prefix (a page ended on it) skips all of it.
            let common = delimiter.and_then(|d| {
                let rest = marker.strip_prefix(prefix)?;
                rest.find(d)
                    .map(|at| &marker[..prefix.len() + at + d.len()])
            });
            cursor = match (common, self.params.version_id_marker.as_deref()) {
                (Some(common), _) => match prefix_end(common.as_bytes()) {
                    Some(key) => Cursor { key, after: false },
                    None => return Ok(page),
                },
                (None, Some(vmarker)) => {
                    skip_until = Some(vmarker);
                    Cursor {
                        key: marker.as_bytes().to_vec(),
                        after: false,
                    }
                }
                (None, None) => Cursor {
                    key: marker.as_bytes().to_vec(),
                    after: true,
                },
            };
        }
        let mut emitted = 0usize;
        while let Some(key) = self.next_key(&cursor)? {
            if !key.starts_with(prefix) {
                break;
            }
            let common = delimiter.and_then(|d| {
                key[prefix.len()..]
                    .find(d)
                    .map(|at| key[..prefix.len() + at + d.len()].to_owned())
            });
            if let Some(common) = common {
                if emitted >= max {
                    page.is_truncated = true;
                    break;
                }
                emitted += 1;
                page.entries
                    .push(VersionListEntry::CommonPrefix(common.clone()));
                page.next_key_marker = Some(common.clone());
                page.next_version_id_marker = None;
                match prefix_end(common.as_bytes()) {
                    Some(key) => {
                        cursor = Cursor { key, after: false };
                        continue;
                    }
                    None => break,
                }
            }
            let mut versions = self.versions_of(&key)?;
            if let Some(vmarker) = skip_until.take()
                && key == self.params.key_marker.as_deref().unwrap_or_default()
            {
                match versions.iter().position(|v| v.version_id == vmarker) {
                    Some(at) => {
                        versions.drain(..=at);
                    }
                    None => versions.clear(),
                }
            }
            for v in versions {
                if emitted >= max {
                    page.is_truncated = true;
                    break;
                }
                emitted += 1;
                page.next_key_marker = Some(v.key.clone());
                page.next_version_id_marker = Some(v.version_id.clone());
                page.entries.push(VersionListEntry::Version(v));
            }
            if page.is_truncated {
                break;
            }
            cursor = Cursor {
                key: key.into_bytes(),
                after: true,
            };
        }
        if !page.is_truncated {
            page.next_key_marker = None;
            page.next_version_id_marker = None;
        }
        Ok(page)
    }

    /// The smallest key at the cursor that has a current object or an older version.
    fn next_key(&self, cursor: &Cursor) -> Result<Option<String>> {
        let objects_lower = prefixed(self.bucket, &cursor.key);
        let objects_upper = prefix_end(self.bucket).map(Bound::Excluded);
        let from_objects = {
            let lower = if cursor.after {
                Bound::Excluded(objects_lower.as_slice())
            } else {
                Bound::Included(objects_lower.as_slice())
            };
            let upper = match &objects_upper {
                Some(Bound::Excluded(end)) => Bound::Excluded(end.as_slice()),
                _ => Bound::Unbounded,
            };
            let first = self
                .objects
                .range::<&[u8]>((lower, upper))
                .map_err(Error::index("scan objects"))?
                .next()
                .transpose()
                .map_err(Error::index("scan objects"))?;
            match first {
                Some((k, _)) => Some(
                    k.value()
                        .get(self.bucket.len()..)
                        .and_then(|k| std::str::from_utf8(k).ok())
                        .ok_or(Error::Corrupt { what: "object key" })?
                        .to_owned(),
                ),
                None => None,
            }
        };
        let from_versions = {
            let start = versions_prefix_bytes(self.bucket, &cursor.key);
            // All of a key's versions share its prefix: to go past the key, skip it whole.
            let lower = if cursor.after {
                prefix_end(&start).unwrap_or_default()
            } else {
                start
            };
            let upper = prefix_end(self.bucket);
            let range = match &upper {
                Some(end) => self.versions.range(lower.as_slice()..end.as_slice()),
                None => self.versions.range(lower.as_slice()..),
            }
            .map_err(Error::index("scan versions"))?
            .next()
            .transpose()
            .map_err(Error::index("scan versions"))?;
            match range {
                Some((k, _)) => Some(key_of_version(self.bucket, k.value())?),
                None => None,
            }
        };
        Ok(match (from_objects, from_versions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Every version of `key`, newest first.
    fn versions_of(&self, key: &str) -> Result<Vec<VersionSummary>> {
        let mut out = Vec::new();
        if let Some(v) = self
            .objects
            .get(prefixed(self.bucket, key.as_bytes()).as_slice())
            .map_err(Error::index("read object"))?
        {
            let (head, _) = records::decode_prefix::<ObjectHead>(v.value(), "object record")?;
            out.push(summary(key, &VersionHead::Object(head), true));
        }
        let start = versions_prefix(self.bucket, key);
        let end = prefix_end(&start).unwrap_or_default();
        for entry in self
            .versions
            .range(start.as_slice()..end.as_slice())
            .map_err(Error::index("scan versions"))?
        {
            let (_, v) = entry.map_err(Error::index("scan versions"))?;
            let (head, _) = records::decode_prefix::<VersionHead>(v.value(), "version record")?;
            let latest = out.is_empty();
            out.push(summary(key, &head, latest));
        }
        Ok(out)
    }
}

fn summary(key: &str, head: &VersionHead, is_latest: bool) -> VersionSummary {
    match head {
        VersionHead::Object(h) => VersionSummary {
            key: key.to_owned(),
            version_id: h.version.id_text(),
            is_latest,
            delete_marker: false,
            size: h.size,
            etag: h.etag.clone(),
            last_modified: time_from_ms(h.modified_ms),
        },
        VersionHead::DeleteMarker(m) => VersionSummary {
            key: key.to_owned(),
            version_id: m.version.id_text(),
            is_latest,
            delete_marker: true,
            size: 0,
            etag: String::new(),
            last_modified: time_from_ms(m.modified_ms),
        },
    }
}
