//! Whole-index scans for `fsck` and the online scrub: every object version, every multipart part and every
//! stored refcount, one entry at a time from one snapshot (constant memory), with the
//! bucket id each belongs to.
//!
//! A record that does not decode is handed to the caller as an error rather than ending the
//! scan: `fsck` reports it and goes on.

use redb::ReadableTable as _;

use super::snapshot::Snapshot;
use super::uploads::{PARTS, PartRecord, UPLOADS, UploadRecord};
use super::versions::VERSIONS;
use super::{Batch, CHUNK_REFS, chunk_ref_key};
use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::keys::encryption::Encryption;
use crate::records::{self, BucketId, ObjectRecord, VersionRecord};

/// Which table an entry came from, so a report can say what kind of record is unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// Current object versions.
    Objects,
    /// Older versions and delete markers.
    Versions,
}

/// One page of [`Snapshot::object_versions_page`].
#[derive(Debug, Default)]
pub(crate) struct VersionsPage {
    /// The versions that hold chunks, with their bucket (`None` for a key too short).
    pub(crate) entries: Vec<(Option<BucketId>, Result<ObjectRecord>)>,
    /// Entries read, delete markers included (progress).
    pub(crate) seen: usize,
    /// The key to continue after; `None` when the table is done.
    pub(crate) next: Option<Vec<u8>>,
}

/// The bucket id every key of these tables starts with; `None` for a key too short.
fn bucket_of(key: &[u8]) -> Option<BucketId> {
    key.get(..16).and_then(|b| BucketId::try_from(b).ok())
}

impl Snapshot {
    /// Calls `f` with every object version (current ones, then older ones; delete markers
    /// hold no chunks and are skipped). An undecodable record is passed as `Err`.
    pub(crate) fn each_object_version(
        &self,
        mut f: impl FnMut(Table, Option<BucketId>, Result<ObjectRecord>) -> Result<()>,
    ) -> Result<()> {
        for entry in self
            .objects_table()
            .iter()
            .map_err(Error::index("scan objects"))?
        {
            let (key, value) = entry.map_err(Error::index("scan objects"))?;
            let record = records::decode(value.value(), "object record");
            f(Table::Objects, bucket_of(key.value()), record)?;
        }
        let versions = self
            .txn
            .open_table(VERSIONS)
            .map_err(Error::index("open versions"))?;
        for entry in versions.iter().map_err(Error::index("scan versions"))? {
            let (key, value) = entry.map_err(Error::index("scan versions"))?;
            match records::decode::<VersionRecord>(value.value(), "version record") {
                Ok(VersionRecord::DeleteMarker(_)) => {}
                Ok(VersionRecord::Object(record)) => {
                    f(Table::Versions, bucket_of(key.value()), Ok(record))?;
                }
                Err(e) => f(Table::Versions, bucket_of(key.value()), Err(e))?,
            }
        }
        Ok(())
    }

    /// Up to `limit` object versions of `table` whose keys come after `after` (from the
    /// start with `None`), for walks that must not hold one snapshot for hours (the online
    /// scrub): each page is read from its own snapshot. Returns the entries and the key to
    /// go on after, `None` once the table is done. Delete markers are skipped.
    pub(crate) fn object_versions_page(
        &self,
        table: Table,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<VersionsPage> {
        let versions;
        let source = match table {
            Table::Objects => self.objects_table(),
            Table::Versions => {
                versions = self
                    .txn
                    .open_table(VERSIONS)
                    .map_err(Error::index("open versions"))?;
                &versions
            }
        };
        let range = match after {
            Some(after) => source
                .range::<&[u8]>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => source.range::<&[u8]>(..),
        }
        .map_err(Error::index("scan object versions"))?;
        let mut page = VersionsPage::default();
        for entry in range {
            if page.seen == limit {
                return Ok(page);
            }
            let (key, value) = entry.map_err(Error::index("scan object versions"))?;
            page.seen += 1;
            page.next = Some(key.value().to_vec());
            let record = match table {
                Table::Objects => records::decode(value.value(), "object record"),
                Table::Versions => {
                    match records::decode::<VersionRecord>(value.value(), "version record") {
                        Ok(VersionRecord::DeleteMarker(_)) => continue,
                        Ok(VersionRecord::Object(record)) => Ok(record),
                        Err(e) => Err(e),
                    }
                }
            };
            page.entries.push((bucket_of(key.value()), record));
        }
        page.next = None;
        Ok(page)
    }

    /// How many entries `table` holds (redb keeps the count: no scan).
    pub(crate) fn object_versions_len(&self, table: Table) -> Result<u64> {
        use redb::ReadableTableMetadata as _;
        match table {
            Table::Objects => self.objects_table().len(),
            Table::Versions => self
                .txn
                .open_table(VERSIONS)
                .map_err(Error::index("open versions"))?
                .len(),
        }
        .map_err(Error::index("count object versions"))
    }

    /// Calls `f` with every part of every multipart upload, and the keys its upload says
    /// the parts are under (`None` if the upload's record is missing or unreadable).
    pub(crate) fn each_part(
        &self,
        mut f: impl FnMut(Option<BucketId>, Option<Encryption>, Result<PartRecord>) -> Result<()>,
    ) -> Result<()> {
        let parts = self
            .txn
            .open_table(PARTS)
            .map_err(Error::index("open upload parts"))?;
        let uploads = self
            .txn
            .open_table(UPLOADS)
            .map_err(Error::index("open uploads"))?;
        for entry in parts.iter().map_err(Error::index("scan upload parts"))? {
            let (key, value) = entry.map_err(Error::index("scan upload parts"))?;
            // A part's key starts with its upload's: bucket id ‖ upload id.
            let encryption = match key.value().get(..32) {
                Some(upload) => uploads
                    .get(upload)
                    .map_err(Error::index("read upload"))?
                    .and_then(|v| records::decode::<UploadRecord>(v.value(), "upload record").ok())
                    .map(|u| u.encryption),
                None => None,
            };
            f(
                bucket_of(key.value()),
                encryption,
                records::decode(value.value(), "part record"),
            )?;
        }
        Ok(())
    }

    /// Calls `f` with every stored refcount; `None` for a key that is not
    /// `bucket id ‖ chunk id`.
    pub(crate) fn each_refcount(
        &self,
        mut f: impl FnMut(Option<(BucketId, ChunkId)>, u64) -> Result<()>,
    ) -> Result<()> {
        let refs = self
            .txn
            .open_table(CHUNK_REFS)
            .map_err(Error::index("open chunk refs"))?;
        for entry in refs.iter().map_err(Error::index("scan chunk refs"))? {
            let (key, count) = entry.map_err(Error::index("scan chunk refs"))?;
            let key = key.value();
            let parsed = match (
                bucket_of(key),
                <[u8; 32]>::try_from(&key[key.len().min(16)..]),
            ) {
                (Some(bucket), Ok(id)) => Some((bucket, ChunkId(id))),
                _ => None,
            };
            f(parsed, count.value())?;
        }
        Ok(())
    }
}

impl Batch {
    /// Sets a chunk's refcount (`0` removes it): `fsck --repair` setting the count it
    /// found by walking every reference. The chunk file is not touched here.
    pub(crate) fn set_refcount(
        &mut self,
        bucket: &BucketId,
        id: &ChunkId,
        count: u64,
    ) -> Result<()> {
        let mut refs = self
            .table(CHUNK_REFS)
            .map_err(Error::index("open chunk refs"))?;
        let key = chunk_ref_key(bucket, id);
        if count == 0 {
            refs.remove(key.as_slice())
                .map_err(Error::index("remove chunk refcount"))?;
        } else {
            refs.insert(key.as_slice(), count)
                .map_err(Error::index("write chunk refcount"))?;
        }
        Ok(())
    }
}
