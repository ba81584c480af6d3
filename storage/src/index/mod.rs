//! The redb index: buckets, wrapped bucket keys, objects, chunk refcounts, sealed records.
//!
//! All redb access lives in this folder; the index file is sealed by an encrypting
//! `StorageBackend` (`sealed_backend.rs`, opened by `sealed_file.rs`). Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name | key-check record (which master key wraps the keys inside), format version |
//! | `buckets` | bucket name | [`BucketRecord`](crate::records::BucketRecord) |
//! | `bucket_keys` | bucket id (16 bytes) | wrapped bucket key |
//! | `objects` | bucket id ‖ key bytes | the current [`ObjectRecord`](crate::records::ObjectRecord) |
//! | `chunk_refs` | bucket id ‖ chunk id | reference count |
//! | `sealed_records` | name | sealed value |
//! | `bucket_settings` | bucket id ‖ setting tag | setting document (see `settings.rs`) |
//! | `versions` | bucket id ‖ escaped key ‖ inverted sequence | older versions, delete markers (see `versions.rs`) |
//!
//! Object keys are prefixed by the bucket id, so one bucket's keys sort together in byte
//! order and a listing is a range scan.

mod batch;
mod copy;
#[cfg(test)]
mod crash_tests;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing;
mod journal;
mod list;
mod memory_backend;
pub(crate) mod sealed_backend;
pub(crate) mod sealed_file;
mod settings;
mod snapshot;
mod uploads;
mod version_list;
mod versions;
mod walk;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redb::{ReadableDatabase, TableDefinition, TableError};

pub(crate) use batch::{Batch, Effects};
pub(crate) use copy::open_copy;
pub(crate) use journal::Change;
pub(crate) use snapshot::Snapshot;
pub(crate) use uploads::{
    LayoutRecord, MIN_PART_SIZE, PartRecord, UploadId, UploadRecord, UploadsView, WantedPart,
};
pub(crate) use walk::Table;

use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::keys::keyring::Keyring;
use crate::records::BucketId;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
const BUCKET_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bucket_keys");
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const CHUNK_REFS: TableDefinition<&[u8], u64> = TableDefinition::new("chunk_refs");
const SEALED: TableDefinition<&str, &[u8]> = TableDefinition::new("sealed_records");

const META_KEY_CHECK: &str = "key_check";
const META_FORMAT: &str = "format";
const FORMAT_VERSION: &[u8] = &[1];

/// redb's page cache for a file index: 64 MiB, not redb's default 1 GiB, which a store of
/// a million objects filled to ~290 MiB of resident memory after its first tidying pass.
/// Listing and lookups touch few pages; the OS page cache holds the rest (sealed).
const FILE_CACHE_BYTES: usize = 64 << 20;
/// An index in memory is its own cache: redb's would only copy its pages.
const MEMORY_CACHE_BYTES: usize = 4 << 20;

/// Where an index is opened.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IndexAt<'a> {
    /// `<root>/index.redb`, sealed.
    File(&'a Path),
    /// In memory: gone at exit.
    Memory,
}

/// The open index.
pub(crate) struct Index {
    db: redb::Database,
    durable: bool,
    /// A file, not memory: relaxed flushes then reach the disk.
    on_disk: bool,
    /// How many bytes an index in memory holds now (for the store's memory budget).
    memory_bytes: Option<Arc<AtomicU64>>,
    /// Whether write batches journal their changes (the index is shipped: `journal.rs`).
    journaled: AtomicBool,
}

impl Index {
    /// Opens (or creates) the index and checks the master key against its key-check
    /// record; in a new index, creates the tables and writes the record. `durable` commits
    /// with `Durability::Immediate`.
    ///
    /// A file index is sealed: its key is checked against `<data>/keys` first, and the
    /// index opened read-only, so a wrong master key is refused before redb writes
    /// anything (opening for writing updates its header).
    pub(crate) fn open(at: IndexAt<'_>, durable: bool, keyring: &Keyring) -> Result<Index> {
        let mut builder = redb::Database::builder();
        builder.set_cache_size(match at {
            IndexAt::File(_) => FILE_CACHE_BYTES,
            IndexAt::Memory => MEMORY_CACHE_BYTES,
        });
        let (db, memory_bytes) = match at {
            // Sealed: only ciphertext reaches the file (P3); see `sealed_backend.rs`.
            IndexAt::File(root) => (sealed_file::open(&builder, root, keyring, durable)?, None),
            IndexAt::Memory => {
                let (backend, len) = memory_backend::CountedMemory::new();
                let db = builder
                    .create_with_backend(backend)
                    .map_err(Error::index("open index"))?;
                (db, Some(len))
            }
        };
        if !verify_key(&db, keyring)? {
            init(&db, keyring)?;
        }
        ensure_tables(&db)?;
        Ok(Index {
            db,
            durable,
            on_disk: matches!(at, IndexAt::File(_)),
            memory_bytes,
            journaled: AtomicBool::new(false),
        })
    }

    /// The counter of an index in memory's size; `None` for a file.
    pub(crate) fn memory_bytes(&self) -> Option<Arc<AtomicU64>> {
        self.memory_bytes.clone()
    }

    /// Whether every commit is durable (`Durability::Immediate`).
    pub(crate) fn is_durable(&self) -> bool {
        self.durable
    }

    /// Whether the index is a file (not in memory).
    pub(crate) fn is_on_disk(&self) -> bool {
        self.on_disk
    }

    /// A consistent read-only view of the last commit.
    pub(crate) fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::new(self.db.begin_read().map_err(Error::index("begin read"))?)
    }

    /// Starts a write batch. `force_durable` overrides relaxed durability (shutdown).
    pub(crate) fn batch(&self, force_durable: bool) -> Result<Batch> {
        let mut txn = self.db.begin_write().map_err(Error::index("begin write"))?;
        let durability = if self.durable || force_durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability)
            .map_err(Error::index("set durability"))?;
        Ok(Batch::new(txn, self.journaled.load(Ordering::Relaxed)))
    }

    /// Every table's entries, as bytes (tests of shipping).
    #[cfg(test)]
    pub(crate) fn dump(&self) -> std::collections::BTreeMap<(&'static str, Vec<u8>), Vec<u8>> {
        journal::dump(&self.db.begin_read().unwrap())
    }

    /// Makes later write batches journal their changes (or stop).
    pub(crate) fn set_journaled(&self, on: bool) {
        self.journaled.store(on, Ordering::Relaxed);
    }
}

/// Checks the master key against the key-check record. `Ok(false)`: a new index, no
/// tables yet.
fn verify_key(db: &impl ReadableDatabase, keyring: &Keyring) -> Result<bool> {
    let read = db.begin_read().map_err(Error::index("begin read"))?;
    match read.open_table(META) {
        Ok(meta) => {
            let record = meta
                .get(META_KEY_CHECK)
                .map_err(Error::index("read key check"))?
                .ok_or(Error::Corrupt { what: "index meta" })?;
            keyring.verify_key_check(record.value())?;
            Ok(true)
        }
        Err(TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(Error::index("open meta table")(e)),
    }
}

/// Creates the tables added after the first index format (multipart, bucket settings) if
/// this index predates them: one transaction, so one fsync at start-up.
fn ensure_tables(db: &redb::Database) -> Result<()> {
    let mut txn = db.begin_write().map_err(Error::index("begin write"))?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(Error::index("set durability"))?;
    uploads::create_tables(&txn)?;
    settings::create_table(&txn)?;
    versions::create_table(&txn)?;
    txn.commit().map_err(Error::index("commit tables"))
}

/// Creates the tables of a new index and writes the key-check record.
fn init(db: &redb::Database, keyring: &Keyring) -> Result<()> {
    let check = keyring.key_check()?;
    let mut txn = db.begin_write().map_err(Error::index("begin write"))?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(Error::index("set durability"))?;
    {
        let mut meta = txn.open_table(META).map_err(Error::index("create table"))?;
        meta.insert(META_KEY_CHECK, check.as_slice())
            .map_err(Error::index("write key check"))?;
        meta.insert(META_FORMAT, FORMAT_VERSION)
            .map_err(Error::index("write format"))?;
        txn.open_table(BUCKETS)
            .map_err(Error::index("create table"))?;
        txn.open_table(BUCKET_KEYS)
            .map_err(Error::index("create table"))?;
        txn.open_table(OBJECTS)
            .map_err(Error::index("create table"))?;
        txn.open_table(CHUNK_REFS)
            .map_err(Error::index("create table"))?;
        txn.open_table(SEALED)
            .map_err(Error::index("create table"))?;
    }
    txn.commit().map_err(Error::index("commit new index"))
}

/// `bucket id ‖ rest`: the key of an object or a chunk refcount.
fn prefixed(bucket: &BucketId, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(bucket.len() + rest.len());
    key.extend_from_slice(bucket);
    key.extend_from_slice(rest);
    key
}

fn chunk_ref_key(bucket: &BucketId, id: &ChunkId) -> Vec<u8> {
    prefixed(bucket, id.as_bytes())
}

/// The smallest byte string above every string that starts with `prefix`; `None` if there
/// is none (the prefix is empty or all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_edges() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
