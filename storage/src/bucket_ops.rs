//! Bucket operations of [`Store`].

use crate::error::{Error, Result};
use crate::keys::keyring::random_bytes;
use crate::object::{BucketInfo, now_ms};
use crate::records::BucketRecord;
use crate::store::Store;
use crate::version::{ObjectLockConfig, Versioning};
use crate::writer::Op;

impl Store {
    /// Creates a bucket with a fresh random id and a fresh bucket key (stored wrapped).
    ///
    /// # Errors
    /// `Error::BucketAlreadyExists { owner }` if the name is taken.
    pub async fn create_bucket(&self, name: &str, owner: &str) -> Result<BucketInfo> {
        self.create_bucket_with(name, owner, false).await
    }

    /// Creates a bucket with versioning and Object Lock on from the start (AWS:
    /// `x-amz-bucket-object-lock-enabled: true`), in the same commit as the bucket.
    ///
    /// # Errors
    /// As [`Store::create_bucket`].
    pub async fn create_locked_bucket(&self, name: &str, owner: &str) -> Result<BucketInfo> {
        self.create_bucket_with(name, owner, true).await
    }

    async fn create_bucket_with(
        &self,
        name: &str,
        owner: &str,
        object_lock: bool,
    ) -> Result<BucketInfo> {
        self.inner.shared.chunks.check_room(0)?;
        let id = random_bytes::<16>()?;
        let (wrapped_key, _keys) = self.inner.shared.keyring.new_bucket_key(&id)?;
        let record = BucketRecord {
            id,
            owner: owner.to_owned(),
            created_ms: now_ms(),
        };
        // The key share is durable before the commit that makes the bucket exist.
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || shared.shares.create(&id))
            .await
            .map_err(Error::join)??;
        let created = self
            .submit(Op::CreateBucket {
                name: name.to_owned(),
                record: record.clone(),
                wrapped_key,
                object_lock,
            })
            .await;
        if let Err(e) = created {
            // Surely not committed: drop the share now. After any other error the commit may
            // have landed, so the share stays; the next start sweeps it if it is stale.
            if matches!(e, Error::BucketAlreadyExists { .. }) {
                let shared = self.inner.shared.clone();
                let _ = tokio::task::spawn_blocking(move || shared.shares.remove(&id)).await;
            }
            return Err(e);
        }
        Ok(BucketInfo::from_record(name.to_owned(), record))
    }

    /// The bucket's versioning state.
    ///
    /// # Errors
    /// Index errors.
    pub async fn versioning(&self, bucket: &BucketInfo) -> Result<Versioning> {
        let id = bucket.id;
        self.inner.shared.read(move |s| s.versioning(&id)).await
    }

    /// Sets the versioning state of the bucket named `name`.
    ///
    /// # Errors
    /// `Error::InvalidBucketState` for `Unversioned`, or `Suspended` under Object Lock;
    /// `Error::NoSuchBucket`.
    pub async fn set_versioning(&self, name: &str, state: Versioning) -> Result<()> {
        self.submit(Op::SetVersioning {
            name: name.to_owned(),
            state,
        })
        .await
        .map(|_| ())
    }

    /// The bucket's Object Lock configuration; `None` if Object Lock is off.
    ///
    /// # Errors
    /// Index errors.
    pub async fn object_lock_config(
        &self,
        bucket: &BucketInfo,
    ) -> Result<Option<ObjectLockConfig>> {
        let id = bucket.id;
        self.inner.shared.read(move |s| s.lock_config(&id)).await
    }

    /// Sets the Object Lock configuration (default retention) of the bucket named `name`,
    /// turning Object Lock on for good if it was off.
    ///
    /// # Errors
    /// `Error::InvalidBucketState` if versioning is not enabled; `Error::NoSuchBucket`.
    pub async fn set_object_lock_config(&self, name: &str, config: ObjectLockConfig) -> Result<()> {
        self.submit(Op::SetLockConfig {
            name: name.to_owned(),
            config,
        })
        .await
        .map(|_| ())
    }

    /// The bucket named `name`.
    ///
    /// # Errors
    /// `Error::NoSuchBucket`.
    pub async fn bucket(&self, name: &str) -> Result<BucketInfo> {
        let owned = name.to_owned();
        let record = self
            .inner
            .shared
            .read(move |s| s.bucket(&owned))
            .await?
            .ok_or(Error::NoSuchBucket)?;
        Ok(BucketInfo::from_record(name.to_owned(), record))
    }

    /// Every bucket, sorted by name (byte order).
    ///
    /// # Errors
    /// Index errors.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let all = self
            .inner
            .shared
            .read(crate::index::Snapshot::buckets)
            .await?;
        Ok(all
            .into_iter()
            .map(|(name, record)| BucketInfo::from_record(name, record))
            .collect())
    }

    /// Deletes an empty bucket: its record and wrapped key go in one transaction
    /// (crypto-shredding: any copy of its chunks is unreadable from then on), then its
    /// chunk directory is removed.
    ///
    /// # Errors
    /// `Error::NoSuchBucket`; `Error::BucketNotEmpty` if any object remains.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.submit(Op::DeleteBucket {
            name: name.to_owned(),
        })
        .await
        .map(|_| ())
    }
}
