//! Per-bucket settings of [`Store`]: configuration documents kept with a bucket (its
//! policy and ACL grants now; tagging, CORS, lifecycle, versioning, default encryption and logging as
//! they come).
//!
//! Storage keeps the bytes as given and checks only their size; what a document means (and
//! whether it is valid) is for the server and `coffer-auth`. Settings live in the sealed
//! index under the bucket's random id (see `index/settings.rs`), so they are ciphertext at
//! rest (P3) and die with the bucket.

use crate::error::{Error, Result};
use crate::object::BucketInfo;
use crate::store::{MAX_BUCKET_SETTING_LEN, Store};
use crate::writer::Op;

/// What a bucket setting is.
///
/// Stored on disk as a one-byte tag per variant, never as text; a tag, once given, is never
/// reused for anything else.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BucketSetting {
    /// The bucket policy (JSON).
    Policy = 1,
    /// The bucket's tag set.
    Tagging = 2,
    /// The CORS configuration.
    Cors = 3,
    /// The lifecycle configuration.
    Lifecycle = 4,
    /// The versioning state (typed: read and written through [`Store::versioning`] and
    /// [`Store::set_versioning`] only).
    Versioning = 5,
    /// The default encryption configuration.
    Encryption = 6,
    /// The server access logging configuration.
    Logging = 7,
    /// The bucket ACL's grants to users other than the owner (coffer-auth's encoding).
    Acl = 8,
    /// The Object Lock configuration (typed: read and written through
    /// [`Store::object_lock_config`] and [`Store::set_object_lock_config`] only).
    ObjectLock = 9,
}

impl BucketSetting {
    /// The stable on-disk tag.
    pub(crate) const fn tag(self) -> u8 {
        self as u8
    }
}

impl Store {
    /// The bucket's `setting`, or `None` if it is not set (the raw stored bytes).
    ///
    /// # Errors
    /// `Error::NoSuchBucket` if the bucket does not exist; index errors.
    pub async fn bucket_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
    ) -> Result<Option<Vec<u8>>> {
        self.bucket_with_setting(bucket, setting)
            .await
            .map(|(_, value)| value)
    }

    /// The bucket named `bucket` and its `setting`, read in one index read transaction, so
    /// the setting is the one of that very bucket (the access check needs the owner and the
    /// policy on every request).
    ///
    /// # Errors
    /// `Error::NoSuchBucket` if the bucket does not exist; index errors.
    pub async fn bucket_with_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
    ) -> Result<(BucketInfo, Option<Vec<u8>>)> {
        self.bucket_with_settings(bucket, [setting])
            .await
            .map(|(info, [value])| (info, value))
    }

    /// The bucket named `bucket` and each of `settings`, read in one index read
    /// transaction (the access check needs the owner, the policy and the ACL together, as
    /// they were at one moment).
    ///
    /// # Errors
    /// `Error::NoSuchBucket` if the bucket does not exist; index errors.
    pub async fn bucket_with_settings<const N: usize>(
        &self,
        bucket: &str,
        settings: [BucketSetting; N],
    ) -> Result<(BucketInfo, [Option<Vec<u8>>; N])> {
        let name = bucket.to_owned();
        let (record, values) = self
            .inner
            .shared
            .read(move |s| {
                let record = s.bucket(&name)?.ok_or(Error::NoSuchBucket)?;
                let mut values: [Option<Vec<u8>>; N] = std::array::from_fn(|_| None);
                for (value, setting) in values.iter_mut().zip(settings) {
                    *value = s.bucket_setting(&record.id, setting.tag())?;
                }
                Ok((record, values))
            })
            .await?;
        Ok((BucketInfo::from_record(bucket.to_owned(), record), values))
    }

    /// Sets (`Some`) or removes (`None`) the bucket's `setting`. Durable when it returns (as
    /// durable as the store: it commits through the index writer like every other change).
    /// Removing a setting that is not set is not an error.
    ///
    /// # Errors
    /// `Error::SettingTooLarge` if the value is over [`MAX_BUCKET_SETTING_LEN`] bytes
    /// (nothing is changed); `Error::NoSuchBucket` if the bucket does not exist;
    /// `Error::ShuttingDown`; index errors.
    pub async fn set_bucket_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
        value: Option<Vec<u8>>,
    ) -> Result<()> {
        if value
            .as_ref()
            .is_some_and(|v| v.len() > MAX_BUCKET_SETTING_LEN)
        {
            return Err(Error::SettingTooLarge);
        }
        // These two are typed and have rules (never back to unversioned; Object Lock
        // cannot be undone), kept by their own calls.
        if matches!(
            setting,
            BucketSetting::Versioning | BucketSetting::ObjectLock
        ) {
            return Err(Error::InvalidBucketState);
        }
        self.submit(Op::SetBucketSetting {
            name: bucket.to_owned(),
            setting,
            value,
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::BucketSetting;

    /// The tags are on disk: changing one would hand a stored document to another kind.
    #[test]
    fn tags_are_stable() {
        let all = [
            (BucketSetting::Policy, 1),
            (BucketSetting::Tagging, 2),
            (BucketSetting::Cors, 3),
            (BucketSetting::Lifecycle, 4),
            (BucketSetting::Versioning, 5),
            (BucketSetting::Encryption, 6),
            (BucketSetting::Logging, 7),
            (BucketSetting::Acl, 8),
            (BucketSetting::ObjectLock, 9),
        ];
        for (setting, tag) in all {
            assert_eq!(setting.tag(), tag, "{setting:?}");
        }
    }
}
