//! Writes: one redb write transaction shared by every request of a group commit.
//!
//! Each operation validates before it mutates, so a logical failure (`BucketNotEmpty`,
//! `NoSuchKey`, …) leaves the transaction as it was and does not fail the others. Refcounts
//! of a new object's chunks are incremented and those of the object it replaces decremented
//! in the same transaction; chunks whose count reaches zero are reported in [`Effects`] for
//! the caller to delete once the commit is durable.

use std::collections::BTreeSet;

use redb::{Key, ReadableTable as _, TableDefinition, Value, WriteTransaction};

use super::journal::{Change, Journal, Journaled};
use super::{BUCKET_KEYS, BUCKETS, CHUNK_REFS, OBJECTS, SEALED, chunk_ref_key, prefix_end};
use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::records::{self, BucketId, BucketRecord, ChunkRef};

/// What a committed batch leaves for the caller to do on disk.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Chunks no object references any more.
    pub(crate) unreferenced: Vec<(BucketId, ChunkId)>,
    /// Buckets deleted: their keys are gone, their chunk directories can go.
    pub(crate) dropped_buckets: Vec<BucketId>,
    /// What the commit wrote, when the index is shipped (`journal.rs`).
    pub(crate) changes: Vec<Change>,
}

/// An open write transaction and what it has freed so far.
pub(crate) struct Batch {
    // Private: every table goes through `table`, so no write escapes the journal.
    write: WriteTransaction,
    journal: Journal,
    freed: BTreeSet<(BucketId, ChunkId)>,
    dropped_buckets: Vec<BucketId>,
}

impl Batch {
    pub(super) fn new(txn: WriteTransaction, journaled: bool) -> Batch {
        Batch {
            write: txn,
            journal: Journal::new(journaled.then(Vec::new)),
            freed: BTreeSet::new(),
            dropped_buckets: Vec::new(),
        }
    }

    /// A table of this batch: its writes are journaled.
    pub(super) fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> std::result::Result<Journaled<'_, K, V>, redb::TableError> {
        Journaled::open(&self.write, &self.journal, def)
    }

    /// The transaction, for crash tests that read what a commit would leave.
    #[cfg(test)]
    pub(super) fn txn(&self) -> &WriteTransaction {
        &self.write
    }

    /// Replays changes shipped from another index, journaling them too.
    pub(crate) fn replay(&mut self, changes: &[Change]) -> Result<()> {
        super::journal::apply(&self.write, changes)?;
        if let Some(journal) = self.journal.get_mut() {
            journal.extend_from_slice(changes);
        }
        Ok(())
    }

    /// Replaces every table with the tables of `source` (a shipped snapshot).
    pub(crate) fn replace_all(&mut self, source: &redb::ReadTransaction) -> Result<()> {
        super::journal::clear_all(&self.write)?;
        super::copy::copy_tables(source, &self.write)?;
        Ok(())
    }

    /// The id of the bucket named `name`, in this transaction.
    pub(super) fn bucket_id(&self, name: &str) -> Result<BucketId> {
        let buckets = self.table(BUCKETS).map_err(Error::index("open buckets"))?;
        match buckets.get(name).map_err(Error::index("read bucket"))? {
            Some(v) => Ok(records::decode::<BucketRecord>(v.value(), "bucket record")?.id),
            None => Err(Error::NoSuchBucket),
        }
    }

    /// Creates a bucket and stores its wrapped key; with `object_lock`, versioning and
    /// Object Lock are on from the start (in the same commit).
    pub(crate) fn create_bucket(
        &mut self,
        name: &str,
        record: &BucketRecord,
        wrapped_key: &[u8],
        object_lock: bool,
    ) -> Result<()> {
        let mut buckets = self.table(BUCKETS).map_err(Error::index("open buckets"))?;
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
            .table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?;
        keys.insert(record.id.as_slice(), wrapped_key)
            .map_err(Error::index("write bucket key"))?;
        drop((keys, buckets));
        if object_lock {
            self.enable_lock_at_creation(&record.id)?;
        }
        Ok(())
    }

    /// Deletes an empty bucket, its wrapped key (crypto-shredding), its unfinished uploads
    /// and its settings.
    pub(crate) fn delete_bucket(&mut self, name: &str) -> Result<()> {
        let mut buckets = self.table(BUCKETS).map_err(Error::index("open buckets"))?;
        let record: BucketRecord = match buckets.get(name).map_err(Error::index("read bucket"))? {
            Some(v) => records::decode(v.value(), "bucket record")?,
            None => return Err(Error::NoSuchBucket),
        };
        {
            let objects = self.table(OBJECTS).map_err(Error::index("open objects"))?;
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
        // Older versions and delete markers count too (AWS: delete every version first), so
        // a bucket holding locked versions cannot go.
        if self.has_older_versions(&record.id)? {
            return Err(Error::BucketNotEmpty);
        }
        buckets
            .remove(name)
            .map_err(Error::index("remove bucket"))?;
        let mut keys = self
            .table(BUCKET_KEYS)
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

    pub(super) fn bucket_exists(&self, bucket: &BucketId) -> Result<bool> {
        let keys = self
            .table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?;
        Ok(keys
            .get(bucket.as_slice())
            .map_err(Error::index("read bucket key"))?
            .is_some())
    }

    /// Stores a sealed record.
    pub(crate) fn put_sealed(&mut self, name: &str, sealed: &[u8]) -> Result<()> {
        let mut table = self
            .table(SEALED)
            .map_err(Error::index("open sealed records"))?;
        table
            .insert(name, sealed)
            .map_err(Error::index("write sealed record"))?;
        Ok(())
    }

    pub(super) fn add_refs(&mut self, bucket: &BucketId, chunks: &[ChunkRef]) -> Result<()> {
        let mut refs = self
            .table(CHUNK_REFS)
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
            .table(CHUNK_REFS)
            .map_err(Error::index("open chunk refs"))?;
        let mut freed = Vec::new();
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
                freed.push((*bucket, chunk.id));
            }
        }
        drop(refs);
        self.freed.extend(freed);
        Ok(())
    }

    /// Tests: overwrites the first current-object record with bytes that do not decode, as
    /// a bug or a bad disk block would leave it.
    #[cfg(test)]
    pub(crate) fn garble_first_object(&mut self) -> Result<()> {
        let mut objects = self.table(OBJECTS).map_err(Error::index("open objects"))?;
        let key = objects
            .first()
            .map_err(Error::index("read objects"))?
            .map(|(key, _)| key.value().to_vec())
            .ok_or(Error::NoSuchKey)?;
        objects
            .insert(key.as_slice(), b"\xff\xfe not a record".as_slice())
            .map_err(Error::index("write object"))?;
        Ok(())
    }

    /// Commits; returns the chunks left unreferenced and the buckets dropped.
    pub(crate) fn commit(self) -> Result<Effects> {
        let mut unreferenced = Vec::with_capacity(self.freed.len());
        {
            let refs = self
                .table(CHUNK_REFS)
                .map_err(Error::index("open chunk refs"))?;
            // A chunk freed by one request may have been linked again by a later one.
            for (bucket, id) in &self.freed {
                if refs
                    .get(chunk_ref_key(bucket, id).as_slice())
                    .map_err(Error::index("read chunk refcount"))?
                    .is_none()
                {
                    unreferenced.push((*bucket, *id));
                }
            }
        }
        self.write.commit().map_err(Error::index("commit"))?;
        Ok(Effects {
            unreferenced,
            dropped_buckets: self.dropped_buckets,
            changes: self.journal.into_inner().unwrap_or_default(),
        })
    }
}
