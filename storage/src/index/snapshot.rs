//! Reads from one consistent snapshot of the index.

use redb::{ReadOnlyTable, ReadableTable as _};

use super::{BUCKET_KEYS, BUCKETS, CHUNK_REFS, OBJECTS, SEALED, chunk_ref_key, prefixed};
use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::list::{ListPage, ListParams};
use crate::records::{self, BucketId, BucketRecord, ObjectRecord};

/// A read transaction with the tables open.
pub(crate) struct Snapshot {
    buckets: ReadOnlyTable<&'static str, &'static [u8]>,
    bucket_keys: ReadOnlyTable<&'static [u8], &'static [u8]>,
    objects: ReadOnlyTable<&'static [u8], &'static [u8]>,
    chunk_refs: ReadOnlyTable<&'static [u8], u64>,
    sealed: ReadOnlyTable<&'static str, &'static [u8]>,
    /// Kept for tables opened on demand (`settings.rs`), in this same snapshot.
    pub(super) txn: redb::ReadTransaction,
}

impl Snapshot {
    pub(super) fn new(txn: redb::ReadTransaction) -> Result<Snapshot> {
        let open = Error::index::<redb::TableError>;
        Ok(Snapshot {
            buckets: txn.open_table(BUCKETS).map_err(open("open buckets"))?,
            bucket_keys: txn
                .open_table(BUCKET_KEYS)
                .map_err(open("open bucket keys"))?,
            objects: txn.open_table(OBJECTS).map_err(open("open objects"))?,
            chunk_refs: txn
                .open_table(CHUNK_REFS)
                .map_err(open("open chunk refs"))?,
            sealed: txn
                .open_table(SEALED)
                .map_err(open("open sealed records"))?,
            txn,
        })
    }

    /// The bucket named `name`.
    pub(crate) fn bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.buckets
            .get(name)
            .map_err(Error::index("read bucket"))?
            .map(|v| records::decode(v.value(), "bucket record"))
            .transpose()
    }

    /// Every bucket, in name order.
    pub(crate) fn buckets(&self) -> Result<Vec<(String, BucketRecord)>> {
        let mut out = Vec::new();
        for entry in self.buckets.iter().map_err(Error::index("list buckets"))? {
            let (name, value) = entry.map_err(Error::index("list buckets"))?;
            out.push((
                name.value().to_owned(),
                records::decode(value.value(), "bucket record")?,
            ));
        }
        Ok(out)
    }

    /// A bucket's wrapped key; `None` once the bucket is deleted.
    pub(crate) fn bucket_key(&self, bucket: &BucketId) -> Result<Option<Vec<u8>>> {
        Ok(self
            .bucket_keys
            .get(bucket.as_slice())
            .map_err(Error::index("read bucket key"))?
            .map(|v| v.value().to_vec()))
    }

    /// The object at `key`.
    pub(crate) fn object(&self, bucket: &BucketId, key: &str) -> Result<Option<ObjectRecord>> {
        self.objects
            .get(prefixed(bucket, key.as_bytes()).as_slice())
            .map_err(Error::index("read object"))?
            .map(|v| records::decode(v.value(), "object record"))
            .transpose()
    }

    /// Whether any object references the chunk.
    pub(crate) fn is_referenced(&self, bucket: &BucketId, id: &ChunkId) -> Result<bool> {
        Ok(self
            .chunk_refs
            .get(chunk_ref_key(bucket, id).as_slice())
            .map_err(Error::index("read chunk refcount"))?
            .is_some())
    }

    /// A sealed record, still sealed.
    pub(crate) fn sealed(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .sealed
            .get(name)
            .map_err(Error::index("read sealed record"))?
            .map(|v| v.value().to_vec()))
    }

    /// The objects table, for scans elsewhere in the index module.
    pub(super) fn objects_table(&self) -> &ReadOnlyTable<&'static [u8], &'static [u8]> {
        &self.objects
    }

    /// One page of a bucket's listing.
    pub(crate) fn list(&self, bucket: &BucketId, params: &ListParams) -> Result<ListPage> {
        super::list::scan(&self.objects, bucket, params)
    }
}
