//! Object versions in the index: which version is current, the older ones, delete
//! markers, Object Lock and write preconditions — all decided inside one write
//! transaction.
//!
//! | table | key | value |
//! |---|---|---|
//! | `objects` | bucket id ‖ key | the key's current version, if it is an object ([`ObjectRecord`]) |
//! | `versions` | bucket id ‖ escaped key ‖ `00 00` ‖ !seq (8 bytes, big-endian) | older versions and every delete marker ([`VersionRecord`]) |
//!
//! Keeping current objects apart means listing the current objects of a bucket never scans
//! old versions: ListObjects costs the same with 1 or 100 versions per key. In `versions`
//! the key is escaped (`00` → `00 FF`) and ended by `00 00`, which keeps keys in byte
//! order and stops one key's versions from mixing with a longer key's; the inverted
//! sequence puts each key's newest version first.
//!
//! Invariant, restored by [`Batch::settle`] after every change: if a key has no current
//! object, its newest version (if any) is a delete marker. Every object version's chunks
//! are counted once in `chunk_refs`, wherever the version lives.

use redb::{ReadOnlyTable, ReadableTable, TableDefinition};

use super::batch::Batch;
use super::snapshot::Snapshot;
use super::{META, OBJECTS, prefix_end, prefixed};
use crate::bucket_settings::BucketSetting;
use crate::error::{Error, Result};
use crate::records::{self, BucketId, MarkerRecord, ObjectRecord, VersionRecord, VersionStamp};
use crate::version::{
    DeleteOutcome, ObjectLock, ObjectLockConfig, Precondition, Retention, VersionRef, Versioning,
};

pub(super) const VERSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("versions");
const META_VERSION_SEQ: &str = "version_seq";

/// Creates the versions table if this index predates it.
pub(super) fn create_table(txn: &redb::WriteTransaction) -> Result<()> {
    txn.open_table(VERSIONS)
        .map_err(Error::index("create table"))?;
    Ok(())
}

/// `bucket id ‖ escaped key ‖ 00 00`: the prefix of every version of `key`.
pub(super) fn versions_prefix(bucket: &BucketId, key: &str) -> Vec<u8> {
    versions_prefix_bytes(bucket, key.as_bytes())
}

pub(super) fn versions_prefix_bytes(bucket: &BucketId, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bucket.len() + key.len() + 10);
    out.extend_from_slice(bucket);
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
    out
}

fn version_key(bucket: &BucketId, key: &str, seq: u64) -> Vec<u8> {
    let mut out = versions_prefix(bucket, key);
    // Big-endian, so byte order is number order.
    let mut inverted = (!seq).to_le_bytes();
    inverted.reverse();
    out.extend_from_slice(&inverted);
    out
}

/// The object key of a `versions` table key (after the bucket id).
pub(super) fn key_of_version(bucket: &BucketId, full: &[u8]) -> Result<String> {
    let corrupt = || Error::Corrupt {
        what: "version key",
    };
    let body = full
        .get(bucket.len()..full.len().saturating_sub(10))
        .ok_or_else(corrupt)?;
    let mut key = Vec::with_capacity(body.len());
    let mut bytes = body.iter();
    while let Some(&b) = bytes.next() {
        key.push(b);
        if b == 0 && bytes.next() != Some(&0xff) {
            return Err(corrupt());
        }
    }
    String::from_utf8(key).map_err(|_| corrupt())
}

/// Where a version of a key lives.
enum Found {
    Current(ObjectRecord),
    Older(VersionRecord),
}

fn now_ms() -> u64 {
    crate::object::now_ms()
}

/// Refuses to remove (or overwrite) a version under a legal hold or an unexpired
/// retention — unless the retention is GOVERNANCE and the caller may bypass it.
fn ensure_removable(lock: &ObjectLock, bypass_governance: bool) -> Result<()> {
    if lock.legal_hold {
        return Err(Error::ObjectLocked);
    }
    if let Some(r) = lock.retention
        && r.until_ms > now_ms()
        && !(r.mode == crate::version::LockMode::Governance && bypass_governance)
    {
        return Err(Error::ObjectLocked);
    }
    Ok(())
}

fn check_precondition(cond: Option<&Precondition>, current: Option<&ObjectRecord>) -> Result<()> {
    match (cond, current) {
        (None, _) | (Some(Precondition::IfNoneMatch), None) => Ok(()),
        (Some(Precondition::IfNoneMatch), Some(_)) => Err(Error::PreconditionFailed),
        (Some(Precondition::IfMatch(_)), None) => Err(Error::NoSuchKey),
        (Some(Precondition::IfMatch(etag)), Some(cur)) => {
            if etag == "*" || etag.eq_ignore_ascii_case(&cur.etag) {
                Ok(())
            } else {
                Err(Error::PreconditionFailed)
            }
        }
    }
}

impl Batch {
    fn current(&self, bucket: &BucketId, key: &str) -> Result<Option<ObjectRecord>> {
        let objects = self.table(OBJECTS).map_err(Error::index("open objects"))?;
        objects
            .get(prefixed(bucket, key.as_bytes()).as_slice())
            .map_err(Error::index("read object"))?
            .map(|v| records::decode(v.value(), "object record"))
            .transpose()
    }

    fn set_current(&mut self, bucket: &BucketId, key: &str, record: &ObjectRecord) -> Result<()> {
        let mut objects = self.table(OBJECTS).map_err(Error::index("open objects"))?;
        objects
            .insert(
                prefixed(bucket, key.as_bytes()).as_slice(),
                records::encode(record).as_slice(),
            )
            .map_err(Error::index("write object"))?;
        Ok(())
    }

    fn remove_current(&mut self, bucket: &BucketId, key: &str) -> Result<()> {
        let mut objects = self.table(OBJECTS).map_err(Error::index("open objects"))?;
        objects
            .remove(prefixed(bucket, key.as_bytes()).as_slice())
            .map_err(Error::index("remove object"))?;
        Ok(())
    }

    /// The key's older versions and delete markers, newest first.
    fn older(&self, bucket: &BucketId, key: &str) -> Result<Vec<VersionRecord>> {
        let table = self
            .table(VERSIONS)
            .map_err(Error::index("open versions"))?;
        let start = versions_prefix(bucket, key);
        let end = prefix_end(&start).unwrap_or_default();
        let mut out = Vec::new();
        for entry in table
            .range(start.as_slice()..end.as_slice())
            .map_err(Error::index("scan versions"))?
        {
            let (_, value) = entry.map_err(Error::index("scan versions"))?;
            out.push(records::decode(value.value(), "version record")?);
        }
        Ok(out)
    }

    fn older_by_seq(
        &self,
        bucket: &BucketId,
        key: &str,
        seq: u64,
    ) -> Result<Option<VersionRecord>> {
        let table = self
            .table(VERSIONS)
            .map_err(Error::index("open versions"))?;
        table
            .get(version_key(bucket, key, seq).as_slice())
            .map_err(Error::index("read version"))?
            .map(|v| records::decode(v.value(), "version record"))
            .transpose()
    }

    fn put_older(&mut self, bucket: &BucketId, key: &str, record: &VersionRecord) -> Result<()> {
        let mut table = self
            .table(VERSIONS)
            .map_err(Error::index("open versions"))?;
        table
            .insert(
                version_key(bucket, key, record.stamp().seq).as_slice(),
                records::encode(record).as_slice(),
            )
            .map_err(Error::index("write version"))?;
        Ok(())
    }

    fn remove_older(&mut self, bucket: &BucketId, key: &str, seq: u64) -> Result<()> {
        let mut table = self
            .table(VERSIONS)
            .map_err(Error::index("open versions"))?;
        table
            .remove(version_key(bucket, key, seq).as_slice())
            .map_err(Error::index("remove version"))?;
        Ok(())
    }

    /// Whether the bucket has any older version or delete marker.
    pub(super) fn has_older_versions(&self, bucket: &BucketId) -> Result<bool> {
        let table = self
            .table(VERSIONS)
            .map_err(Error::index("open versions"))?;
        let start = bucket.to_vec();
        let any = match prefix_end(bucket) {
            Some(end) => table.range(start.as_slice()..end.as_slice()),
            None => table.range(start.as_slice()..),
        }
        .map_err(Error::index("scan versions"))?
        .next()
        .is_some();
        Ok(any)
    }

    /// The next number of the store-wide write sequence.
    fn next_seq(&mut self) -> Result<u64> {
        let mut meta = self.table(META).map_err(Error::index("open meta"))?;
        let last = match meta
            .get(META_VERSION_SEQ)
            .map_err(Error::index("read version sequence"))?
        {
            Some(v) => {
                let bytes: [u8; 8] = v.value().try_into().map_err(|_| Error::Corrupt {
                    what: "version sequence",
                })?;
                u64::from_le_bytes(bytes)
            }
            None => 0,
        };
        // Only a damaged index can hold the last number: refuse, never wrap to reuse ids.
        let next = last.checked_add(1).ok_or(Error::Corrupt {
            what: "version sequence",
        })?;
        meta.insert(META_VERSION_SEQ, next.to_le_bytes().as_slice())
            .map_err(Error::index("write version sequence"))?;
        Ok(next)
    }

    pub(crate) fn versioning(&self, bucket: &BucketId) -> Result<Versioning> {
        let value = self.setting_of(bucket, BucketSetting::Versioning.tag())?;
        Versioning::from_byte(value.as_deref())
    }

    pub(crate) fn lock_config(&self, bucket: &BucketId) -> Result<Option<ObjectLockConfig>> {
        self.setting_of(bucket, BucketSetting::ObjectLock.tag())?
            .map(|v| records::decode(&v, "object lock configuration"))
            .transpose()
    }

    /// Sets the versioning state of the bucket named `name`: never back to unversioned,
    /// and never suspended while Object Lock is on.
    pub(crate) fn set_versioning(&mut self, name: &str, state: Versioning) -> Result<()> {
        let id = self.bucket_id(name)?;
        let Some(byte) = state.to_byte() else {
            return Err(Error::InvalidBucketState);
        };
        if state == Versioning::Suspended && self.lock_config(&id)?.is_some() {
            return Err(Error::InvalidBucketState);
        }
        self.write_setting_of(&id, BucketSetting::Versioning.tag(), Some(&[byte]))
    }

    /// Sets the Object Lock configuration of the bucket named `name`, which turns Object
    /// Lock on for good; only in a bucket whose versioning is enabled.
    pub(crate) fn set_lock_config(&mut self, name: &str, config: &ObjectLockConfig) -> Result<()> {
        let id = self.bucket_id(name)?;
        if self.versioning(&id)? != Versioning::Enabled {
            return Err(Error::InvalidBucketState);
        }
        let value = records::encode(config);
        self.write_setting_of(&id, BucketSetting::ObjectLock.tag(), Some(&value))
    }

    /// Turns versioning and Object Lock on in a bucket just created in this batch.
    pub(crate) fn enable_lock_at_creation(&mut self, id: &BucketId) -> Result<()> {
        let byte = Versioning::Enabled.to_byte().unwrap_or(1);
        self.write_setting_of(id, BucketSetting::Versioning.tag(), Some(&[byte]))?;
        let value = records::encode(&ObjectLockConfig::default());
        self.write_setting_of(id, BucketSetting::ObjectLock.tag(), Some(&value))
    }

    /// Finds a version of `key`.
    fn find(&self, bucket: &BucketId, key: &str, wanted: VersionRef) -> Result<Option<Found>> {
        if let Some(cur) = self.current(bucket, key)?
            && cur.version.is(wanted)
        {
            return Ok(Some(Found::Current(cur)));
        }
        match wanted {
            VersionRef::Id(seq) => Ok(self
                .older_by_seq(bucket, key, seq)?
                .filter(|v| !v.stamp().null)
                .map(Found::Older)),
            VersionRef::Null => Ok(self
                .older(bucket, key)?
                .into_iter()
                .find(|v| v.stamp().null)
                .map(Found::Older)),
        }
    }

    /// Restores the invariant: a key without a current object has a delete marker (or
    /// nothing) as its newest version.
    fn settle(&mut self, bucket: &BucketId, key: &str) -> Result<()> {
        if self.current(bucket, key)?.is_some() {
            return Ok(());
        }
        if let Some(VersionRecord::Object(newest)) = self.older(bucket, key)?.into_iter().next() {
            self.remove_older(bucket, key, newest.version.seq)?;
            self.set_current(bucket, key, &newest)?;
        }
        Ok(())
    }

    /// Gives the record the bucket's default retention if it asks for no lock of its own,
    /// and refuses a lock in a bucket without Object Lock.
    fn apply_lock_config(&self, bucket: &BucketId, record: &mut ObjectRecord) -> Result<()> {
        match self.lock_config(bucket)? {
            None if record.lock.is_set() => Err(Error::ObjectLockNotEnabled),
            None => Ok(()),
            Some(config) => {
                if record.lock.retention.is_none()
                    && let Some(default) = config.default_retention
                {
                    record.lock.retention = Some(Retention {
                        mode: default.mode,
                        until_ms: record.modified_ms.saturating_add(default.period.as_ms()),
                    });
                }
                Ok(())
            }
        }
    }

    /// Makes `record` the current version of `key` as the bucket's versioning state says:
    /// a new version (enabled), or the `null` version replacing the old `null` one
    /// (suspended, unversioned). Checks `cond` against the current object first.
    pub(crate) fn put_version(
        &mut self,
        bucket: &BucketId,
        key: &str,
        mut record: ObjectRecord,
        cond: Option<&Precondition>,
    ) -> Result<ObjectRecord> {
        if !self.bucket_exists(bucket)? {
            return Err(Error::NoSuchBucket);
        }
        let state = self.versioning(bucket)?;
        let current = self.current(bucket, key)?;
        check_precondition(cond, current.as_ref())?;
        self.apply_lock_config(bucket, &mut record)?;
        let null = state != Versioning::Enabled;
        // The null version this one replaces must not be locked; checked before any change.
        let replaced = if null {
            self.find(bucket, key, VersionRef::Null)?
        } else {
            None
        };
        if let Some(Found::Current(old) | Found::Older(VersionRecord::Object(old))) = &replaced {
            ensure_removable(&old.lock, false)?;
        }
        record.version = VersionStamp {
            seq: self.next_seq()?,
            null,
        };
        // Increment first, so chunks shared by the old and new version never touch zero.
        self.add_refs(bucket, &record.chunks)?;
        match replaced {
            Some(Found::Current(old)) => self.drop_version_chunks(bucket, key, &old)?,
            Some(Found::Older(old)) => {
                self.remove_older(bucket, key, old.stamp().seq)?;
                if let VersionRecord::Object(old) = old {
                    self.drop_version_chunks(bucket, key, &old)?;
                }
                if let Some(cur) = current {
                    self.demote(bucket, key, cur)?;
                }
            }
            None => {
                if let Some(cur) = current {
                    self.demote(bucket, key, cur)?;
                }
            }
        }
        self.set_current(bucket, key, &record)?;
        Ok(record)
    }

    /// Moves the current object into the older versions.
    fn demote(&mut self, bucket: &BucketId, key: &str, current: ObjectRecord) -> Result<()> {
        // The part layout is kept for the current object only.
        self.forget_layout(bucket, key)?;
        self.put_older(bucket, key, &VersionRecord::Object(current))
    }

    fn drop_version_chunks(
        &mut self,
        bucket: &BucketId,
        key: &str,
        old: &ObjectRecord,
    ) -> Result<()> {
        self.drop_refs(bucket, &old.chunks)?;
        self.forget_layout(bucket, key)
    }

    /// Deletes `key` without naming a version: removes it (unversioned), or writes a delete
    /// marker (enabled; suspended, replacing the `null` version).
    pub(crate) fn delete_current(
        &mut self,
        bucket: &BucketId,
        key: &str,
        cond: Option<&Precondition>,
    ) -> Result<DeleteOutcome> {
        let state = self.versioning(bucket)?;
        let current = self.current(bucket, key)?;
        check_precondition(cond, current.as_ref())?;
        if state == Versioning::Unversioned {
            let Some(current) = current else {
                return Ok(DeleteOutcome {
                    found: false,
                    delete_marker: false,
                    version_id: None,
                });
            };
            ensure_removable(&current.lock, false)?;
            self.remove_current(bucket, key)?;
            self.drop_version_chunks(bucket, key, &current)?;
            return Ok(DeleteOutcome {
                found: true,
                delete_marker: false,
                version_id: None,
            });
        }
        let null = state == Versioning::Suspended;
        let replaced = if null {
            self.find(bucket, key, VersionRef::Null)?
        } else {
            None
        };
        if let Some(Found::Current(old) | Found::Older(VersionRecord::Object(old))) = &replaced {
            ensure_removable(&old.lock, false)?;
        }
        let stamp = VersionStamp {
            seq: self.next_seq()?,
            null,
        };
        match replaced {
            Some(Found::Current(old)) => {
                self.remove_current(bucket, key)?;
                self.drop_version_chunks(bucket, key, &old)?;
            }
            Some(Found::Older(old)) => {
                self.remove_older(bucket, key, old.stamp().seq)?;
                if let VersionRecord::Object(old) = &old {
                    self.drop_refs(bucket, &old.chunks)?;
                }
                if let Some(cur) = current {
                    self.remove_current(bucket, key)?;
                    self.demote(bucket, key, cur)?;
                }
            }
            None => {
                if let Some(cur) = current {
                    self.remove_current(bucket, key)?;
                    self.demote(bucket, key, cur)?;
                }
            }
        }
        self.put_older(
            bucket,
            key,
            &VersionRecord::DeleteMarker(MarkerRecord {
                modified_ms: now_ms(),
                version: stamp,
            }),
        )?;
        Ok(DeleteOutcome {
            found: true,
            delete_marker: true,
            version_id: Some(stamp.id_text()),
        })
    }

    /// Deletes one version for good (or a delete marker). Locked versions are refused;
    /// GOVERNANCE retention gives way to `bypass_governance`.
    pub(crate) fn delete_version(
        &mut self,
        bucket: &BucketId,
        key: &str,
        wanted: VersionRef,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome> {
        let text = wanted.to_string();
        let outcome = |found, delete_marker| DeleteOutcome {
            found,
            delete_marker,
            version_id: Some(text.clone()),
        };
        match self.find(bucket, key, wanted)? {
            None => Ok(outcome(false, false)),
            Some(Found::Current(cur)) => {
                ensure_removable(&cur.lock, bypass_governance)?;
                self.remove_current(bucket, key)?;
                self.drop_version_chunks(bucket, key, &cur)?;
                self.settle(bucket, key)?;
                Ok(outcome(true, false))
            }
            Some(Found::Older(old)) => {
                if let VersionRecord::Object(o) = &old {
                    ensure_removable(&o.lock, bypass_governance)?;
                }
                self.remove_older(bucket, key, old.stamp().seq)?;
                let marker = match &old {
                    VersionRecord::Object(o) => {
                        self.drop_refs(bucket, &o.chunks)?;
                        false
                    }
                    VersionRecord::DeleteMarker(_) => true,
                };
                self.settle(bucket, key)?;
                Ok(outcome(true, marker))
            }
        }
    }

    /// Writes `template` (its metadata, mtime and lock) at `dst_key` as a new version made of
    /// the chunks of version `src_seq` of `src_key`: a copy inside the bucket, no data
    /// rewritten. `NoSuchKey` if that version is gone.
    pub(crate) fn link_object(
        &mut self,
        bucket: &BucketId,
        src_key: &str,
        src_seq: u64,
        dst_key: &str,
        template: ObjectRecord,
        cond: Option<&Precondition>,
    ) -> Result<ObjectRecord> {
        let src = match self.current(bucket, src_key)? {
            Some(cur) if cur.version.seq == src_seq => cur,
            _ => match self.older_by_seq(bucket, src_key, src_seq)? {
                Some(VersionRecord::Object(o)) => o,
                _ => return Err(Error::NoSuchKey),
            },
        };
        let record = ObjectRecord {
            size: src.size,
            etag: src.etag,
            chunks: src.chunks,
            inline: src.inline,
            // The chunks are keyed as the source's are.
            encryption: src.encryption,
            ..template
        };
        self.put_version(bucket, dst_key, record, cond)
    }

    /// The object version named (or the current object), for a copy inside the bucket.
    pub(crate) fn object_version(
        &self,
        bucket: &BucketId,
        key: &str,
        wanted: Option<VersionRef>,
    ) -> Result<ObjectRecord> {
        match wanted {
            None => self.current(bucket, key)?.ok_or(Error::NoSuchKey),
            Some(v) => match self.find(bucket, key, v)? {
                Some(Found::Current(o) | Found::Older(VersionRecord::Object(o))) => Ok(o),
                Some(Found::Older(VersionRecord::DeleteMarker(m))) => Err(Error::DeleteMarker {
                    version_id: m.version.id_text(),
                }),
                None => Err(Error::NoSuchVersion),
            },
        }
    }

    /// Changes one version's record in place (ACL, retention, legal hold): same body,
    /// place and refcounts.
    pub(crate) fn update_version(
        &mut self,
        bucket: &BucketId,
        key: &str,
        wanted: Option<VersionRef>,
        change: &mut dyn FnMut(&mut ObjectRecord) -> Result<()>,
    ) -> Result<(ObjectRecord, bool)> {
        let mut record = self.object_version(bucket, key, wanted)?;
        change(&mut record)?;
        let is_current = self
            .current(bucket, key)?
            .is_some_and(|c| c.version == record.version);
        if is_current {
            self.set_current(bucket, key, &record)?;
        } else {
            self.put_older(bucket, key, &VersionRecord::Object(record.clone()))?;
        }
        Ok((record, is_current))
    }

    /// The retention change rules: a retention may always grow; an unexpired one may be
    /// shortened, weakened or removed only if it is GOVERNANCE and the caller bypasses.
    pub(crate) fn set_retention(
        &mut self,
        bucket: &BucketId,
        key: &str,
        wanted: Option<VersionRef>,
        retention: Option<Retention>,
        bypass_governance: bool,
    ) -> Result<(ObjectRecord, bool)> {
        if self.lock_config(bucket)?.is_none() {
            return Err(Error::ObjectLockNotEnabled);
        }
        self.update_version(bucket, key, wanted, &mut |record| {
            if let Some(old) = record.lock.retention
                && old.until_ms > now_ms()
            {
                let weaker = match retention {
                    None => true,
                    Some(new) => {
                        new.until_ms < old.until_ms
                            || (old.mode == crate::version::LockMode::Compliance
                                && new.mode != old.mode)
                    }
                };
                if weaker
                    && (old.mode == crate::version::LockMode::Compliance || !bypass_governance)
                {
                    return Err(Error::ObjectLocked);
                }
            }
            record.lock.retention = retention;
            Ok(())
        })
    }

    /// Sets or clears a version's legal hold.
    pub(crate) fn set_legal_hold(
        &mut self,
        bucket: &BucketId,
        key: &str,
        wanted: Option<VersionRef>,
        on: bool,
    ) -> Result<(ObjectRecord, bool)> {
        if self.lock_config(bucket)?.is_none() {
            return Err(Error::ObjectLockNotEnabled);
        }
        self.update_version(bucket, key, wanted, &mut |record| {
            record.lock.legal_hold = on;
            Ok(())
        })
    }
}

impl Snapshot {
    /// The bucket's versioning state.
    pub(crate) fn versioning(&self, bucket: &BucketId) -> Result<Versioning> {
        let value = self.bucket_setting(bucket, BucketSetting::Versioning.tag())?;
        Versioning::from_byte(value.as_deref())
    }

    /// The bucket's Object Lock configuration, if Object Lock is on.
    pub(crate) fn lock_config(&self, bucket: &BucketId) -> Result<Option<ObjectLockConfig>> {
        self.bucket_setting(bucket, BucketSetting::ObjectLock.tag())?
            .map(|v| records::decode(&v, "object lock configuration"))
            .transpose()
    }

    pub(super) fn versions_table(&self) -> Result<ReadOnlyTable<&'static [u8], &'static [u8]>> {
        self.txn
            .open_table(VERSIONS)
            .map_err(Error::index("open versions"))
    }

    /// The key's newest older version, if it is a delete marker and the key has no current
    /// object: what a GET without a version id reports as deleted.
    pub(crate) fn latest_delete_marker(
        &self,
        bucket: &BucketId,
        key: &str,
    ) -> Result<Option<MarkerRecord>> {
        let table = self.versions_table()?;
        let start = versions_prefix(bucket, key);
        let end = prefix_end(&start).unwrap_or_default();
        let newest = table
            .range(start.as_slice()..end.as_slice())
            .map_err(Error::index("scan versions"))?
            .next()
            .transpose()
            .map_err(Error::index("scan versions"))?;
        match newest {
            Some((_, v)) => match records::decode::<VersionRecord>(v.value(), "version record")? {
                VersionRecord::DeleteMarker(m) => Ok(Some(m)),
                VersionRecord::Object(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// The object version of `key` with sequence number `seq`, wherever it lives.
    pub(crate) fn version_by_seq(
        &self,
        bucket: &BucketId,
        key: &str,
        seq: u64,
    ) -> Result<Option<ObjectRecord>> {
        if let Some(cur) = self.object(bucket, key)?
            && cur.version.seq == seq
        {
            return Ok(Some(cur));
        }
        let table = self.versions_table()?;
        let found = table
            .get(version_key(bucket, key, seq).as_slice())
            .map_err(Error::index("read version"))?
            .map(|v| records::decode::<VersionRecord>(v.value(), "version record"))
            .transpose()?;
        Ok(match found {
            Some(VersionRecord::Object(o)) => Some(o),
            _ => None,
        })
    }

    /// A version of `key` by id: `Ok(Err(marker))` for a delete marker.
    pub(crate) fn version(
        &self,
        bucket: &BucketId,
        key: &str,
        wanted: VersionRef,
    ) -> Result<Option<std::result::Result<ObjectRecord, MarkerRecord>>> {
        if let Some(cur) = self.object(bucket, key)?
            && cur.version.is(wanted)
        {
            return Ok(Some(Ok(cur)));
        }
        let table = self.versions_table()?;
        let found = match wanted {
            VersionRef::Id(seq) => table
                .get(version_key(bucket, key, seq).as_slice())
                .map_err(Error::index("read version"))?
                .map(|v| records::decode::<VersionRecord>(v.value(), "version record"))
                .transpose()?
                .filter(|v| !v.stamp().null),
            VersionRef::Null => {
                let start = versions_prefix(bucket, key);
                let end = prefix_end(&start).unwrap_or_default();
                let mut found = None;
                for entry in table
                    .range(start.as_slice()..end.as_slice())
                    .map_err(Error::index("scan versions"))?
                {
                    let (_, v) = entry.map_err(Error::index("scan versions"))?;
                    let record: VersionRecord = records::decode(v.value(), "version record")?;
                    if record.stamp().null {
                        found = Some(record);
                        break;
                    }
                }
                found
            }
        };
        Ok(found.map(|v| match v {
            VersionRecord::Object(o) => Ok(o),
            VersionRecord::DeleteMarker(m) => Err(m),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Escaped keys sort as the keys do, and every version of a key sorts before the
        /// next key's.
        #[test]
        fn version_keys_keep_key_order(a in proptest::collection::vec(0u8..4, 0..6),
                                       b in proptest::collection::vec(0u8..4, 0..6),
                                       sa in any::<u64>(), sb in any::<u64>()) {
            let (a, b) = (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
            let bucket = [7u8; 16];
            let (ka, kb) = (version_key(&bucket, &a, sa), version_key(&bucket, &b, sb));
            if a == b {
                prop_assert_eq!(sb.cmp(&sa), ka.cmp(&kb));
            } else {
                prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
            }
            prop_assert_eq!(key_of_version(&bucket, &ka).unwrap(), a);
        }
    }
}
