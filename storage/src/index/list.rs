//! The listing scan: a range scan over `bucket id ‖ key`, with delimiter jumps.
//!
//! When a key collapses into a common prefix, the scan seeks past every key with that
//! prefix instead of iterating them, so a folder of a million objects costs one seek.

use std::ops::Bound;

use redb::ReadOnlyTable;

use super::{prefix_end, prefixed};
use crate::error::{Error, Result};
use crate::list::{ListEntry, ListPage, ListParams, ObjectSummary};
use crate::object::time_from_ms;
use crate::records::{self, BucketId, ObjectHead};

/// Lists one page.
pub(super) fn scan(
    objects: &ReadOnlyTable<&'static [u8], &'static [u8]>,
    bucket: &BucketId,
    params: &ListParams,
) -> Result<ListPage> {
    let prefix = params.prefix.as_str();
    let delimiter = params.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut page = ListPage::default();

    let upper = match prefix_end(&prefixed(bucket, prefix.as_bytes())) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    let mut lower = Bound::Included(prefixed(bucket, prefix.as_bytes()));
    if let Some(start_after) = params.start_after.as_deref()
        && start_after >= prefix
    {
        // Inside a common prefix: skip all of it.
        let common = delimiter.and_then(|d| {
            let rest = start_after.strip_prefix(prefix)?;
            rest.find(d)
                .map(|at| &start_after[..prefix.len() + at + d.len()])
        });
        lower = match common {
            Some(common) => match prefix_end(&prefixed(bucket, common.as_bytes())) {
                Some(end) => Bound::Included(end),
                None => return Ok(page),
            },
            None => Bound::Excluded(prefixed(bucket, start_after.as_bytes())),
        };
    }

    'seek: loop {
        if is_empty(&lower, &upper) {
            break;
        }
        let range = objects
            .range::<&[u8]>((as_slice(&lower), as_slice(&upper)))
            .map_err(Error::index("scan objects"))?;
        for entry in range {
            let (full_key, value) = entry.map_err(Error::index("scan objects"))?;
            let key = full_key
                .value()
                .get(bucket.len()..)
                .and_then(|k| std::str::from_utf8(k).ok())
                .ok_or(Error::Corrupt { what: "object key" })?;
            if page.entries.len() >= params.max_keys {
                page.is_truncated = true;
                break 'seek;
            }
            let common = delimiter.and_then(|d| {
                key.get(prefix.len()..)?
                    .find(d)
                    .map(|at| &key[..prefix.len() + at + d.len()])
            });
            if let Some(common) = common {
                page.entries
                    .push(ListEntry::CommonPrefix(common.to_owned()));
                match prefix_end(&prefixed(bucket, common.as_bytes())) {
                    Some(end) => {
                        lower = Bound::Included(end);
                        continue 'seek;
                    }
                    None => break 'seek,
                }
            }
            let (head, _) = records::decode_prefix::<ObjectHead>(value.value(), "object record")?;
            page.entries.push(ListEntry::Object(ObjectSummary {
                key: key.to_owned(),
                size: head.size,
                etag: head.etag,
                last_modified: time_from_ms(head.modified_ms),
            }));
        }
        break;
    }
    page.last = page.entries.last().map(|e| e.key().to_owned());
    Ok(page)
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether no key can lie between the bounds (a range with start > end must not be built).
fn is_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let (Bound::Included(lo) | Bound::Excluded(lo)) = lower else {
        return false;
    };
    match upper {
        Bound::Unbounded => false,
        Bound::Excluded(hi) => lo >= hi,
        Bound::Included(hi) => lo > hi,
    }
}
