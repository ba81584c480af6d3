//! Multipart uploads: create, upload parts, complete (linking the parts' chunks — no data
//! is copied), abort, list, and the expiry sweep.
//!
//! A part is written like an object body ([`Store::part_writer_with`] → `finish`) and
//! committed with [`Store::commit_part`]; its chunks are sealed under the bucket key and
//! referenced in the index like an object's. Upload state lives in the index (so it is as
//! sealed and as durable as everything else). See `index/uploads.rs` for the tables.

use crate::keys::encryption::{Encryption, ExternalKey};
use std::ops::Range;
use std::time::{Duration, SystemTime};

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use crate::error::{Error, Result};
use crate::index::{
    Batch, LayoutRecord, PartRecord, UploadId, UploadRecord, UploadsView, WantedPart,
};
use crate::ingest::StagedBody;
use crate::object::{BucketInfo, ObjectInfo, ObjectMeta, now_ms, time_from_ms};
use crate::records::BucketId;
use crate::store::{MAX_KEY_LEN, Shared, Store};
use crate::version::{ObjectLock, Precondition};
use crate::writer::{Op, Reply};

/// Highest part number (AWS: 10,000).
pub const MAX_PARTS: u32 = 10_000;
/// Smallest size of every part but the last (AWS: 5 MiB).
pub const MIN_PART_SIZE: u64 = crate::index::MIN_PART_SIZE;
/// Largest part (AWS: 5 GiB).
pub const MAX_PART_SIZE: u64 = 5 << 30;

/// A multipart upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadInfo {
    /// The upload id given to clients (32 hex digits).
    pub upload_id: String,
    /// The key the object will have.
    pub key: String,
    /// When the upload was created (millisecond precision).
    pub initiated: SystemTime,
    /// Metadata the object will have.
    pub meta: ObjectMeta,
    /// Checksum algorithm named at creation, if any.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Checksum type chosen at creation, if any.
    pub checksum_type: Option<ChecksumType>,
    /// Whether parts go under an outside key (SSE-C, SSE-KMS).
    pub encryption: Encryption,
}

/// One uploaded part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// 1..=10000.
    pub part_number: u32,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex MD5 of the part, no quotes.
    pub etag: String,
    /// When it was uploaded.
    pub last_modified: SystemTime,
    /// Checksums verified when the part was uploaded.
    pub checksums: Vec<Checksum>,
}

/// One page of an upload's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartsPage {
    /// In part-number order.
    pub parts: Vec<PartInfo>,
    /// Whether more parts follow the last one.
    pub is_truncated: bool,
}

/// What [`Store::list_uploads`] should list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadListParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys by the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Start after this key (with `upload_id_marker`: after that upload of this key).
    pub key_marker: Option<String>,
    /// See `key_marker`.
    pub upload_id_marker: Option<String>,
    /// Entries (uploads and common prefixes) at most.
    pub max_uploads: usize,
}

/// One page of a bucket's uploads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadsPage {
    /// Uploads in key order, then by initiation time.
    pub uploads: Vec<UploadInfo>,
    /// Common prefixes (with a delimiter).
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub is_truncated: bool,
    /// Marker for the next page (key or common prefix of the last entry).
    pub next_key_marker: Option<String>,
    /// Marker for the next page (upload id of the last entry, if an upload).
    pub next_upload_id_marker: Option<String>,
}

/// A part of a completed multipart object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPart {
    /// Its byte range in the object.
    pub range: Range<u64>,
    /// Checksums of the part as uploaded.
    pub checksums: Vec<Checksum>,
}

/// A multipart-upload change for the index writer.
pub(crate) enum MultipartOp {
    Create {
        bucket: BucketId,
        id: UploadId,
        record: UploadRecord,
    },
    PutPart {
        bucket: BucketId,
        id: UploadId,
        key: String,
        number: u16,
        record: PartRecord,
        /// Holds the chunks' registrations until the commit.
        body: StagedBody,
    },
    Complete {
        bucket: BucketId,
        id: UploadId,
        key: String,
        parts: Vec<WantedPart>,
        modified_ms: u64,
        checksums: Vec<Checksum>,
        condition: Option<Precondition>,
    },
    Abort {
        bucket: BucketId,
        id: UploadId,
        key: String,
    },
    Expire {
        cutoff_ms: u64,
    },
}

impl MultipartOp {
    pub(crate) fn apply(&self, batch: &mut Batch) -> Result<Reply> {
        match self {
            MultipartOp::Create { bucket, id, record } => batch
                .create_upload(bucket, id, record)
                .map(|()| Reply::Done),
            MultipartOp::PutPart {
                bucket,
                id,
                key,
                number,
                record,
                body,
            } => batch
                .put_part(bucket, id, key, *number, record, body.encryption)
                .map(|()| Reply::Done),
            MultipartOp::Complete {
                bucket,
                id,
                key,
                parts,
                modified_ms,
                checksums,
                condition,
            } => {
                let record = batch.complete_upload(
                    bucket,
                    id,
                    key,
                    parts,
                    *modified_ms,
                    checksums,
                    condition.as_ref(),
                )?;
                Ok(Reply::Object(record, batch.versioning(bucket)?, true))
            }
            MultipartOp::Abort { bucket, id, key } => {
                batch.abort_upload(bucket, id, key).map(|()| Reply::Done)
            }
            MultipartOp::Expire { cutoff_ms } => batch.expire_uploads(*cutoff_ms).map(Reply::Count),
        }
    }

    /// The commit is durable: a part's chunks are referenced now.
    pub(crate) fn committed(&self) {
        if let MultipartOp::PutPart { body, .. } = self {
            body.committed();
        }
    }
}

pub(crate) fn parse_upload_id(text: &str) -> Result<UploadId> {
    let mut id = UploadId::default();
    hex::decode_to_slice(text, &mut id).map_err(|_| Error::NoSuchUpload)?;
    Ok(id)
}

fn part_number(n: u32) -> Result<u16> {
    if (1..=MAX_PARTS).contains(&n) {
        u16::try_from(n).map_err(|_| Error::InvalidPart)
    } else {
        Err(Error::InvalidPart)
    }
}

fn upload_info(id: &UploadId, record: UploadRecord) -> UploadInfo {
    UploadInfo {
        upload_id: hex::encode(id),
        key: record.key,
        initiated: time_from_ms(record.created_ms),
        meta: record.meta,
        checksum_algorithm: record.checksum_algorithm,
        checksum_type: record.checksum_type,
        encryption: record.encryption,
    }
}

fn part_info(number: u16, record: PartRecord) -> PartInfo {
    PartInfo {
        part_number: u32::from(number),
        size: record.size,
        etag: hex::encode(record.md5),
        last_modified: time_from_ms(record.modified_ms),
        checksums: record.checksums,
    }
}

async fn read_uploads<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce(&UploadsView) -> Result<T> + Send + 'static,
) -> Result<T> {
    let index = shared.index()?;
    tokio::task::spawn_blocking(move || f(&index.uploads_view()?))
        .await
        .map_err(Error::join)?
}

impl Store {
    async fn submit_multipart(&self, op: MultipartOp) -> Result<Reply> {
        self.submit(Op::Multipart(op)).await
    }

    /// Starts a multipart upload of `key`; `lock` is the object's retention and legal hold
    /// (applied at completion).
    ///
    /// # Errors
    /// `Error::NoSuchBucket`, `Error::KeyTooLong`, `Error::ObjectLockNotEnabled`.
    pub async fn create_upload(
        &self,
        bucket: &BucketInfo,
        key: &str,
        meta: ObjectMeta,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        checksum_type: Option<ChecksumType>,
        lock: ObjectLock,
    ) -> Result<UploadInfo> {
        self.create_upload_with(
            bucket,
            key,
            meta,
            checksum_algorithm,
            checksum_type,
            lock,
            None,
        )
        .await
    }

    /// [`Store::create_upload`] under an outside key (SSE-C, SSE-KMS): every part must
    /// then be written with [`Store::part_writer_with`] under the same key.
    ///
    /// # Errors
    /// As [`Store::create_upload`].
    #[allow(clippy::too_many_arguments)]
    pub async fn create_upload_with(
        &self,
        bucket: &BucketInfo,
        key: &str,
        meta: ObjectMeta,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        checksum_type: Option<ChecksumType>,
        lock: ObjectLock,
        external: Option<&ExternalKey>,
    ) -> Result<UploadInfo> {
        let encryption = match external {
            None => Encryption::Coffer,
            Some(external) => {
                let keys = self.inner.shared.bucket_keys(&bucket.id).await?;
                keys.for_write(Some(external)).1
            }
        };
        if key.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLong);
        }
        let id: UploadId = crate::keys::keyring::random_bytes()?;
        let record = UploadRecord {
            key: key.to_owned(),
            created_ms: now_ms(),
            meta,
            checksum_algorithm,
            checksum_type,
            completed: None,
            lock,
            encryption,
        };
        self.submit_multipart(MultipartOp::Create {
            bucket: bucket.id,
            id,
            record: record.clone(),
        })
        .await?;
        Ok(upload_info(&id, record))
    }

    /// The open upload `upload_id` of `key`.
    ///
    /// # Errors
    /// `Error::NoSuchUpload` (also when completed, aborted, or for another key).
    pub async fn upload(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo> {
        let id = parse_upload_id(upload_id)?;
        let b = bucket.id;
        let record = read_uploads(&self.inner.shared, move |v| v.upload(&b, &id)).await?;
        match record {
            Some(r) if r.key == key && r.completed.is_none() => Ok(upload_info(&id, r)),
            _ => Err(Error::NoSuchUpload),
        }
    }

    /// Commits a staged body as part `part_number` of an upload, replacing (and releasing)
    /// any earlier part with that number. `checksums` are kept with the part.
    ///
    /// # Errors
    /// `Error::NoSuchUpload`; `Error::InvalidPart` for a number outside 1..=10000;
    /// `Error::NoSuchBucket` if `body` was written for another bucket.
    pub async fn commit_part(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: StagedBody,
        checksums: Vec<Checksum>,
    ) -> Result<PartInfo> {
        let id = parse_upload_id(upload_id)?;
        let number = self::part_number(part_number)?;
        if body.bucket != bucket.id {
            return Err(Error::NoSuchBucket);
        }
        if body.inline.is_some() {
            return Err(Error::BadConfig {
                what: "a part must be written with part_writer_with",
            });
        }
        let record = PartRecord {
            size: body.size(),
            md5: body.md5(),
            modified_ms: now_ms(),
            checksums,
            chunks: body.chunks.clone(),
        };
        let info = part_info(number, record.clone());
        self.submit_multipart(MultipartOp::PutPart {
            bucket: bucket.id,
            id,
            key: key.to_owned(),
            number,
            record,
            body,
        })
        .await?;
        Ok(info)
    }

    /// Up to `max` parts numbered above `after`, in order.
    ///
    /// # Errors
    /// `Error::NoSuchUpload`.
    pub async fn list_parts(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<PartsPage> {
        let id = parse_upload_id(upload_id)?;
        let (b, owned) = (bucket.id, key.to_owned());
        let after = u16::try_from(after).unwrap_or(u16::MAX);
        read_uploads(&self.inner.shared, move |v| {
            match v.upload(&b, &id)? {
                Some(r) if r.key == owned && r.completed.is_none() => {}
                _ => return Err(Error::NoSuchUpload),
            }
            let (parts, is_truncated) = v.parts(&b, &id, after, max)?;
            Ok(PartsPage {
                parts: parts.into_iter().map(|(n, p)| part_info(n, p)).collect(),
                is_truncated,
            })
        })
        .await
    }

    /// Completes an upload: the named parts (ascending numbers, with the `ETag`s the client
    /// got) become the object at `key` in one index transaction, linking their chunks;
    /// parts not named are released. `checksums` are the object's (computed by the caller
    /// from the parts). Retrying a completion that already went through returns the same
    /// object.
    ///
    /// # Errors
    /// `Error::NoSuchUpload`, `Error::InvalidPart` (unknown part or `ETag` mismatch),
    /// `Error::InvalidPartOrder`, `Error::EntityTooSmall` (a part but the last under
    /// [`MIN_PART_SIZE`]); `Error::PreconditionFailed` / `Error::NoSuchKey` (`condition`);
    /// `Error::ObjectLocked` (it would replace a locked `null` version).
    pub async fn complete_upload(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
        parts: Vec<(u32, String)>,
        checksums: Vec<Checksum>,
        condition: Option<Precondition>,
    ) -> Result<ObjectInfo> {
        let id = parse_upload_id(upload_id)?;
        if parts.len() > MAX_PARTS as usize {
            return Err(Error::InvalidPart);
        }
        let parts = parts
            .into_iter()
            .map(|(n, etag)| {
                Ok(WantedPart {
                    number: part_number(n)?,
                    etag,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let reply = self
            .submit_multipart(MultipartOp::Complete {
                bucket: bucket.id,
                id,
                key: key.to_owned(),
                parts,
                modified_ms: now_ms(),
                checksums,
                condition,
            })
            .await?;
        match reply {
            Reply::Object(record, state, is_current) => Ok(ObjectInfo::from_record(
                bucket.id,
                key.to_owned(),
                record,
                state,
                is_current,
            )),
            _ => Err(Error::Corrupt {
                what: "writer reply",
            }),
        }
    }

    /// Aborts an upload; its parts' chunk files go once nothing references them.
    ///
    /// # Errors
    /// `Error::NoSuchUpload`.
    pub async fn abort_upload(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
    ) -> Result<()> {
        let id = parse_upload_id(upload_id)?;
        self.submit_multipart(MultipartOp::Abort {
            bucket: bucket.id,
            id,
            key: key.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// One page of the bucket's open uploads, in key order then initiation order.
    ///
    /// # Errors
    /// Index errors.
    pub async fn list_uploads(
        &self,
        bucket: &BucketInfo,
        params: UploadListParams,
    ) -> Result<UploadsPage> {
        let b = bucket.id;
        let mut all = read_uploads(&self.inner.shared, move |v| v.uploads(&b)).await?;
        all.retain(|(_, r)| r.key.starts_with(&params.prefix));
        // Key, then upload id: the same order the upload-id marker pages by
        // (sorting by start time first made paging skip uploads of one key).
        all.sort_by(|(ia, a), (ib, b)| (a.key.as_str(), ia).cmp(&(b.key.as_str(), ib)));
        Ok(page_uploads(all, &params))
    }

    /// The parts of a multipart object, if `obj` was completed from parts (and has not
    /// been replaced since).
    ///
    /// # Errors
    /// Index errors.
    pub async fn object_parts(&self, obj: &ObjectInfo) -> Result<Option<Vec<ObjectPart>>> {
        let (b, key) = (obj.bucket, obj.key.clone());
        let layout: Option<LayoutRecord> =
            read_uploads(&self.inner.shared, move |v| v.layout(&b, &key)).await?;
        Ok(layout
            .filter(|l| l.etag == obj.etag && l.modified_ms == obj.modified_ms)
            .map(|l| {
                let mut offset = 0;
                l.parts
                    .into_iter()
                    .map(|p| {
                        let range = offset..offset + p.size;
                        offset += p.size;
                        ObjectPart {
                            range,
                            checksums: p.checksums,
                        }
                    })
                    .collect()
            }))
    }

    /// Aborts every upload started more than `max_age` ago (and forgets completed ones
    /// older than that). Returns how many uploads were aborted.
    ///
    /// # Errors
    /// Index errors; `Error::ShuttingDown`.
    pub async fn abort_expired_uploads(&self, max_age: Duration) -> Result<u64> {
        let age = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
        let cutoff_ms = now_ms().saturating_sub(age);
        match self
            .submit_multipart(MultipartOp::Expire { cutoff_ms })
            .await?
        {
            Reply::Count(n) => Ok(n),
            _ => Err(Error::Corrupt {
                what: "writer reply",
            }),
        }
    }
}

/// Applies markers, the delimiter and the page size to sorted uploads.
fn page_uploads(all: Vec<(UploadId, UploadRecord)>, params: &UploadListParams) -> UploadsPage {
    let marker_id = params
        .upload_id_marker
        .as_deref()
        .and_then(|m| parse_upload_id(m).ok());
    let mut page = UploadsPage::default();
    let mut last_prefix: Option<String> = None;
    let mut entries = 0usize;
    let mut iter = all.into_iter().filter(|(id, r)| match &params.key_marker {
        None => true,
        Some(km) => match (r.key.as_str().cmp(km.as_str()), marker_id) {
            (std::cmp::Ordering::Greater, _) => true,
            (std::cmp::Ordering::Equal, Some(mid)) => *id > mid,
            _ => false,
        },
    });
    for (id, record) in iter.by_ref() {
        let group = params
            .delimiter
            .as_deref()
            .filter(|d| !d.is_empty())
            .and_then(|d| {
                record.key[params.prefix.len()..]
                    .find(d)
                    .map(|at| record.key[..params.prefix.len() + at + d.len()].to_owned())
            });
        if let Some(group) = &group
            && last_prefix.as_ref() == Some(group)
        {
            continue;
        }
        if entries == params.max_uploads {
            page.is_truncated = true;
            break;
        }
        entries += 1;
        if let Some(group) = group {
            page.next_key_marker = Some(group.clone());
            page.next_upload_id_marker = None;
            last_prefix = Some(group.clone());
            page.common_prefixes.push(group);
        } else {
            page.next_key_marker = Some(record.key.clone());
            page.next_upload_id_marker = Some(hex::encode(id));
            page.uploads.push(upload_info(&id, record));
        }
    }
    if !page.is_truncated {
        page.next_key_marker = None;
        page.next_upload_id_marker = None;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, ms: u64) -> UploadRecord {
        UploadRecord {
            key: key.into(),
            created_ms: ms,
            meta: ObjectMeta::default(),
            checksum_algorithm: None,
            checksum_type: None,
            completed: None,
            lock: ObjectLock::default(),
            encryption: crate::keys::encryption::Encryption::Coffer,
        }
    }

    #[test]
    fn uploads_page_with_markers_and_delimiter() {
        let all = vec![
            ([1; 16], record("a/1", 1)),
            ([2; 16], record("a/2", 2)),
            ([3; 16], record("b", 3)),
            ([4; 16], record("b", 4)),
            ([5; 16], record("c", 5)),
        ];
        let p = page_uploads(
            all.clone(),
            &UploadListParams {
                delimiter: Some("/".into()),
                max_uploads: 2,
                ..Default::default()
            },
        );
        assert_eq!(p.common_prefixes, vec!["a/".to_owned()]);
        assert_eq!(p.uploads.len(), 1);
        assert!(p.is_truncated);
        assert_eq!(p.next_key_marker.as_deref(), Some("b"));
        let next = page_uploads(
            all,
            &UploadListParams {
                key_marker: p.next_key_marker,
                upload_id_marker: p.next_upload_id_marker,
                max_uploads: 10,
                ..Default::default()
            },
        );
        let keys: Vec<&str> = next.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, vec!["b", "c"]);
        assert!(!next.is_truncated);
    }

    #[test]
    fn part_numbers_are_bounded() {
        assert!(part_number(0).is_err());
        assert_eq!(part_number(1).unwrap(), 1);
        assert_eq!(part_number(10_000).unwrap(), 10_000);
        assert!(part_number(10_001).is_err());
    }

    async fn part(store: &Store, bucket: &BucketInfo, id: &str, n: u32, data: &[u8]) -> PartInfo {
        let mut writer = store.part_writer_with(bucket, None).await.unwrap();
        writer
            .write(bytes::Bytes::copy_from_slice(data))
            .await
            .unwrap();
        let staged = writer.finish().await.unwrap();
        store
            .commit_part(bucket, "k", id, n, staged, Vec::new())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn complete_links_parts_and_releases_the_rest() {
        use crate::tests::{body, chunk_files, ephemeral, get, wait_chunk_files};
        let (dir, store) = ephemeral().await;
        let bucket = store.create_bucket("b", "o").await.unwrap();
        let up = store
            .create_upload(
                &bucket,
                "k",
                ObjectMeta::default(),
                None,
                None,
                ObjectLock::default(),
            )
            .await
            .unwrap();
        let id = up.upload_id.as_str();
        let a = body(1, usize::try_from(MIN_PART_SIZE).unwrap());
        let b = body(2, 1000);
        let pa = part(&store, &bucket, id, 1, &a).await;
        let pb = part(&store, &bucket, id, 2, &b).await;
        let with_two = chunk_files(dir.path());
        part(&store, &bucket, id, 3, &body(3, 500)).await;
        assert_eq!(chunk_files(dir.path()), with_two + 1);

        let parts = vec![(1, pa.etag.clone()), (2, pb.etag.clone())];
        let info = store
            .complete_upload(&bucket, "k", id, parts.clone(), Vec::new(), None)
            .await
            .unwrap();
        // Part 3 was left out: released. The others are linked, not copied.
        wait_chunk_files(&store, dir.path(), with_two).await;
        assert!(info.etag.ends_with("-2"));
        assert_eq!(
            get(&store, &info, 0..info.size).await.unwrap(),
            [a, b].concat()
        );
        let layout = store.object_parts(&info).await.unwrap().unwrap();
        assert_eq!(layout[1].range, MIN_PART_SIZE..MIN_PART_SIZE + 1000);
        // A retried completion answers the same object; the upload is otherwise gone.
        let again = store
            .complete_upload(&bucket, "k", id, parts, Vec::new(), None)
            .await
            .unwrap();
        assert_eq!(again.etag, info.etag);
        assert!(matches!(
            store.abort_upload(&bucket, "k", id).await,
            Err(Error::NoSuchUpload)
        ));
        // Deleting the object frees everything and forgets its layout.
        assert!(store.delete_object(&bucket, "k").await.unwrap());
        wait_chunk_files(&store, dir.path(), 0).await;
        assert!(store.object_parts(&info).await.unwrap().is_none());
        store.shutdown().await;
    }

    #[test]
    fn upload_ids_are_hex() {
        assert!(parse_upload_id("zz").is_err());
        assert_eq!(parse_upload_id(&"ab".repeat(16)).unwrap(), [0xab; 16]);
    }
}
