//! Copying one snapshot of the index into a fresh sealed index file, for `backup`.
//!
//! The copy is made table by table from the snapshot's read transaction, so it holds exactly
//! the state of one commit, however many commits the live index takes meanwhile. It is
//! sealed with the same index key (the one `<data>/keys` wraps), so the backup's `keys` file
//! opens it, and nothing readable reaches the target (P3). A fresh file is also compact: the
//! free pages of the live file, which may still hold deleted records, are not carried over.

use std::path::Path;

use redb::{ReadableTable as _, TableDefinition, TableError, TableHandle as _};

use super::sealed_backend::{IndexCipher, SealedBackend};
use super::sealed_file::{file_backend, open_private};
use super::settings::SETTINGS;
use super::snapshot::Snapshot;
use super::uploads::{LAYOUTS, PARTS, UPLOADS};
use super::versions::VERSIONS;
use super::{BUCKET_KEYS, BUCKETS, CHUNK_REFS, META, OBJECTS, SEALED};
use crate::error::{Error, Result};

/// Every table the index holds. A table missing here would be silently left out of
/// backups, so [`Snapshot::copy_into`] refuses an index holding any other.
const TABLES: [&str; 11] = [
    "meta",
    "buckets",
    "bucket_keys",
    "objects",
    "chunk_refs",
    "sealed_records",
    "uploads",
    "upload_parts",
    "multipart_layouts",
    "bucket_settings",
    "versions",
];

impl Snapshot {
    /// Writes every table of this snapshot into a new index file at `path` (which must not
    /// exist), sealed under `index_key`, and fsyncs it. Returns the entries copied.
    ///
    /// # Errors
    /// `Error::Corrupt` if the index holds a table this copy does not know; `Error::Io`,
    /// `Error::Index`.
    pub(crate) fn copy_into(&self, path: &Path, index_key: &[u8; 32]) -> Result<u64> {
        for table in self
            .txn
            .list_tables()
            .map_err(Error::index("list tables"))?
        {
            if !TABLES.contains(&table.name()) {
                return Err(Error::Corrupt {
                    what: "index: a table the backup does not know",
                });
            }
        }
        let file = open_private(path, true)?;
        let handle = file.try_clone().map_err(Error::io("open index copy"))?;
        let db = redb::Database::builder()
            .create_with_backend(SealedBackend::new(
                file_backend(file)?,
                IndexCipher::new(index_key),
            ))
            .map_err(Error::index("create index copy"))?;
        let txn = db.begin_write().map_err(Error::index("begin write"))?;
        let entries = copy_tables(&self.txn, &txn)?;
        // Immediate durability: the commit is on disk before the file is renamed into place.
        txn.commit().map_err(Error::index("commit index copy"))?;
        drop(db);
        handle.sync_all().map_err(Error::io("fsync index copy"))?;
        Ok(entries)
    }
}

/// Copies every table of `from` into `to`; returns the entries copied.
pub(super) fn copy_tables(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
) -> Result<u64> {
    let mut entries = 0;
    entries += copy_table(from, to, META)?;
    entries += copy_table(from, to, BUCKETS)?;
    entries += copy_table(from, to, BUCKET_KEYS)?;
    entries += copy_table(from, to, OBJECTS)?;
    entries += copy_table(from, to, CHUNK_REFS)?;
    entries += copy_table(from, to, SEALED)?;
    entries += copy_table(from, to, UPLOADS)?;
    entries += copy_table(from, to, PARTS)?;
    entries += copy_table(from, to, LAYOUTS)?;
    entries += copy_table(from, to, SETTINGS)?;
    entries += copy_table(from, to, VERSIONS)?;
    Ok(entries)
}

/// Copies one table, entry by entry in key order (redb's cheapest insertion order).
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<u64> {
    let source = match from.open_table(table) {
        Ok(source) => source,
        // An index from before this table existed: the copy gets it when it is opened.
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(Error::index("open table to copy")(e)),
    };
    let mut target = to
        .open_table(table)
        .map_err(Error::index("create table in copy"))?;
    let mut n = 0;
    for entry in source.iter().map_err(Error::index("read table to copy"))? {
        let (key, value) = entry.map_err(Error::index("read table to copy"))?;
        target
            .insert(key.value(), value.value())
            .map_err(Error::index("write table copy"))?;
        n += 1;
    }
    Ok(n)
}

/// Opens an index copy (a shipped snapshot) read-only, sealed under `index_key`.
///
/// # Errors
/// `Error::Io`, `Error::Index` (not an index under this key).
pub(crate) fn open_copy(path: &Path, index_key: &[u8; 32]) -> Result<redb::ReadOnlyDatabase> {
    let file = std::fs::File::open(path).map_err(Error::io("open index copy"))?;
    redb::Database::builder()
        .open_read_only_with_backend(SealedBackend::new(
            file_backend(file)?,
            IndexCipher::new(index_key),
        ))
        .map_err(Error::index("open index copy"))
}
