//! Multipart uploads in the index: uploads, their parts, and the part layout of completed
//! multipart objects.
//!
//! | table | key | value |
//! |---|---|---|
//! | `uploads` | bucket id ‖ upload id (16 random bytes) | [`UploadRecord`] |
//! | `upload_parts` | bucket id ‖ upload id ‖ part number (2 bytes, big-endian) | [`PartRecord`] |
//! | `multipart_layouts` | bucket id ‖ object key | [`LayoutRecord`] |
//!
//! A part's chunks are counted in `chunk_refs` like an object's, so they survive restarts
//! and sweeps; replacing or aborting a part drops its references. Completing links the
//! parts' chunks into the object record (its references are added before the parts' are
//! dropped, so no chunk touches zero) — all in one transaction. A completed upload stays
//! as a small tombstone (key, `ETag`, mtime) so a retried completion answers the same;
//! the expiry sweep removes it.
//!
//! Part numbers are stored big-endian so parts sort in number order.

use crate::keys::encryption::Encryption;
use redb::{ReadOnlyTable, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use serde::{Deserialize, Serialize};

use super::batch::Batch;
use super::{BUCKET_KEYS, Index, OBJECTS, prefix_end, prefixed};
use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use crate::error::{Error, Result};
use crate::object::ObjectMeta;
use crate::records::{self, BucketId, ChunkRef, ObjectRecord, VersionStamp};
use crate::version::{ObjectLock, Precondition};

pub(super) const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");
pub(super) const PARTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("upload_parts");
pub(super) const LAYOUTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("multipart_layouts");

/// An upload's random id.
pub(crate) type UploadId = [u8; 16];

/// Smallest size of every part but the last (AWS: 5 MiB).
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;

/// A multipart upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub(crate) key: String,
    pub(crate) created_ms: u64,
    pub(crate) meta: ObjectMeta,
    pub(crate) checksum_algorithm: Option<ChecksumAlgorithm>,
    pub(crate) checksum_type: Option<ChecksumType>,
    /// Set once completed: the object it became.
    pub(crate) completed: Option<Completed>,
    /// The object's retention and legal hold.
    pub(crate) lock: ObjectLock,
    /// The keys every part must be written under (SSE-C: the upload's customer key; SSE-KMS: its KMS key).
    pub(crate) encryption: Encryption,
}

impl records::Record for UploadRecord {
    // 2: `meta` carries the object's ACL grants until completion; 3: Object Lock; 4: tags
    // in `meta`.
    const VERSION: u8 = 4;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        let (old, rest) = match version {
            3 => postcard::take_from_bytes::<UploadRecordV3>(body).ok()?,
            _ => return None,
        };
        Some((
            UploadRecord {
                key: old.key,
                created_ms: old.created_ms,
                meta: old.meta.into(),
                checksum_algorithm: old.checksum_algorithm,
                checksum_type: old.checksum_type,
                completed: old.completed,
                lock: old.lock,
                encryption: old.encryption,
            },
            rest,
        ))
    }
}

/// An [`UploadRecord`] as version 3 wrote it: metadata without tags.
#[derive(Serialize, Deserialize)]
struct UploadRecordV3 {
    key: String,
    created_ms: u64,
    meta: records::ObjectMetaV4,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    checksum_type: Option<ChecksumType>,
    completed: Option<Completed>,
    lock: ObjectLock,
    encryption: Encryption,
}

/// What a completed upload became.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Completed {
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) modified_ms: u64,
    pub(crate) checksums: Vec<Checksum>,
    pub(crate) chunks: Vec<ChunkRef>,
}

impl records::Record for PartRecord {}

/// The parts a multipart object was completed from, for `partNumber` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayoutRecord {
    /// The object version this layout belongs to.
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
    pub(crate) parts: Vec<LayoutPart>,
}

impl records::Record for LayoutRecord {}

/// One part of a completed object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayoutPart {
    pub(crate) size: u64,
    pub(crate) checksums: Vec<Checksum>,
}

fn upload_key(bucket: &BucketId, id: &UploadId) -> Vec<u8> {
    prefixed(bucket, id)
}

fn part_key(bucket: &BucketId, id: &UploadId, number: u16) -> Vec<u8> {
    let mut key = upload_key(bucket, id);
    let mut n = number.to_le_bytes();
    n.reverse();
    key.extend_from_slice(&n);
    key
}

pub(super) fn part_number_of(key: &[u8]) -> u16 {
    match key {
        [.., hi, lo] => u16::from_le_bytes([*lo, *hi]),
        _ => 0,
    }
}

/// Creates the multipart tables if this index predates them.
pub(super) fn create_tables(txn: &redb::WriteTransaction) -> Result<()> {
    txn.open_table(UPLOADS)
        .map_err(Error::index("create table"))?;
    txn.open_table(PARTS)
        .map_err(Error::index("create table"))?;
    txn.open_table(LAYOUTS)
        .map_err(Error::index("create table"))?;
    Ok(())
}

/// A consistent read view of the multipart tables.
pub(crate) struct UploadsView {
    uploads: ReadOnlyTable<&'static [u8], &'static [u8]>,
    parts: ReadOnlyTable<&'static [u8], &'static [u8]>,
    layouts: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Index {
    /// A read view of the multipart tables at the last commit.
    pub(crate) fn uploads_view(&self) -> Result<UploadsView> {
        let txn = self.db.begin_read().map_err(Error::index("begin read"))?;
        let open = Error::index::<redb::TableError>;
        Ok(UploadsView {
            uploads: txn.open_table(UPLOADS).map_err(open("open uploads"))?,
            parts: txn.open_table(PARTS).map_err(open("open upload parts"))?,
            layouts: txn
                .open_table(LAYOUTS)
                .map_err(open("open multipart layouts"))?,
        })
    }
}

impl UploadsView {
    /// The upload, completed or not.
    pub(crate) fn upload(&self, bucket: &BucketId, id: &UploadId) -> Result<Option<UploadRecord>> {
        self.uploads
            .get(upload_key(bucket, id).as_slice())
            .map_err(Error::index("read upload"))?
            .map(|v| records::decode(v.value(), "upload record"))
            .transpose()
    }

    /// Up to `max` parts numbered above `after`, and whether more follow.
    pub(crate) fn parts(
        &self,
        bucket: &BucketId,
        id: &UploadId,
        after: u16,
        max: usize,
    ) -> Result<(Vec<(u16, PartRecord)>, bool)> {
        let start = part_key(bucket, id, after.saturating_add(1));
        let end = prefix_end(&upload_key(bucket, id)).unwrap_or_default();
        let mut out = Vec::new();
        if after == u16::MAX {
            return Ok((out, false));
        }
        for entry in self
            .parts
            .range(start.as_slice()..end.as_slice())
            .map_err(Error::index("scan parts"))?
        {
            let (k, v) = entry.map_err(Error::index("scan parts"))?;
            if out.len() == max {
                return Ok((out, true));
            }
            out.push((
                part_number_of(k.value()),
                records::decode(v.value(), "part record")?,
            ));
        }
        Ok((out, false))
    }

    /// Every upload of a bucket that is not completed, in no particular order.
    pub(crate) fn uploads(&self, bucket: &BucketId) -> Result<Vec<(UploadId, UploadRecord)>> {
        let mut out = Vec::new();
        let range = match prefix_end(bucket) {
            Some(end) => self.uploads.range(bucket.as_slice()..end.as_slice()),
            None => self.uploads.range(bucket.as_slice()..),
        }
        .map_err(Error::index("scan uploads"))?;
        for entry in range {
            let (k, v) = entry.map_err(Error::index("scan uploads"))?;
            let record: UploadRecord = records::decode(v.value(), "upload record")?;
            let id = k
                .value()
                .get(bucket.len()..)
                .and_then(|r| UploadId::try_from(r).ok())
                .ok_or(Error::Corrupt { what: "upload key" })?;
            if record.completed.is_none() {
                out.push((id, record));
            }
        }
        Ok(out)
    }

    /// The part layout stored for the object at `key`, if any (check its version).
    pub(crate) fn layout(&self, bucket: &BucketId, key: &str) -> Result<Option<LayoutRecord>> {
        self.layouts
            .get(prefixed(bucket, key.as_bytes()).as_slice())
            .map_err(Error::index("read multipart layout"))?
            .map(|v| records::decode(v.value(), "layout record"))
            .transpose()
    }
}

/// A part a completion names: number and the `ETag` the client saw (hex, no quotes).
pub(crate) struct WantedPart {
    pub(crate) number: u16,
    pub(crate) etag: String,
}

impl Batch {
    fn read_upload(&self, bucket: &BucketId, id: &UploadId) -> Result<Option<UploadRecord>> {
        let uploads = self.table(UPLOADS).map_err(Error::index("open uploads"))?;
        uploads
            .get(upload_key(bucket, id).as_slice())
            .map_err(Error::index("read upload"))?
            .map(|v| records::decode(v.value(), "upload record"))
            .transpose()
    }

    /// The open (not completed) upload `id` for `key`, or `NoSuchUpload`.
    fn open_upload(&self, bucket: &BucketId, id: &UploadId, key: &str) -> Result<UploadRecord> {
        match self.read_upload(bucket, id)? {
            Some(u) if u.key == key && u.completed.is_none() => Ok(u),
            _ => Err(Error::NoSuchUpload),
        }
    }

    fn write_upload(
        &mut self,
        bucket: &BucketId,
        id: &UploadId,
        record: &UploadRecord,
    ) -> Result<()> {
        let mut uploads = self.table(UPLOADS).map_err(Error::index("open uploads"))?;
        uploads
            .insert(
                upload_key(bucket, id).as_slice(),
                records::encode(record).as_slice(),
            )
            .map_err(Error::index("write upload"))?;
        Ok(())
    }

    /// Starts an upload.
    pub(crate) fn create_upload(
        &mut self,
        bucket: &BucketId,
        id: &UploadId,
        record: &UploadRecord,
    ) -> Result<()> {
        let exists = self
            .table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?
            .get(bucket.as_slice())
            .map_err(Error::index("read bucket key"))?
            .is_some();
        if !exists {
            return Err(Error::NoSuchBucket);
        }
        if record.lock.is_set() && self.lock_config(bucket)?.is_none() {
            return Err(Error::ObjectLockNotEnabled);
        }
        self.write_upload(bucket, id, record)
    }

    /// Stores a part, replacing (and releasing) any part with the same number.
    pub(crate) fn put_part(
        &mut self,
        bucket: &BucketId,
        id: &UploadId,
        key: &str,
        number: u16,
        record: &PartRecord,
        encryption: Encryption,
    ) -> Result<()> {
        let upload = self.open_upload(bucket, id, key)?;
        crate::keys::encryption::same_keys(upload.encryption, encryption)?;
        self.add_refs(bucket, &record.chunks)?;
        let old = {
            let mut parts = self
                .table(PARTS)
                .map_err(Error::index("open upload parts"))?;
            parts
                .insert(
                    part_key(bucket, id, number).as_slice(),
                    records::encode(record).as_slice(),
                )
                .map_err(Error::index("write part"))?
                .map(|v| records::decode::<PartRecord>(v.value(), "part record"))
                .transpose()
        };
        if let Some(old) = old? {
            self.drop_refs(bucket, &old.chunks)?;
        }
        Ok(())
    }

    /// Removes every part of an upload and releases their chunks.
    fn remove_parts(&mut self, bucket: &BucketId, id: &UploadId) -> Result<()> {
        let removed: Vec<PartRecord> = {
            let mut parts = self
                .table(PARTS)
                .map_err(Error::index("open upload parts"))?;
            let start = upload_key(bucket, id);
            let end = prefix_end(&start).unwrap_or_default();
            let mut removed = Vec::new();
            for v in parts
                .remove_range(&start, Some(&end))
                .map_err(Error::index("remove parts"))?
            {
                removed.push(records::decode(&v, "part record")?);
            }
            removed
        };
        for part in removed {
            self.drop_refs(bucket, &part.chunks)?;
        }
        Ok(())
    }

    /// Aborts an upload: its parts' chunks are released.
    pub(crate) fn abort_upload(
        &mut self,
        bucket: &BucketId,
        id: &UploadId,
        key: &str,
    ) -> Result<()> {
        self.open_upload(bucket, id, key)?;
        self.remove_parts(bucket, id)?;
        self.table(UPLOADS)
            .map_err(Error::index("open uploads"))?
            .remove(upload_key(bucket, id).as_slice())
            .map_err(Error::index("remove upload"))?;
        Ok(())
    }

    /// Completes an upload into an object at its key, linking the named parts' chunks.
    /// A retry of a completion that went through returns the object it made.
    #[allow(clippy::too_many_arguments)] // one completion's facts, passed through from the op
    pub(crate) fn complete_upload(
        &mut self,
        bucket: &BucketId,
        id: &UploadId,
        key: &str,
        wanted: &[WantedPart],
        modified_ms: u64,
        checksums: &[Checksum],
        condition: Option<&Precondition>,
    ) -> Result<ObjectRecord> {
        let upload = match self.read_upload(bucket, id)? {
            Some(u) if u.key == key => u,
            _ => return Err(Error::NoSuchUpload),
        };
        if let Some(done) = &upload.completed {
            let objects = self.table(OBJECTS).map_err(Error::index("open objects"))?;
            let current: Option<ObjectRecord> = objects
                .get(prefixed(bucket, key.as_bytes()).as_slice())
                .map_err(Error::index("read object"))?
                .map(|v| records::decode(v.value(), "object record"))
                .transpose()?;
            return match current {
                Some(o) if o.etag == done.etag && o.modified_ms == done.modified_ms => Ok(o),
                _ => Err(Error::NoSuchUpload),
            };
        }
        if wanted.is_empty() || wanted.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(Error::InvalidPartOrder);
        }
        let mut found = Vec::with_capacity(wanted.len());
        {
            let parts = self
                .table(PARTS)
                .map_err(Error::index("open upload parts"))?;
            for w in wanted {
                let part: PartRecord = parts
                    .get(part_key(bucket, id, w.number).as_slice())
                    .map_err(Error::index("read part"))?
                    .map(|v| records::decode(v.value(), "part record"))
                    .transpose()?
                    .ok_or(Error::InvalidPart)?;
                if hex::encode(part.md5) != w.etag.to_ascii_lowercase() {
                    return Err(Error::InvalidPart);
                }
                found.push(part);
            }
        }
        if found
            .iter()
            .take(found.len() - 1)
            .any(|p| p.size < MIN_PART_SIZE)
        {
            return Err(Error::EntityTooSmall);
        }
        let mut md5s = Vec::with_capacity(found.len() * 16);
        let mut chunks = Vec::new();
        let mut size = 0u64;
        for p in &found {
            md5s.extend_from_slice(&p.md5);
            chunks.extend_from_slice(&p.chunks);
            size += p.size;
        }
        let md5 = <md5::Md5 as md5::Digest>::digest(&md5s);
        let etag = format!("{}-{}", hex::encode(md5), found.len());
        let record = ObjectRecord {
            size,
            etag: etag.clone(),
            modified_ms,
            version: VersionStamp { seq: 0, null: true },
            meta: ObjectMeta {
                checksums: checksums.to_vec(),
                ..upload.meta.clone()
            },
            chunks,
            lock: upload.lock,
            encryption: upload.encryption,
            inline: None,
        };
        // The object's references go in before the parts' come out: shared chunks never
        // reach zero, and parts left out of the completion are released.
        let record = self.put_version(bucket, key, record, condition)?;
        self.remove_parts(bucket, id)?;
        let layout = LayoutRecord {
            etag: etag.clone(),
            modified_ms,
            parts: found
                .into_iter()
                .map(|p| LayoutPart {
                    size: p.size,
                    checksums: p.checksums,
                })
                .collect(),
        };
        self.table(LAYOUTS)
            .map_err(Error::index("open multipart layouts"))?
            .insert(
                prefixed(bucket, key.as_bytes()).as_slice(),
                records::encode(&layout).as_slice(),
            )
            .map_err(Error::index("write multipart layout"))?;
        let tombstone = UploadRecord {
            meta: ObjectMeta::default(),
            completed: Some(Completed { etag, modified_ms }),
            ..upload
        };
        self.write_upload(bucket, id, &tombstone)?;
        Ok(record)
    }

    /// Forgets the part layout of the object at `key` (it is being replaced or deleted).
    pub(crate) fn forget_layout(&mut self, bucket: &BucketId, key: &str) -> Result<()> {
        self.table(LAYOUTS)
            .map_err(Error::index("open multipart layouts"))?
            .remove(prefixed(bucket, key.as_bytes()).as_slice())
            .map_err(Error::index("remove multipart layout"))?;
        Ok(())
    }

    /// Drops every upload, part and layout of a bucket that is being deleted; their chunk
    /// references go with them.
    pub(crate) fn drop_bucket_uploads(&mut self, bucket: &BucketId) -> Result<()> {
        let end = prefix_end(bucket).unwrap_or_default();
        let range = bucket.as_slice()..end.as_slice();
        let mut freed: Vec<PartRecord> = Vec::new();
        {
            let mut parts = self
                .table(PARTS)
                .map_err(Error::index("open upload parts"))?;
            for v in parts
                .remove_range(range.start, Some(range.end))
                .map_err(Error::index("remove parts"))?
            {
                freed.push(records::decode(&v, "part record")?);
            }
        }
        for table in [UPLOADS, LAYOUTS] {
            self.table(table)
                .map_err(Error::index("open uploads"))?
                .remove_range(range.start, Some(range.end))
                .map_err(Error::index("remove uploads"))?;
        }
        for part in freed {
            self.drop_refs(bucket, &part.chunks)?;
        }
        Ok(())
    }

    /// Aborts uploads started before `cutoff_ms` and forgets completion tombstones older
    /// than that. Returns how many open uploads were aborted.
    pub(crate) fn expire_uploads(&mut self, cutoff_ms: u64) -> Result<u64> {
        let expired: Vec<(Vec<u8>, UploadRecord)> = {
            let uploads = self.table(UPLOADS).map_err(Error::index("open uploads"))?;
            let mut out = Vec::new();
            for entry in uploads.iter().map_err(Error::index("scan uploads"))? {
                let (k, v) = entry.map_err(Error::index("scan uploads"))?;
                let record: UploadRecord = records::decode(v.value(), "upload record")?;
                let since = record
                    .completed
                    .as_ref()
                    .map_or(record.created_ms, |c| c.modified_ms);
                if since < cutoff_ms {
                    out.push((k.value().to_vec(), record));
                }
            }
            out
        };
        let mut aborted = 0;
        for (k, record) in expired {
            let (Some(bucket), Some(id)) = (
                k.get(..16).and_then(|b| BucketId::try_from(b).ok()),
                k.get(16..).and_then(|b| UploadId::try_from(b).ok()),
            ) else {
                continue;
            };
            if record.completed.is_none() {
                self.remove_parts(&bucket, &id)?;
                aborted += 1;
            }
            self.table(UPLOADS)
                .map_err(Error::index("open uploads"))?
                .remove(k.as_slice())
                .map_err(Error::index("remove upload"))?;
        }
        Ok(aborted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload record carries its lock; a version this build does not write is
    /// corrupt, not guessed.
    #[test]
    fn upload_records_round_trip_and_refuse_other_versions() {
        let record = UploadRecord {
            key: "k".into(),
            created_ms: 7,
            meta: ObjectMeta::default(),
            checksum_algorithm: None,
            checksum_type: None,
            completed: None,
            lock: ObjectLock {
                retention: None,
                legal_hold: true,
            },
            encryption: Encryption::Customer { key_mac: [3; 32] },
        };
        let bytes = records::encode(&record);
        assert_eq!(bytes[0], 4);
        assert_eq!(
            records::decode::<UploadRecord>(&bytes, "upload record").unwrap(),
            record
        );
        // Version 3 had no tags in `meta`; it still reads, with none.
        let mut v3 = vec![3];
        v3.extend(
            postcard::to_allocvec(&UploadRecordV3 {
                key: record.key.clone(),
                created_ms: record.created_ms,
                meta: records::ObjectMetaV4::default(),
                checksum_algorithm: None,
                checksum_type: None,
                completed: None,
                lock: record.lock,
                encryption: record.encryption,
            })
            .unwrap(),
        );
        assert_eq!(
            records::decode::<UploadRecord>(&v3, "upload record").unwrap(),
            record
        );
        for v in [1, 2, 5] {
            let mut other = bytes.clone();
            other[0] = v;
            assert!(records::decode::<UploadRecord>(&other, "upload record").is_err());
        }
    }

    #[test]
    fn part_keys_sort_by_number_and_round_trip() {
        let (b, u) = ([1u8; 16], [2u8; 16]);
        let keys: Vec<Vec<u8>> = [1u16, 2, 255, 256, 10_000]
            .iter()
            .map(|n| part_key(&b, &u, *n))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(part_number_of(&keys[3]), 256);
        assert_eq!(part_number_of(&keys[4]), 10_000);
    }
}
