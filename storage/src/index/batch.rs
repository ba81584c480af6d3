//! Writes: one redb write transaction shared by every request of a group commit.
//!
//! Each operation validates before it mutates, so a logical failure (`BucketNotEmpty`,
//! `NoSuchKey`, …) leaves the transaction as it was and does not fail the others. Refcounts
//! of a new object's chunks are incremented and those of the object it replaces decremented
//! in the same transaction; chunks whose count reaches zero are reported in [`Effects`] for
//! the caller to delete once the commit is durable.

use std::collections::BTreeSet;

use redb::{ReadableTable as _, WriteTransaction};

use super::{
    BUCKET_KEYS, BUCKETS, CHUNK_REFS, OBJECTS, SEALED, chunk_ref_key, prefix_end, prefixed,
};
use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::object::{ObjectGrant, ObjectMeta};
use crate::records::{self, BucketId, BucketRecord, ChunkRef, ObjectRecord};

/// What a committed batch leaves for the caller to do on disk.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Chunks no object references any more.
    pub(crate) unreferenced: Vec<(BucketId, ChunkId)>,
    /// Buckets deleted: their keys are gone, their chunk directories can go.
    pub(crate) dropped_buckets: Vec<BucketId>,
}

/// An open write transaction and what it has freed so far.
pub(crate) struct Batch {
    pub(super) txn: WriteTransaction,
    freed: BTreeSet<(BucketId, ChunkId)>,
    dropped_buckets: Vec<BucketId>,
}

impl Batch {
    pub(super) fn new(txn: WriteTransaction) -> Batch {
        Batch {
            txn,
            freed: BTreeSet::new(),
            dropped_buckets: Vec::new(),
        }
    }

    /// Creates a bucket and stores its wrapped key.
    pub(crate) fn create_bucket(
        &mut self,
        name: &str,
        record: &BucketRecord,
        wrapped_key: &[u8],
    ) -> Result<()> {
        let mut buckets = self
            .txn
            .open_table(BUCKETS)
            .map_err(Error::index("open buckets"))?;
        if let Some(existing) = buckets.get(name).map_err(Error::index("read bucket"))? {
            let existing: BucketRecord = records::decode(existing.value(), "bucket record")?;
            return Err(Error::BucketAlreadyExists {
                owner: existing.owner,
            });
        }
        buckets
            .insert(name, records::encode(record).as_slice())
            .map_err(Error::index("write bucket"))?;
        let mut keys = self
            .txn
            .open_table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?;
        keys.insert(record.id.as_slice(), wrapped_key)
            .map_err(Error::index("write bucket key"))?;
        Ok(())
    }

    /// Deletes an empty bucket, its wrapped key (crypto-shredding), its unfinished uploads
    /// and its settings.
    pub(crate) fn delete_bucket(&mut self, name: &str) -> Result<()> {
        let mut buckets = self
            .txn
            .open_table(BUCKETS)
            .map_err(Error::index("open buckets"))?;
        let record: BucketRecord = match buckets.get(name).map_err(Error::index("read bucket"))? {
            Some(v) => records::decode(v.value(), "bucket record")?,
            None => return Err(Error::NoSuchBucket),
        };
        {
            let objects = self
                .txn
                .open_table(OBJECTS)
                .map_err(Error::index("open objects"))?;
            let start = record.id.to_vec();
            let any = match prefix_end(&record.id) {
                Some(end) => objects.range(start.as_slice()..end.as_slice()),
                None => objects.range(start.as_slice()..),
            }
            .map_err(Error::index("scan objects"))?
            .next()
            .is_some();
            if any {
                return Err(Error::BucketNotEmpty);
            }
        }
        buckets
            .remove(name)
            .map_err(Error::index("remove bucket"))?;
        let mut keys = self
            .txn
            .open_table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?;
        keys.remove(record.id.as_slice())
            .map_err(Error::index("remove bucket key"))?;
        drop((keys, buckets));
        // Unfinished multipart uploads go with the bucket (their parts are not objects).
        self.drop_bucket_uploads(&record.id)?;
        // Its settings too: a policy must not outlive its bucket in the index. (A bucket
        // created later under the same name gets a new id, so it would not see them anyway.)
        self.drop_bucket_settings(&record.id)?;
        self.dropped_buckets.push(record.id);
        Ok(())
    }

    fn bucket_exists(&self, bucket: &BucketId) -> Result<bool> {
        let keys = self
            .txn
            .open_table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?;
        Ok(keys
            .get(bucket.as_slice())
            .map_err(Error::index("read bucket key"))?
            .is_some())
    }

    /// Stores an object at `key`, replacing any object there.
    pub(crate) fn put_object(
        &mut self,
        bucket: &BucketId,
        key: &str,
        record: &ObjectRecord,
    ) -> Result<()> {
        if !self.bucket_exists(bucket)? {
            return Err(Error::NoSuchBucket);
        }
        // Increment first, so chunks shared by the old and new object never touch zero.
        self.add_refs(bucket, &record.chunks)?;
        let old = {
            let mut objects = self
                .txn
                .open_table(OBJECTS)
                .map_err(Error::index("open objects"))?;
            objects
                .insert(
                    prefixed(bucket, key.as_bytes()).as_slice(),
                    records::encode(record).as_slice(),
                )
                .map_err(Error::index("write object"))?
                .map(|v| records::decode::<ObjectRecord>(v.value(), "object record"))
                .transpose()
        };
        if let Some(old) = old? {
            self.drop_refs(bucket, &old.chunks)?;
            self.forget_layout(bucket, key)?;
        }
        Ok(())
    }

    /// Copies an object within a bucket by linking its chunks. Fails with `NoSuchKey` if
    /// the source is gone or is no longer the version the caller saw.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn link_object(
        &mut self,
        bucket: &BucketId,
        src_key: &str,
        expect_etag: &str,
        expect_modified_ms: u64,
        dst_key: &str,
        meta: &ObjectMeta,
        modified_ms: u64,
    ) -> Result<ObjectRecord> {
        let src: ObjectRecord = {
            let objects = self
                .txn
                .open_table(OBJECTS)
                .map_err(Error::index("open objects"))?;
            match objects
                .get(prefixed(bucket, src_key.as_bytes()).as_slice())
                .map_err(Error::index("read object"))?
            {
                Some(v) => records::decode(v.value(), "object record")?,
                None => return Err(Error::NoSuchKey),
            }
        };
        if src.etag != expect_etag || src.modified_ms != expect_modified_ms {
            return Err(Error::NoSuchKey);
        }
        let record = ObjectRecord {
            meta: meta.clone(),
            modified_ms,
            ..src
        };
        self.put_object(bucket, dst_key, &record)?;
        Ok(record)
    }

    /// Replaces the ACL grants of the object at `key` in place: same body, `ETag`, mtime,
    /// refcounts and multipart layout (PutObjectAcl changes none of them).
    pub(crate) fn set_object_grants(
        &mut self,
        bucket: &BucketId,
        key: &str,
        grants: &[ObjectGrant],
    ) -> Result<ObjectRecord> {
        let mut objects = self
            .txn
            .open_table(OBJECTS)
            .map_err(Error::index("open objects"))?;
        let index_key = prefixed(bucket, key.as_bytes());
        let mut record: ObjectRecord = match objects
            .get(index_key.as_slice())
            .map_err(Error::index("read object"))?
        {
            Some(v) => records::decode(v.value(), "object record")?,
            None => return Err(Error::NoSuchKey),
        };
        record.meta.grants = grants.to_vec();
        objects
            .insert(index_key.as_slice(), records::encode(&record).as_slice())
            .map_err(Error::index("write object"))?;
        Ok(record)
    }

    /// Deletes objects; for each key, whether something was there.
    pub(crate) fn delete_objects(
        &mut self,
        bucket: &BucketId,
        keys: &[String],
    ) -> Result<Vec<bool>> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let old = {
                let mut objects = self
                    .txn
                    .open_table(OBJECTS)
                    .map_err(Error::index("open objects"))?;
                objects
                    .remove(prefixed(bucket, key.as_bytes()).as_slice())
                    .map_err(Error::index("remove object"))?
                    .map(|v| records::decode::<ObjectRecord>(v.value(), "object record"))
                    .transpose()
            };
            // A record that does not decode is still removed; its chunks leak until a sweep.
            match old {
                Ok(Some(old)) => {
                    self.drop_refs(bucket, &old.chunks)?;
                    self.forget_layout(bucket, key)?;
                    found.push(true);
                }
                Ok(None) => found.push(false),
                Err(e) => {
                    tracing::debug!(error = %e, "deleted an undecodable object record");
                    found.push(true);
                }
            }
        }
        Ok(found)
    }

    /// Stores a sealed record.
    pub(crate) fn put_sealed(&mut self, name: &str, sealed: &[u8]) -> Result<()> {
        let mut table = self
            .txn
            .open_table(SEALED)
            .map_err(Error::index("open sealed records"))?;
        table
            .insert(name, sealed)
            .map_err(Error::index("write sealed record"))?;
        Ok(())
    }

    pub(super) fn add_refs(&mut self, bucket: &BucketId, chunks: &[ChunkRef]) -> Result<()> {
        let mut refs = self
            .txn
            .open_table(CHUNK_REFS)
            .map_err(Error::index("open chunk refs"))?;
        for chunk in chunks {
            let key = chunk_ref_key(bucket, &chunk.id);
            let count = refs
                .get(key.as_slice())
                .map_err(Error::index("read chunk refcount"))?
                .map_or(0, |v| v.value());
            refs.insert(key.as_slice(), count + 1)
                .map_err(Error::index("write chunk refcount"))?;
        }
        Ok(())
    }

    pub(super) fn drop_refs(&mut self, bucket: &BucketId, chunks: &[ChunkRef]) -> Result<()> {
        let mut refs = self
            .txn
            .open_table(CHUNK_REFS)
            .map_err(Error::index("open chunk refs"))?;
        for chunk in chunks {
            let key = chunk_ref_key(bucket, &chunk.id);
            let count = refs
                .get(key.as_slice())
                .map_err(Error::index("read chunk refcount"))?
                .map_or(0, |v| v.value());
            if count > 1 {
                refs.insert(key.as_slice(), count - 1)
                    .map_err(Error::index("write chunk refcount"))?;
            } else {
                refs.remove(key.as_slice())
                    .map_err(Error::index("remove chunk refcount"))?;
                self.freed.insert((*bucket, chunk.id));
            }
        }
        Ok(())
    }

    /// Commits; returns the chunks left unreferenced and the buckets dropped.
    pub(crate) fn commit(self) -> Result<Effects> {
        let mut unreferenced = Vec::with_capacity(self.freed.len());
        {
            let refs = self
                .txn
                .open_table(CHUNK_REFS)
                .map_err(Error::index("open chunk refs"))?;
            // A chunk freed by one request may have been linked again by a later one.
            for (bucket, id) in self.freed {
                if refs
                    .get(chunk_ref_key(&bucket, &id).as_slice())
                    .map_err(Error::index("read chunk refcount"))?
                    .is_none()
                {
                    unreferenced.push((bucket, id));
                }
            }
        }
        self.txn.commit().map_err(Error::index("commit"))?;
        Ok(Effects {
            unreferenced,
            dropped_buckets: self.dropped_buckets,
        })
    }
}
