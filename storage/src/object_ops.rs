//! Object operations of [`Store`]: write → finish → (server verifies) → commit, copy, read,
//! delete, list — each on the version the bucket's versioning state says.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::ingest::{ObjectWriter, StagedBody};
use crate::keys::encryption::{Encryption, ExternalKey};
use crate::list::{ListPage, ListParams};
use crate::object::{BucketInfo, ObjectGrant, ObjectInfo, ObjectMeta, now_ms};
use crate::reader::{self, ObjectReader};
use crate::records::{ObjectRecord, VersionStamp};
use crate::store::{MAX_KEY_LEN, Store};
use crate::version::{
    DeleteOutcome, ObjectLock, Precondition, Retention, VersionListParams, VersionRef, VersionsPage,
};
use crate::writer::{DeleteTarget, Op, Reply, VersionChange};

/// What a write asks for besides its body and metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Checked against the current object at commit (`If-None-Match`, `If-Match`).
    pub condition: Option<Precondition>,
    /// Retention and legal hold of the new version; the bucket's default retention
    /// applies when it asks for none. `Error::ObjectLockNotEnabled` in a bucket without
    /// Object Lock.
    pub lock: ObjectLock,
}

/// What a delete names and needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Delete this version for good; `None` deletes the key (a delete marker in a
    /// versioned bucket).
    pub version: Option<VersionRef>,
    /// `If-Match` on the current object (without `version`).
    pub condition: Option<Precondition>,
    /// The caller may and asks to bypass GOVERNANCE retention.
    pub bypass_governance: bool,
}

fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        Err(Error::KeyTooLong)
    } else {
        Ok(())
    }
}

fn object_reply(reply: Reply, bucket: &BucketInfo, key: &str) -> Result<ObjectInfo> {
    match reply {
        Reply::Object(record, state, is_current) => Ok(ObjectInfo::from_record(
            bucket.id,
            key.to_owned(),
            record,
            state,
            is_current,
        )),
        // The writer answers each op with its own reply kind.
        _ => Err(Error::Corrupt {
            what: "writer reply",
        }),
    }
}

/// A record for a new version; the index gives it its version stamp at commit.
fn new_record(size: u64, etag: String, meta: ObjectMeta, lock: ObjectLock) -> ObjectRecord {
    ObjectRecord {
        size,
        etag,
        modified_ms: now_ms(),
        version: VersionStamp { seq: 0, null: true },
        meta,
        chunks: Vec::new(),
        lock,
        encryption: Encryption::Coffer,
        inline: None,
    }
}

impl Store {
    /// Starts an upload into `bucket`.
    ///
    /// # Errors
    /// `Error::NoSuchBucket`; `Error::MemoryFull` when an in-memory store has no room.
    pub async fn object_writer(&self, bucket: &BucketInfo) -> Result<ObjectWriter> {
        self.object_writer_with(bucket, None).await
    }

    /// Starts an upload into `bucket` under an outside key if one is given (SSE-C's
    /// customer key, SSE-KMS's KMS key): the chunks get ids and seals derived from the
    /// bucket's keys and that key, and the committed record keeps only a keyed MAC of a
    /// customer key, or a KMS key's id and context digest.
    ///
    /// # Errors
    /// `Error::NoSuchBucket`.
    pub async fn object_writer_with(
        &self,
        bucket: &BucketInfo,
        external: Option<&ExternalKey>,
    ) -> Result<ObjectWriter> {
        self.writer(bucket, external, true).await
    }

    /// [`Store::object_writer_with`] for a multipart part: never inline, since the
    /// completed object lists its parts' chunks.
    ///
    /// # Errors
    /// `Error::NoSuchBucket`.
    pub async fn part_writer_with(
        &self,
        bucket: &BucketInfo,
        external: Option<&ExternalKey>,
    ) -> Result<ObjectWriter> {
        self.writer(bucket, external, false).await
    }

    async fn writer(
        &self,
        bucket: &BucketInfo,
        external: Option<&ExternalKey>,
        inline: bool,
    ) -> Result<ObjectWriter> {
        let shared = &self.inner.shared;
        // In memory, a full store refuses the write before any body is read; its chunks
        // are checked again one by one.
        shared.chunks.check_room(0)?;
        let (keys, encryption) = shared.bucket_keys(&bucket.id).await?.for_write(external);
        Ok(ObjectWriter::new(
            shared.clone(),
            bucket.id,
            keys,
            encryption,
            inline,
        ))
    }

    /// Whether `external` is the key (or absence of one) that reads `obj`; for HEAD, and
    /// for GET before the response starts.
    ///
    /// # Errors
    /// `Error::CustomerKeyRequired`, `Error::CustomerKeyMismatch`,
    /// `Error::CustomerKeyNotApplicable`, `Error::KmsKeyMismatch`; `Error::NoSuchBucket`.
    pub async fn check_object_key(
        &self,
        obj: &ObjectInfo,
        external: Option<&ExternalKey>,
    ) -> Result<()> {
        let keys = self.inner.shared.bucket_keys(&obj.bucket).await?;
        crate::keys::encryption::check(&keys, obj.encryption, external)
    }

    /// [`Store::commit_object_with`] with no condition and no lock.
    ///
    /// # Errors
    /// As [`Store::commit_object_with`].
    pub async fn commit_object(
        &self,
        bucket: &BucketInfo,
        key: &str,
        body: StagedBody,
        meta: ObjectMeta,
    ) -> Result<ObjectInfo> {
        self.commit_object_with(bucket, key, body, meta, WriteOptions::default())
            .await
    }

    /// Commits a body under `key` atomically (one index transaction, group-committed with
    /// other writers) as the key's new current version: in a versioned bucket the old one
    /// is kept, otherwise it is replaced and its chunks released. Returns once the commit
    /// is durable (with `Durability::Immediate`).
    ///
    /// # Errors
    /// `Error::NoSuchBucket` (also if `body` was written for another bucket),
    /// `Error::KeyTooLong`, `Error::PreconditionFailed` / `Error::NoSuchKey` (condition),
    /// `Error::ObjectLocked` (it would replace a locked `null` version),
    /// `Error::ObjectLockNotEnabled`.
    pub async fn commit_object_with(
        &self,
        bucket: &BucketInfo,
        key: &str,
        mut body: StagedBody,
        meta: ObjectMeta,
        options: WriteOptions,
    ) -> Result<ObjectInfo> {
        check_key(key)?;
        if body.bucket != bucket.id {
            return Err(Error::NoSuchBucket);
        }
        let mut record = new_record(body.size(), hex::encode(body.md5()), meta, options.lock);
        record.chunks.clone_from(&body.chunks);
        record.inline = body.inline.take();
        record.encryption = body.encryption;
        let reply = self
            .submit(Op::PutObject {
                bucket: bucket.id,
                key: key.to_owned(),
                record,
                cond: options.condition,
                body: Some(body),
            })
            .await?;
        object_reply(reply, bucket, key)
    }

    /// Server-side copy of version `src` to a new version at `dst_key`. Same bucket: links
    /// the source's chunks (no data rewritten). Other bucket: decrypts and reseals into the
    /// destination bucket's keys, streaming.
    ///
    /// # Errors
    /// `Error::NoSuchKey` if the source version is gone; as
    /// [`Store::commit_object_with`] for the destination.
    pub async fn copy_object(
        &self,
        src: &ObjectInfo,
        dst_bucket: &BucketInfo,
        dst_key: &str,
        meta: ObjectMeta,
        options: WriteOptions,
    ) -> Result<ObjectInfo> {
        self.copy_object_with(src, None, dst_bucket, dst_key, meta, options, None)
            .await
    }

    /// [`Store::copy_object`] with outside keys (SSE-C, SSE-KMS): `src_key` opens the
    /// source, `dst_key_with` keys the copy. Only a copy between objects under the bucket's
    /// own keys in one bucket links chunks; any copy involving an outside key reads and
    /// reseals, since chunk ids and seals differ per key (and a copy re-keyed to another key
    /// must not keep chunks the old key opens).
    ///
    /// # Errors
    /// As [`Store::copy_object`]; as [`Store::check_object_key`] for the source.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_object_with(
        &self,
        src: &ObjectInfo,
        src_key: Option<&ExternalKey>,
        dst_bucket: &BucketInfo,
        dst_key: &str,
        meta: ObjectMeta,
        options: WriteOptions,
        dst_key_with: Option<&ExternalKey>,
    ) -> Result<ObjectInfo> {
        check_key(dst_key)?;
        self.check_object_key(src, src_key).await?;
        if src.bucket == dst_bucket.id && src_key.is_none() && dst_key_with.is_none() {
            let record = new_record(0, String::new(), meta, options.lock);
            let reply = self
                .submit(Op::LinkObject {
                    bucket: src.bucket,
                    src_key: src.key.clone(),
                    src_seq: src.seq,
                    dst_key: dst_key.to_owned(),
                    record,
                    cond: options.condition,
                })
                .await?;
            return object_reply(reply, dst_bucket, dst_key);
        }
        // Chunks may outlive the version (another version shares them): check it is there.
        let (bucket, key, seq) = (src.bucket, src.key.clone(), src.seq);
        if self
            .inner
            .shared
            .read(move |s| s.version_by_seq(&bucket, &key, seq))
            .await?
            .is_none()
        {
            return Err(Error::NoSuchKey);
        }
        let mut writer = self.object_writer_with(dst_bucket, dst_key_with).await?;
        let mut reader = self.read_object_with(src, 0..src.size, src_key);
        while let Some(piece) = reader.recv().await {
            writer.write(piece?).await?;
        }
        let body = writer.finish().await?;
        self.commit_object_with(dst_bucket, dst_key, body, meta, options)
            .await
    }

    /// The current object at `key`.
    ///
    /// # Errors
    /// `Error::NoSuchKey`; `Error::DeleteMarker` if the key's latest version is a delete
    /// marker.
    pub async fn head_object(&self, bucket: &BucketInfo, key: &str) -> Result<ObjectInfo> {
        self.head_version(bucket, key, None).await
    }

    /// A version of `key` (`None`: the current object).
    ///
    /// # Errors
    /// `Error::NoSuchKey` / `Error::NoSuchVersion`; `Error::DeleteMarker` if the version
    /// named (or, without one, the latest) is a delete marker.
    pub async fn head_version(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<VersionRef>,
    ) -> Result<ObjectInfo> {
        let (id, owned) = (bucket.id, key.to_owned());
        let (record, state, is_current) = self
            .inner
            .shared
            .read(move |s| {
                let state = s.versioning(&id)?;
                let current = s.object(&id, &owned)?;
                let Some(wanted) = version else {
                    return match current {
                        Some(record) => Ok((record, state, true)),
                        None => match s.latest_delete_marker(&id, &owned)? {
                            Some(m) => Err(Error::DeleteMarker {
                                version_id: m.version.id_text(),
                            }),
                            None => Err(Error::NoSuchKey),
                        },
                    };
                };
                match s.version(&id, &owned, wanted)? {
                    Some(Ok(record)) => {
                        let is_current = current.is_some_and(|c| c.version == record.version);
                        Ok((record, state, is_current))
                    }
                    Some(Err(marker)) => Err(Error::DeleteMarker {
                        version_id: marker.version.id_text(),
                    }),
                    None => Err(Error::NoSuchVersion),
                }
            })
            .await?;
        Ok(ObjectInfo::from_record(
            bucket.id,
            key.to_owned(),
            record,
            state,
            is_current,
        ))
    }

    async fn update_version(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<VersionRef>,
        change: VersionChange,
    ) -> Result<ObjectInfo> {
        let reply = self
            .submit(Op::UpdateVersion {
                bucket: bucket.id,
                key: key.to_owned(),
                version,
                change,
            })
            .await?;
        object_reply(reply, bucket, key)
    }

    /// Replaces the ACL grants of a version (PutObjectAcl), atomically and durably;
    /// nothing else about it changes. An empty list makes it private.
    ///
    /// # Errors
    /// `Error::NoSuchKey` / `Error::NoSuchVersion` / `Error::DeleteMarker`; index errors.
    pub async fn set_object_grants(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<VersionRef>,
        grants: Vec<ObjectGrant>,
    ) -> Result<ObjectInfo> {
        self.update_version(bucket, key, version, VersionChange::Grants(grants))
            .await
    }

    /// Replaces the tag set of a version (PutObjectTagging; an empty set for
    /// DeleteObjectTagging), atomically and durably; nothing else about it changes, and a
    /// locked version may be tagged.
    ///
    /// # Errors
    /// As [`Store::set_object_grants`].
    pub async fn set_object_tags(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<VersionRef>,
        tags: Vec<(String, String)>,
    ) -> Result<ObjectInfo> {
        self.update_version(bucket, key, version, VersionChange::Tags(tags))
            .await
    }

    /// Sets (or, with `None`, removes) a version's retention. It may always be extended;
    /// an unexpired retention is shortened, weakened or removed only if it is GOVERNANCE
    /// and `bypass_governance` is set.
    ///
    /// # Errors
    /// `Error::ObjectLocked`; `Error::ObjectLockNotEnabled`; as
    /// [`Store::set_object_grants`].
    pub async fn set_retention(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<VersionRef>,
        retention: Option<Retention>,
        bypass_governance: bool,
    ) -> Result<ObjectInfo> {
        let change = VersionChange::Retention {
            retention,
            bypass_governance,
        };
        self.update_version(bucket, key, version, change).await
    }

    /// Sets or clears a version's legal hold.
    ///
    /// # Errors
    /// `Error::ObjectLockNotEnabled`; as [`Store::set_object_grants`].
    pub async fn set_legal_hold(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<VersionRef>,
        on: bool,
    ) -> Result<ObjectInfo> {
        self.update_version(bucket, key, version, VersionChange::LegalHold(on))
            .await
    }

    /// Streams plaintext bytes `range` of the object (clamped to its size), opening only
    /// the chunks the range touches and reading one chunk ahead. Errors arrive in the
    /// stream: `Error::Corrupt` for a chunk that fails to open, `Error::NoSuchKey` if the
    /// object was deleted meanwhile.
    pub fn read_object(&self, obj: &ObjectInfo, range: Range<u64>) -> ObjectReader {
        reader::spawn(&self.inner.shared, obj, range, None)
    }

    /// [`Store::read_object`] with the object's outside key (SSE-C, SSE-KMS). The key is
    /// checked against the object's record before any chunk is opened; a missing or wrong
    /// key ends the stream with the error [`Store::check_object_key`] gives.
    pub fn read_object_with(
        &self,
        obj: &ObjectInfo,
        range: Range<u64>,
        external: Option<&ExternalKey>,
    ) -> ObjectReader {
        reader::spawn(&self.inner.shared, obj, range, external.cloned())
    }

    /// Deletes the object at `key` (a delete marker in a versioned bucket); `Ok(false)` if
    /// there was none (S3 delete is idempotent). Chunk files go once nothing references
    /// them.
    ///
    /// # Errors
    /// `Error::ObjectLocked`; index errors; `Error::ShuttingDown`.
    pub async fn delete_object(&self, bucket: &BucketInfo, key: &str) -> Result<bool> {
        self.delete_object_with(bucket, key, DeleteOptions::default())
            .await
            .map(|o| o.found)
    }

    /// Deletes a key or one version of it.
    ///
    /// # Errors
    /// `Error::ObjectLocked`; `Error::PreconditionFailed` / `Error::NoSuchKey` (condition);
    /// index errors; `Error::ShuttingDown`.
    pub async fn delete_object_with(
        &self,
        bucket: &BucketInfo,
        key: &str,
        options: DeleteOptions,
    ) -> Result<DeleteOutcome> {
        let target = DeleteTarget {
            key: key.to_owned(),
            version: options.version,
            cond: options.condition,
        };
        let mut outcomes = self
            .delete_targets(bucket, vec![target], options.bypass_governance)
            .await?;
        outcomes.pop().unwrap_or(Err(Error::Corrupt {
            what: "writer reply",
        }))
    }

    /// Deletes many keys in one index transaction (the caller caps it at 1000 keys).
    ///
    /// # Errors
    /// Index errors; `Error::ShuttingDown`.
    pub async fn delete_objects(&self, bucket: &BucketInfo, keys: Vec<String>) -> Result<()> {
        let targets = keys.into_iter().map(|k| (k, None)).collect();
        self.delete_versions(bucket, targets, false)
            .await
            .map(|_| ())
    }

    /// Deletes many keys or versions in one index transaction; each gets its own outcome
    /// (a locked version is refused alone, the others go).
    ///
    /// # Errors
    /// Index errors; `Error::ShuttingDown`.
    pub async fn delete_versions(
        &self,
        bucket: &BucketInfo,
        targets: Vec<(String, Option<VersionRef>)>,
        bypass_governance: bool,
    ) -> Result<Vec<Result<DeleteOutcome>>> {
        let targets = targets
            .into_iter()
            .map(|(key, version)| DeleteTarget {
                key,
                version,
                cond: None,
            })
            .collect();
        self.delete_targets(bucket, targets, bypass_governance)
            .await
    }

    async fn delete_targets(
        &self,
        bucket: &BucketInfo,
        targets: Vec<DeleteTarget>,
        bypass_governance: bool,
    ) -> Result<Vec<Result<DeleteOutcome>>> {
        match self
            .submit(Op::DeleteObjects {
                bucket: bucket.id,
                targets,
                bypass_governance,
            })
            .await?
        {
            Reply::Deleted(outcomes) => Ok(outcomes),
            _ => Err(Error::Corrupt {
                what: "writer reply",
            }),
        }
    }

    /// One page of the bucket's current objects, keys in byte order (see [`ListParams`]).
    /// Older versions are kept apart, so they cost nothing here.
    ///
    /// # Errors
    /// Index errors; `Error::Corrupt` for a record that does not decode.
    pub async fn list_objects(&self, bucket: &BucketInfo, params: ListParams) -> Result<ListPage> {
        let id = bucket.id;
        self.inner.shared.read(move |s| s.list(&id, &params)).await
    }

    /// One page of every version and delete marker, keys in byte order, each key's
    /// versions newest first (ListObjectVersions).
    ///
    /// # Errors
    /// Index errors; `Error::Corrupt` for a record that does not decode.
    pub async fn list_object_versions(
        &self,
        bucket: &BucketInfo,
        params: VersionListParams,
    ) -> Result<VersionsPage> {
        let id = bucket.id;
        self.inner
            .shared
            .read(move |s| s.list_versions(&id, &params))
            .await
    }
}
