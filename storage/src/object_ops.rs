//! Object operations of [`Store`]: write → finish → (server verifies) → commit, copy, read,
//! delete, list.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::ingest::{ObjectWriter, StagedBody};
use crate::list::{ListPage, ListParams};
use crate::object::{BucketInfo, ObjectGrant, ObjectInfo, ObjectMeta, now_ms};
use crate::reader::{self, ObjectReader};
use crate::records::ObjectRecord;
use crate::store::{MAX_KEY_LEN, Store};
use crate::writer::{Op, Reply};

fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        Err(Error::KeyTooLong)
    } else {
        Ok(())
    }
}

fn object_reply(reply: Reply) -> Result<ObjectRecord> {
    match reply {
        Reply::Object(record) => Ok(record),
        // The writer answers each op with its own reply kind.
        _ => Err(Error::Corrupt {
            what: "writer reply",
        }),
    }
}

impl Store {
    /// Starts an upload into `bucket`.
    ///
    /// # Errors
    /// `Error::NoSuchBucket`.
    pub async fn object_writer(&self, bucket: &BucketInfo) -> Result<ObjectWriter> {
        let shared = &self.inner.shared;
        let keys = shared.bucket_keys(&bucket.id).await?;
        Ok(ObjectWriter::new(shared.clone(), bucket.id, keys))
    }

    /// Commits a body under `key` atomically (one index transaction, group-committed with
    /// other writers), replacing any object there; the replaced object's chunks are
    /// released. Returns once the commit is durable (with `Durability::Immediate`).
    ///
    /// # Errors
    /// `Error::NoSuchBucket` (also if `body` was written for another bucket),
    /// `Error::KeyTooLong`.
    pub async fn commit_object(
        &self,
        bucket: &BucketInfo,
        key: &str,
        body: StagedBody,
        meta: ObjectMeta,
    ) -> Result<ObjectInfo> {
        check_key(key)?;
        if body.bucket != bucket.id {
            return Err(Error::NoSuchBucket);
        }
        let record = ObjectRecord {
            size: body.size(),
            etag: hex::encode(body.md5()),
            modified_ms: now_ms(),
            meta,
            chunks: body.chunks.clone(),
        };
        let record = object_reply(
            self.submit(Op::PutObject {
                bucket: bucket.id,
                key: key.to_owned(),
                record,
                body: Some(body),
            })
            .await?,
        )?;
        Ok(ObjectInfo::from_record(bucket.id, key.to_owned(), record))
    }

    /// Server-side copy. Same bucket: links the source's chunks (no data rewritten).
    /// Other bucket: decrypts and reseals into the destination bucket's keys, streaming.
    ///
    /// # Errors
    /// `Error::NoSuchKey` if the source is gone or changed (its `ETag` or mtime differ from
    /// `src`); `Error::NoSuchBucket`; `Error::KeyTooLong`.
    pub async fn copy_object(
        &self,
        src: &ObjectInfo,
        dst_bucket: &BucketInfo,
        dst_key: &str,
        meta: ObjectMeta,
    ) -> Result<ObjectInfo> {
        check_key(dst_key)?;
        if src.bucket == dst_bucket.id {
            let record = object_reply(
                self.submit(Op::LinkObject {
                    bucket: src.bucket,
                    src_key: src.key.clone(),
                    expect_etag: src.etag.clone(),
                    expect_modified_ms: src.modified_ms,
                    dst_key: dst_key.to_owned(),
                    meta,
                    modified_ms: now_ms(),
                })
                .await?,
            )?;
            return Ok(ObjectInfo::from_record(
                dst_bucket.id,
                dst_key.to_owned(),
                record,
            ));
        }
        let (bucket, key) = (src.bucket, src.key.clone());
        let current = self
            .inner
            .shared
            .read(move |s| s.object(&bucket, &key))
            .await?;
        if current.is_none_or(|c| c.etag != src.etag || c.modified_ms != src.modified_ms) {
            return Err(Error::NoSuchKey);
        }
        let mut writer = self.object_writer(dst_bucket).await?;
        let mut reader = self.read_object(src, 0..src.size);
        while let Some(piece) = reader.recv().await {
            writer.write(piece?).await?;
        }
        let body = writer.finish().await?;
        self.commit_object(dst_bucket, dst_key, body, meta).await
    }

    /// The object at `key`.
    ///
    /// # Errors
    /// `Error::NoSuchKey`.
    pub async fn head_object(&self, bucket: &BucketInfo, key: &str) -> Result<ObjectInfo> {
        let (id, owned) = (bucket.id, key.to_owned());
        let record = self
            .inner
            .shared
            .read(move |s| s.object(&id, &owned))
            .await?
            .ok_or(Error::NoSuchKey)?;
        Ok(ObjectInfo::from_record(bucket.id, key.to_owned(), record))
    }

    /// Replaces the ACL grants of the object at `key` (PutObjectAcl), atomically and
    /// durably; nothing else about the object changes. An empty list makes it private.
    ///
    /// # Errors
    /// `Error::NoSuchKey`; index errors.
    pub async fn set_object_grants(
        &self,
        bucket: &BucketInfo,
        key: &str,
        grants: Vec<ObjectGrant>,
    ) -> Result<ObjectInfo> {
        let record = object_reply(
            self.submit(Op::SetObjectGrants {
                bucket: bucket.id,
                key: key.to_owned(),
                grants,
            })
            .await?,
        )?;
        Ok(ObjectInfo::from_record(bucket.id, key.to_owned(), record))
    }

    /// Streams plaintext bytes `range` of the object (clamped to its size), opening only
    /// the chunks the range touches and reading one chunk ahead. Errors arrive in the
    /// stream: `Error::Corrupt` for a chunk that fails to open, `Error::NoSuchKey` if the
    /// object was deleted meanwhile.
    pub fn read_object(&self, obj: &ObjectInfo, range: Range<u64>) -> ObjectReader {
        reader::spawn(&self.inner.shared, obj, range)
    }

    /// Deletes the object at `key`; `Ok(false)` if there was none (S3 delete is
    /// idempotent). Its chunk files go once nothing references them.
    ///
    /// # Errors
    /// Index errors; `Error::ShuttingDown`.
    pub async fn delete_object(&self, bucket: &BucketInfo, key: &str) -> Result<bool> {
        match self
            .submit(Op::DeleteObjects {
                bucket: bucket.id,
                keys: vec![key.to_owned()],
            })
            .await?
        {
            Reply::Deleted(found) => Ok(found.first().copied().unwrap_or(false)),
            _ => Err(Error::Corrupt {
                what: "writer reply",
            }),
        }
    }

    /// Deletes many objects in one index transaction (the caller caps it at 1000 keys).
    ///
    /// # Errors
    /// Index errors; `Error::ShuttingDown`.
    pub async fn delete_objects(&self, bucket: &BucketInfo, keys: Vec<String>) -> Result<()> {
        self.submit(Op::DeleteObjects {
            bucket: bucket.id,
            keys,
        })
        .await
        .map(|_| ())
    }

    /// One page of the bucket's keys in byte order (see [`ListParams`]).
    ///
    /// # Errors
    /// Index errors; `Error::Corrupt` for a record that does not decode.
    pub async fn list_objects(&self, bucket: &BucketInfo, params: ListParams) -> Result<ListPage> {
        let id = bucket.id;
        self.inner.shared.read(move |s| s.list(&id, &params)).await
    }
}
