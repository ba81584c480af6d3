//! The change journal: every key a write batch puts or removes, as bytes, so the same
//! commit can be replayed on another machine's index (index shipping, `ship/`).
//!
//! A batch reaches its tables only through [`Batch::table`], which hands out a
//! [`Journaled`] table: reads go straight to redb, and every write is also recorded as a
//! [`Change`] of absolute values (a refcount is recorded as its new count, never as `+1`).
//! Replaying a run of changes is therefore idempotent on a state that already holds some
//! of them: each key ends with the value of its last write. The batch's transaction is not
//! reachable otherwise, so a write that bypasses the journal does not compile.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::ops::Deref;

use redb::{Key, Table, TableDefinition, TableHandle as _, Value};
use serde::{Deserialize, Serialize};

use super::settings::SETTINGS;
use super::uploads::{LAYOUTS, PARTS, UPLOADS};
use super::versions::VERSIONS;
use super::{BUCKET_KEYS, BUCKETS, CHUNK_REFS, META, OBJECTS, SEALED};
use crate::error::{Error, Result};

/// Which table a change is for: a typed tag, never the table's name, on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TableId {
    Meta,
    Buckets,
    BucketKeys,
    Objects,
    ChunkRefs,
    Sealed,
    Uploads,
    Parts,
    Layouts,
    Settings,
    Versions,
}

impl TableId {
    /// Every table, in the order a full copy writes them.
    pub(crate) const ALL: [TableId; 11] = [
        TableId::Meta,
        TableId::Buckets,
        TableId::BucketKeys,
        TableId::Objects,
        TableId::ChunkRefs,
        TableId::Sealed,
        TableId::Uploads,
        TableId::Parts,
        TableId::Layouts,
        TableId::Settings,
        TableId::Versions,
    ];

    fn of(name: &str) -> Option<TableId> {
        TableId::ALL.into_iter().find(|t| t.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            TableId::Meta => META.name(),
            TableId::Buckets => BUCKETS.name(),
            TableId::BucketKeys => BUCKET_KEYS.name(),
            TableId::Objects => OBJECTS.name(),
            TableId::ChunkRefs => CHUNK_REFS.name(),
            TableId::Sealed => SEALED.name(),
            TableId::Uploads => UPLOADS.name(),
            TableId::Parts => PARTS.name(),
            TableId::Layouts => LAYOUTS.name(),
            TableId::Settings => SETTINGS.name(),
            TableId::Versions => VERSIONS.name(),
        }
    }
}

/// One write of a batch, with keys and values as redb stores them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Change {
    Put {
        table: TableId,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Remove {
        table: TableId,
        key: Vec<u8>,
    },
    /// Every key from `start` (inclusive) to `end` (exclusive; `None`: to the end).
    RemoveRange {
        table: TableId,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
    },
}

/// The changes recorded so far; `None` when nobody ships this index.
pub(crate) type Journal = RefCell<Option<Vec<Change>>>;

/// A table of a write batch: reads as the redb table, writes recorded in the journal.
pub(crate) struct Journaled<'t, K: Key + 'static, V: Value + 'static> {
    table: Table<'t, K, V>,
    id: TableId,
    journal: &'t Journal,
}

impl<'t, K: Key + 'static, V: Value + 'static> Journaled<'t, K, V> {
    pub(super) fn open(
        txn: &'t redb::WriteTransaction,
        journal: &'t Journal,
        def: TableDefinition<K, V>,
    ) -> std::result::Result<Self, redb::TableError> {
        let id = TableId::of(def.name())
            .ok_or_else(|| redb::TableError::TableDoesNotExist(def.name().to_owned()))?;
        Ok(Journaled {
            table: txn.open_table(def)?,
            id,
            journal,
        })
    }

    fn record(&self, change: impl FnOnce() -> Change) {
        if let Some(changes) = self.journal.borrow_mut().as_mut() {
            changes.push(change());
        }
    }

    /// Inserts or replaces `key`.
    pub(crate) fn insert<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> std::result::Result<Option<redb::AccessGuard<'_, V>>, redb::StorageError> {
        let (key, value) = (key.borrow(), value.borrow());
        self.record(|| Change::Put {
            table: self.id,
            key: K::as_bytes(key).as_ref().to_vec(),
            value: V::as_bytes(value).as_ref().to_vec(),
        });
        self.table.insert(key, value)
    }

    /// Removes `key` (nothing if it is absent).
    pub(crate) fn remove<'k>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> std::result::Result<Option<redb::AccessGuard<'_, V>>, redb::StorageError> {
        let key = key.borrow();
        self.record(|| Change::Remove {
            table: self.id,
            key: K::as_bytes(key).as_ref().to_vec(),
        });
        self.table.remove(key)
    }
}

impl<V: Value + 'static> Journaled<'_, &'static [u8], V> {
    /// Removes every key from `start` up to `end` (exclusive; `None`: the table's end) and
    /// returns the values removed.
    pub(crate) fn remove_range(
        &mut self,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> std::result::Result<Vec<Vec<u8>>, redb::StorageError> {
        self.record(|| Change::RemoveRange {
            table: self.id,
            start: start.to_vec(),
            end: end.map(<[u8]>::to_vec),
        });
        let mut removed = Vec::new();
        let mut keep = |_: &[u8], v: V::SelfType<'_>| {
            removed.push(V::as_bytes(&v).as_ref().to_vec());
            false
        };
        match end {
            Some(end) => self.table.retain_in(start..end, &mut keep)?,
            None => self.table.retain_in(start.., &mut keep)?,
        }
        Ok(removed)
    }
}

impl<'t, K: Key + 'static, V: Value + 'static> Deref for Journaled<'t, K, V> {
    type Target = Table<'t, K, V>;

    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

/// Applies `changes` in order to the tables of `txn` (replay on another index).
pub(crate) fn apply(txn: &redb::WriteTransaction, changes: &[Change]) -> Result<()> {
    for change in changes {
        match change {
            Change::Put { table, key, value } => with_table(txn, *table, |t| t.put(key, value))?,
            Change::Remove { table, key } => with_table(txn, *table, |t| t.remove(key))?,
            Change::RemoveRange { table, start, end } => {
                with_table(txn, *table, |t| t.remove_range(start, end.as_deref()))?;
            }
        }
    }
    Ok(())
}

/// Removes every key of every table (before a full copy replaces them).
pub(crate) fn clear_all(txn: &redb::WriteTransaction) -> Result<()> {
    for table in TableId::ALL {
        with_table(txn, table, |t| t.remove_range(&[], None))?;
    }
    Ok(())
}

/// Byte-level writes to a table whatever its key and value types.
trait RawTable {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    fn remove(&mut self, key: &[u8]) -> Result<()>;
    fn remove_range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<()>;
}

impl<K: Key + 'static, V: Value + 'static> RawTable for Table<'_, K, V> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_len::<K>(key)?;
        check_len::<V>(value)?;
        self.insert(K::from_bytes(key), V::from_bytes(value))
            .map(drop)
            .map_err(Error::index("replay a change"))
    }

    fn remove(&mut self, key: &[u8]) -> Result<()> {
        check_len::<K>(key)?;
        Table::remove(self, K::from_bytes(key))
            .map(drop)
            .map_err(Error::index("replay a change"))
    }

    fn remove_range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<()> {
        check_len::<K>(start)?;
        let from = K::from_bytes(start);
        match end {
            Some(end) => {
                check_len::<K>(end)?;
                self.retain_in(from..K::from_bytes(end), |_, _| false)
            }
            None => self.retain_in(from.., |_, _| false),
        }
        .map_err(Error::index("replay a change"))
    }
}

/// Refuses bytes of the wrong width for a fixed-width type (a refcount is 8 bytes):
/// redb's `from_bytes` would panic on them.
fn check_len<T: Value>(bytes: &[u8]) -> Result<()> {
    match T::fixed_width() {
        Some(width) if width != bytes.len() => Err(Error::Corrupt {
            what: "shipped index change",
        }),
        _ => Ok(()),
    }
}

fn with_table(
    txn: &redb::WriteTransaction,
    table: TableId,
    f: impl FnOnce(&mut dyn RawTable) -> Result<()>,
) -> Result<()> {
    let open = Error::index("open a table to replay");
    match table {
        TableId::Meta => f(&mut txn.open_table(META).map_err(open)?),
        TableId::Buckets => f(&mut txn.open_table(BUCKETS).map_err(open)?),
        TableId::BucketKeys => f(&mut txn.open_table(BUCKET_KEYS).map_err(open)?),
        TableId::Objects => f(&mut txn.open_table(OBJECTS).map_err(open)?),
        TableId::ChunkRefs => f(&mut txn.open_table(CHUNK_REFS).map_err(open)?),
        TableId::Sealed => f(&mut txn.open_table(SEALED).map_err(open)?),
        TableId::Uploads => f(&mut txn.open_table(UPLOADS).map_err(open)?),
        TableId::Parts => f(&mut txn.open_table(PARTS).map_err(open)?),
        TableId::Layouts => f(&mut txn.open_table(LAYOUTS).map_err(open)?),
        TableId::Settings => f(&mut txn.open_table(SETTINGS).map_err(open)?),
        TableId::Versions => f(&mut txn.open_table(VERSIONS).map_err(open)?),
    }
}

/// Where a standby's index stands in the shipped stream it follows: `(epoch, seq)`.
const META_SHIP_POSITION: &str = "ship_position";

impl super::Batch {
    /// Records that this index holds the shipped state up to log `seq` of `epoch`.
    pub(crate) fn set_ship_position(&mut self, epoch: u64, seq: u64) -> Result<()> {
        let mut value = epoch.to_le_bytes().to_vec();
        value.extend_from_slice(&seq.to_le_bytes());
        self.table(META)
            .map_err(Error::index("open meta"))?
            .insert(META_SHIP_POSITION, value.as_slice())
            .map_err(Error::index("write ship position"))?;
        Ok(())
    }
}

impl super::Snapshot {
    /// What [`Batch::set_ship_position`](super::Batch) last recorded.
    pub(crate) fn ship_position(&self) -> Result<Option<(u64, u64)>> {
        let meta = self
            .txn
            .open_table(META)
            .map_err(Error::index("open meta"))?;
        let Some(value) = meta
            .get(META_SHIP_POSITION)
            .map_err(Error::index("read ship position"))?
        else {
            return Ok(None);
        };
        let bytes = value.value();
        let number = |at: usize| {
            bytes
                .get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
        };
        match (number(0), number(8)) {
            (Some(epoch), Some(seq)) => Ok(Some((epoch, seq))),
            _ => Err(Error::Corrupt {
                what: "ship position",
            }),
        }
    }
}

/// Every entry of every table, as bytes, minus the standby's own position: two indexes
/// with the same dump hold the same state (tests of shipping).
#[cfg(test)]
pub(crate) fn dump(
    txn: &redb::ReadTransaction,
) -> std::collections::BTreeMap<(&'static str, Vec<u8>), Vec<u8>> {
    fn one<K: Key + 'static, V: Value + 'static>(
        txn: &redb::ReadTransaction,
        def: TableDefinition<K, V>,
        out: &mut std::collections::BTreeMap<(&'static str, Vec<u8>), Vec<u8>>,
    ) {
        use redb::ReadableTable as _;
        let Ok(table) = txn.open_table(def) else {
            return;
        };
        let name = TableId::of(def.name()).map_or("?", TableId::name);
        for entry in table.iter().unwrap() {
            let (k, v) = entry.unwrap();
            let key = K::as_bytes(&k.value()).as_ref().to_vec();
            if name == META.name() && key == META_SHIP_POSITION.as_bytes() {
                continue;
            }
            out.insert((name, key), V::as_bytes(&v.value()).as_ref().to_vec());
        }
    }
    let mut out = std::collections::BTreeMap::new();
    one(txn, META, &mut out);
    one(txn, BUCKETS, &mut out);
    one(txn, BUCKET_KEYS, &mut out);
    one(txn, OBJECTS, &mut out);
    one(txn, CHUNK_REFS, &mut out);
    one(txn, SEALED, &mut out);
    one(txn, UPLOADS, &mut out);
    one(txn, PARTS, &mut out);
    one(txn, LAYOUTS, &mut out);
    one(txn, SETTINGS, &mut out);
    one(txn, VERSIONS, &mut out);
    out
}
