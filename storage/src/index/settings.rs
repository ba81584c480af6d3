//! Per-bucket settings in the index: one table for every kind of bucket configuration
//! document (policy, tagging, CORS, lifecycle, …).
//!
//! | table | key | value |
//! |---|---|---|
//! | `bucket_settings` | bucket id (16 bytes) ‖ setting tag (1 byte) | [`SettingRecord`] |
//!
//! Keyed by the bucket's random id, not its name: a bucket deleted and created again under
//! the same name gets a new id, so it can never inherit the old one's settings (a policy
//! naming other principals, say). Deleting a bucket removes its settings in the same
//! transaction. The tag is the stable on-disk number of
//! [`BucketSetting`](crate::BucketSetting); this layer stores bytes under it and knows
//! nothing else of what they mean.

use std::borrow::Cow;

use redb::{ReadableTable as _, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::batch::Batch;
use super::snapshot::Snapshot;
use super::{prefix_end, prefixed};
use crate::error::{Error, Result};
use crate::records::{self, BucketId};

pub(super) const SETTINGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bucket_settings");

/// A stored setting: the document as given. A struct (not the bare bytes) so it carries the
/// records' version byte and can grow fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SettingRecord<'a> {
    value: Cow<'a, [u8]>,
}

impl records::Record for SettingRecord<'_> {}

fn setting_key(bucket: &BucketId, tag: u8) -> Vec<u8> {
    prefixed(bucket, &[tag])
}

/// Creates the settings table if this index predates it.
pub(super) fn create_table(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(SETTINGS)
        .map_err(Error::index("create table"))?;
    Ok(())
}

impl Snapshot {
    /// The setting `tag` of the bucket with id `bucket`.
    pub(crate) fn bucket_setting(&self, bucket: &BucketId, tag: u8) -> Result<Option<Vec<u8>>> {
        // Opened here, not with the snapshot: most reads never look at settings.
        let table = self
            .txn
            .open_table(SETTINGS)
            .map_err(Error::index("open bucket settings"))?;
        table
            .get(setting_key(bucket, tag).as_slice())
            .map_err(Error::index("read bucket setting"))?
            .map(|v| {
                records::decode::<SettingRecord>(v.value(), "bucket setting")
                    .map(|r| r.value.into_owned())
            })
            .transpose()
    }
}

impl Batch {
    /// Sets (`Some`) or removes (`None`) the setting `tag` of the bucket named `name`. The
    /// name is resolved in this transaction, so the setting lands on the bucket that has
    /// the name when the batch commits.
    pub(crate) fn set_bucket_setting(
        &mut self,
        name: &str,
        tag: u8,
        value: Option<&[u8]>,
    ) -> Result<()> {
        let id = self.bucket_id(name)?;
        self.write_setting_of(&id, tag, value)
    }

    /// The setting `tag` of the bucket with id `bucket`, in this transaction.
    pub(super) fn setting_of(&self, bucket: &BucketId, tag: u8) -> Result<Option<Vec<u8>>> {
        let table = self
            .table(SETTINGS)
            .map_err(Error::index("open bucket settings"))?;
        table
            .get(setting_key(bucket, tag).as_slice())
            .map_err(Error::index("read bucket setting"))?
            .map(|v| {
                records::decode::<SettingRecord>(v.value(), "bucket setting")
                    .map(|r| r.value.into_owned())
            })
            .transpose()
    }

    /// Sets or removes the setting `tag` of the bucket with id `bucket`.
    pub(super) fn write_setting_of(
        &mut self,
        id: &BucketId,
        tag: u8,
        value: Option<&[u8]>,
    ) -> Result<()> {
        let mut table = self
            .table(SETTINGS)
            .map_err(Error::index("open bucket settings"))?;
        let key = setting_key(id, tag);
        match value {
            Some(value) => {
                let record = records::encode(&SettingRecord {
                    value: Cow::Borrowed(value),
                });
                table
                    .insert(key.as_slice(), record.as_slice())
                    .map_err(Error::index("write bucket setting"))?;
            }
            None => {
                table
                    .remove(key.as_slice())
                    .map_err(Error::index("remove bucket setting"))?;
            }
        }
        Ok(())
    }

    /// Removes every setting of a bucket that is being deleted.
    pub(super) fn drop_bucket_settings(&mut self, bucket: &BucketId) -> Result<()> {
        let mut table = self
            .table(SETTINGS)
            .map_err(Error::index("open bucket settings"))?;
        let start = bucket.as_slice();
        table
            .remove_range(start, prefix_end(bucket).as_deref())
            .map(drop)
            .map_err(Error::index("remove bucket settings"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_group_by_bucket_then_tag() {
        let a = [7u8; 16];
        let mut b = a;
        b[15] = 8;
        assert_eq!(setting_key(&a, 3).len(), 17);
        assert!(setting_key(&a, 1) < setting_key(&a, 7));
        assert!(setting_key(&a, 255) < setting_key(&b, 0));
        let end = prefix_end(&a).unwrap();
        assert!(setting_key(&a, 255).as_slice() < end.as_slice());
        assert!(setting_key(&b, 0).as_slice() >= end.as_slice());
    }

    proptest! {
        #[test]
        fn setting_record_round_trip(value in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let bytes = records::encode(&SettingRecord { value: Cow::Borrowed(&value) });
            let back: SettingRecord = records::decode(&bytes, "bucket setting").unwrap();
            prop_assert_eq!(back.value.as_ref(), value.as_slice());
            prop_assert!(records::decode::<SettingRecord>(&bytes[..bytes.len() - 1], "s").is_err());
            let mut other_version = bytes.clone();
            other_version[0] = 2;
            prop_assert!(records::decode::<SettingRecord>(&other_version, "s").is_err());
        }
    }
}
