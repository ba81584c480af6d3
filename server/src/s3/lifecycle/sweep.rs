//! The background sweep that applies lifecycle rules, every `--lifecycle-interval` seconds.
//!
//! Days count as AWS counts them: an action is due at the first midnight UTC at or after
//! the start time plus the days (an object written 2026-01-01T10:00Z with `Days` 1 expires at
//! 2026-01-03T00:00Z). The start is the object's creation for `Expiration`, the moment it
//! became noncurrent (the write of its successor) for `NoncurrentVersionExpiration`, and the
//! initiation for `AbortIncompleteMultipartUpload`.
//!
//! Deletes go through the store's ordinary delete, which refuses any version under
//! retention or legal hold (governance is never bypassed): such versions are skipped and
//! tried again next sweep. Expiring a current object in a versioned bucket leaves a delete
//! marker, as on AWS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_storage::{
    BucketInfo, BucketSetting, Error, Store, UploadListParams, VersionListEntry, VersionListParams,
    VersionRef, VersionSummary,
};

use super::expiry::due;
use super::rules::{Expiration, Lifecycle, Rule};

/// Entries read per index page.
const PAGE: usize = 1000;

/// Runs the sweep every `every` until the store shuts down.
pub(crate) async fn sweep_lifecycle(store: Store, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep_once(&store, SystemTime::now()).await {
            // Nothing due, or a standby: its primary sweeps, and the result comes with the
            // index.
            Ok(0) | Err(Error::NotWriter { .. }) => {}
            Ok(n) => tracing::info!(actions = n, "lifecycle rules applied"),
            Err(Error::ShuttingDown) => return,
            Err(e) => tracing::warn!(error = %e, "lifecycle sweep failed"),
        }
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Applies every bucket's enabled rules once; returns how many actions were taken.
async fn sweep_once(store: &Store, now: SystemTime) -> coffer_storage::Result<u64> {
    let mut done = 0;
    for bucket in store.list_buckets().await? {
        let stored = match store
            .bucket_setting(&bucket.name, BucketSetting::Lifecycle)
            .await
        {
            Ok(Some(stored)) => stored,
            // Gone since the listing, or no rules.
            Ok(None) | Err(Error::NoSuchBucket) => continue,
            Err(e) => return Err(e),
        };
        let Ok(config) = postcard::from_bytes::<Lifecycle>(&stored) else {
            tracing::warn!("a bucket's stored lifecycle rules do not decode; skipped");
            continue;
        };
        let rules: Vec<Rule> = config.rules.into_iter().filter(|r| r.enabled).collect();
        if rules.is_empty() {
            continue;
        }
        let sweep = Sweep {
            store,
            bucket: &bucket,
            rules: &rules,
            now: secs(now),
        };
        done += sweep.versions().await?;
        done += sweep.uploads().await?;
    }
    Ok(done)
}

/// One bucket's sweep.
struct Sweep<'a> {
    store: &'a Store,
    bucket: &'a BucketInfo,
    rules: &'a [Rule],
    now: u64,
}

impl Sweep<'_> {
    /// Walks every key's versions (newest first), a key at a time.
    async fn versions(&self) -> coffer_storage::Result<u64> {
        let mut done = 0;
        let mut params = VersionListParams {
            prefix: String::new(),
            delimiter: None,
            key_marker: None,
            version_id_marker: None,
            max_keys: PAGE,
        };
        let mut group: Vec<VersionSummary> = Vec::new();
        loop {
            let page = self
                .store
                .list_object_versions(self.bucket, params.clone())
                .await?;
            for entry in page.entries {
                let VersionListEntry::Version(v) = entry else {
                    continue;
                };
                if group.first().is_some_and(|g| g.key != v.key) {
                    done += self.key(&std::mem::take(&mut group)).await?;
                }
                group.push(v);
            }
            if !page.is_truncated {
                break;
            }
            params.key_marker = page.next_key_marker;
            params.version_id_marker = page.next_version_id_marker;
        }
        if !group.is_empty() {
            done += self.key(&group).await?;
        }
        Ok(done)
    }

    /// The tags of one version, read only when a rule filters on tags.
    async fn tags(&self, v: &VersionSummary) -> coffer_storage::Result<Vec<(String, String)>> {
        if v.delete_marker || !self.rules.iter().any(|r| r.filter.has_tags()) {
            return Ok(Vec::new());
        }
        let version = VersionRef::parse(&v.version_id).ok();
        match self.store.head_version(self.bucket, &v.key, version).await {
            Ok(info) => Ok(info.meta.tags),
            Err(Error::NoSuchKey | Error::NoSuchVersion) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Applies the rules to one key's versions, newest first.
    async fn key(&self, versions: &[VersionSummary]) -> coffer_storage::Result<u64> {
        let mut done = 0;
        let mut left = versions.len();
        // Noncurrent versions: each became noncurrent when the next newer one was written.
        for (rank, pair) in versions.windows(2).enumerate() {
            let noncurrent_rank = u32::try_from(rank).unwrap_or(u32::MAX);
            let (newer, v) = (&pair[0], &pair[1]);
            let tags = self.tags(v).await?;
            let expire = self.rules.iter().any(|r| {
                r.noncurrent.as_ref().is_some_and(|n| {
                    r.filter.matches(&v.key, v.size, &tags)
                        && noncurrent_rank >= n.newer_versions.unwrap_or(0)
                        && self.now >= due(newer.last_modified, n.days)
                })
            });
            if expire && self.delete_version(v).await? {
                done += 1;
                left -= 1;
            }
        }
        let Some(latest) = versions.first().filter(|v| v.is_latest) else {
            return Ok(done);
        };
        if latest.delete_marker {
            // A delete marker with no versions left behind it is an expired one.
            let expire = left == 1
                && self.rules.iter().any(|r| {
                    r.filter.matches(&latest.key, 0, &[])
                        && matches!(
                            r.expiration,
                            Some(Expiration::ExpiredObjectDeleteMarker(true) | Expiration::Days(_))
                        )
                });
            if expire && self.delete_version(latest).await? {
                done += 1;
            }
            return Ok(done);
        }
        let tags = self.tags(latest).await?;
        let expire = self.rules.iter().any(|r| {
            r.filter.matches(&latest.key, latest.size, &tags)
                && match r.expiration {
                    Some(Expiration::Days(days)) => self.now >= due(latest.last_modified, days),
                    Some(Expiration::Date(date)) => {
                        i64::try_from(self.now).is_ok_and(|now| now >= date)
                    }
                    _ => false,
                }
        });
        if expire {
            match self.store.delete_object(self.bucket, &latest.key).await {
                Ok(_) => done += 1,
                Err(Error::ObjectLocked | Error::NoSuchBucket) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Deletes one version for good, unless it is locked; whether it went.
    async fn delete_version(&self, v: &VersionSummary) -> coffer_storage::Result<bool> {
        let Ok(version) = VersionRef::parse(&v.version_id) else {
            return Ok(false);
        };
        let outcomes = self
            .store
            .delete_versions(self.bucket, vec![(v.key.clone(), Some(version))], false)
            .await?;
        Ok(matches!(outcomes.first(), Some(Ok(_))))
    }

    /// Aborts the uploads a rule says are too old.
    async fn uploads(&self) -> coffer_storage::Result<u64> {
        if !self.rules.iter().any(|r| r.abort_upload_days.is_some()) {
            return Ok(0);
        }
        let mut done = 0;
        let mut params = UploadListParams {
            prefix: String::new(),
            delimiter: None,
            key_marker: None,
            upload_id_marker: None,
            max_uploads: PAGE,
        };
        loop {
            let page = self.store.list_uploads(self.bucket, params.clone()).await?;
            for upload in &page.uploads {
                let expire = self.rules.iter().any(|r| {
                    r.abort_upload_days.is_some_and(|days| {
                        r.filter.matches(&upload.key, 0, &[])
                            && self.now >= due(upload.initiated, days)
                    })
                });
                if !expire {
                    continue;
                }
                match self
                    .store
                    .abort_upload(self.bucket, &upload.key, &upload.upload_id)
                    .await
                {
                    Ok(()) => done += 1,
                    Err(Error::NoSuchUpload) => {}
                    Err(e) => return Err(e),
                }
            }
            if !page.is_truncated {
                break;
            }
            params.key_marker = page.next_key_marker;
            params.upload_id_marker = page.next_upload_id_marker;
        }
        Ok(done)
    }
}
