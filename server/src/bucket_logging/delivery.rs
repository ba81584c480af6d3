//! Delivery: a background task that turns the trail's records of requests on logged
//! buckets into AWS-format log objects in their target buckets.
//!
//! Every interval (`--bucket-log-interval`, 60 s by default) a pass reads the trail's
//! outcome records after the cursor (the last sequence delivered, a sealed record of the
//! index), keeps those of buckets whose logging is on (settings looked up once per pass),
//! writes one object per target bucket and key stem (a new one past [`MAX_OBJECT_BYTES`]),
//! and only once every object is committed moves the cursor. A crash in between delivers
//! some lines twice and loses none; AWS documents duplicates too. A bucket whose logging
//! was turned off since its requests were recorded has no route any more: those lines
//! are dropped.
//!
//! Deliveries are writes straight into storage, not requests: they pass no guard and leave
//! no audit record, so nothing they do is ever logged in turn. That is why a bucket may log
//! into itself, or two buckets into each other, without a loop.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use coffer_audit::{Filter, Phase, Reader, Record};
use coffer_auth::Auth;
use coffer_storage::{BucketInfo, BucketSetting, ObjectMeta, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use super::config::{LoggingConfig, Stem, Utc};
use super::line::{self, Context};

/// The sealed record holding the last delivered sequence.
const CURSOR_RECORD: &str = "bucket-log-cursor";
/// The version byte of the cursor record (then the sequence, u64 little-endian).
const CURSOR_V1: u8 = 1;
/// A log object is closed and another started past this size: objects stay small enough
/// to build in memory, and to read.
const MAX_OBJECT_BYTES: usize = 4 << 20;
/// Records read from the trail per blocking step.
const BATCH: usize = 1024;
/// How long shutdown waits for the last pass.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// The running delivery task. [`Delivery::stop`] runs a last pass and ends it.
pub(crate) struct Delivery {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Delivery")
    }
}

/// What a pass needs.
struct Deliverer {
    store: Store,
    auth: Auth,
    /// The trail's directory.
    dir: PathBuf,
    /// The trail's key.
    key: Zeroizing<[u8; 32]>,
    region: String,
}

/// Where the records of one source bucket go, as found at the start of a pass.
struct Route {
    /// The source bucket's owner.
    owner: String,
    config: LoggingConfig,
    target: BucketInfo,
}

/// A log object being filled.
struct Pending {
    target: BucketInfo,
    body: Vec<u8>,
}

/// Why a pass stopped short. Displays no names.
#[derive(Debug, thiserror::Error)]
enum PassError {
    /// Reading or writing the store failed.
    #[error("storage: {0}")]
    Storage(#[from] coffer_storage::Error),
    /// The trail does not read (damage names its place, never a name).
    #[error("the audit trail does not read: {0}")]
    Trail(#[from] coffer_audit::Error),
    /// The stored cursor does not decode.
    #[error("the stored bucket log cursor does not decode")]
    Cursor,
    /// No randomness for a log object's unique string.
    #[error("no randomness for a log object name")]
    Random,
    /// A blocking task panicked.
    #[error("a blocking task failed")]
    Join,
}

impl Delivery {
    /// Starts delivering the records of the trail in `dir` (sealed under `key`) every
    /// `interval`. The first start on a data directory begins at the trail's end: records
    /// from before there was any bucket logging are never delivered.
    ///
    /// # Errors
    /// The cursor cannot be read, or set at the trail's end.
    pub(crate) async fn start(
        store: Store,
        auth: Auth,
        dir: PathBuf,
        key: Zeroizing<[u8; 32]>,
        region: String,
        interval: Duration,
    ) -> anyhow::Result<Delivery> {
        let deliverer = Deliverer {
            store,
            auth,
            dir,
            key,
            region,
        };
        if deliverer.cursor().await?.is_none() {
            let end = deliverer.trail_end().await?;
            deliverer.set_cursor(end).await?;
        }
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(deliverer, interval, stopped));
        Ok(Delivery { stop, task })
    }

    /// Runs a last pass (what the trail holds now is delivered, within 30 s) and stops.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let abort = self.task.abort_handle();
        if tokio::time::timeout(STOP_WITHIN, self.task).await.is_err() {
            tracing::warn!(
                "the last bucket log delivery did not finish in time: the next start delivers it"
            );
            abort.abort();
        }
    }
}

async fn run(deliverer: Deliverer, interval: Duration, mut stop: oneshot::Receiver<()>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the first pass comes one interval after the start.
    ticker.tick().await;
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            // A stop, or the handle dropped: deliver what is there, then end.
            _ = &mut stop => true,
        };
        deliverer.pass_logged().await;
        if last {
            return;
        }
    }
}

impl Deliverer {
    async fn pass_logged(&self) {
        match self.pass().await {
            Ok(0) => {}
            Ok(objects) => tracing::debug!(objects, "bucket logs delivered"),
            Err(PassError::Storage(coffer_storage::Error::ShuttingDown)) => {
                tracing::debug!(
                    "bucket log delivery stopped by shutdown; the next start resumes it"
                );
            }
            Err(error @ PassError::Trail(_)) => tracing::error!(
                %error,
                "bucket logs are not delivered past this point of the audit trail: run `coffer audit verify`"
            ),
            Err(error) => {
                tracing::warn!(%error, "bucket log delivery failed; retried at the next interval");
            }
        }
    }

    /// One pass; returns how many log objects it wrote.
    async fn pass(&self) -> Result<usize, PassError> {
        let cursor = self.cursor().await?.unwrap_or(0);
        let delivery = Utc::from_ms(coffer_audit::unix_ms(SystemTime::now()));
        let account = self.auth.account();
        let mut routes: HashMap<String, Option<Route>> = HashMap::new();
        let mut out: HashMap<Stem, Pending> = HashMap::new();
        let mut written = 0;
        let mut last = cursor;
        let mut reader = Some(self.reader(cursor.saturating_add(1)).await?);
        let mut failure = None;
        let mut trail_end = cursor;
        while let Some(r) = reader.take() {
            let (r, batch, error) = tokio::task::spawn_blocking(move || read_batch(r))
                .await
                .map_err(|_| PassError::Join)?;
            let done = batch.len() < BATCH || error.is_some();
            for (sequence, record) in batch {
                last = sequence;
                if record.phase != Phase::Outcome {
                    continue;
                }
                let Some(name) = record.bucket.as_deref() else {
                    continue;
                };
                if !routes.contains_key(name) {
                    let route = self.route_of(name).await?;
                    routes.insert(name.to_owned(), route);
                }
                let Some(Some(route)) = routes.get(name) else {
                    continue;
                };
                if !route.config.covers(&record) {
                    continue;
                }
                let text = line::format(
                    &record,
                    &Context {
                        bucket_owner: &route.owner,
                        account: &account,
                    },
                );
                let stem = Stem::new(
                    &route.config,
                    &account,
                    &self.region,
                    name,
                    Utc::from_ms(record.time_ms),
                    delivery,
                );
                let pending = out.entry(stem.clone()).or_insert_with(|| Pending {
                    target: route.target.clone(),
                    body: Vec::new(),
                });
                pending.body.extend_from_slice(text.as_bytes());
                pending.body.push(b'\n');
                if pending.body.len() >= MAX_OBJECT_BYTES
                    && let Some(full) = out.remove(&stem)
                {
                    written += self.commit(&stem, full).await?;
                }
            }
            failure = error;
            if done {
                trail_end = r.last_sequence().unwrap_or(0);
            } else {
                reader = Some(r);
            }
        }
        for (stem, pending) in out {
            written += self.commit(&stem, pending).await?;
        }
        // Every object is committed: only now may the cursor pass their records.
        if last > cursor {
            self.set_cursor(last).await?;
        } else if failure.is_none() && trail_end < cursor {
            // The trail ends before what was delivered: it was started anew (its directory
            // removed). Its records were never delivered: read it from the start.
            tracing::warn!(
                "the audit trail is shorter than the bucket logs delivered from it: it was replaced; delivering it from its start"
            );
            self.set_cursor(0).await?;
        }
        match failure {
            Some(error) => Err(error.into()),
            None => Ok(written),
        }
    }

    /// Where the records of bucket `name` go; `None` if it does not log (or no longer
    /// can: its target is gone or has another owner).
    async fn route_of(&self, name: &str) -> Result<Option<Route>, PassError> {
        let (source, setting) = match self
            .store
            .bucket_with_setting(name, BucketSetting::Logging)
            .await
        {
            Ok(found) => found,
            Err(coffer_storage::Error::NoSuchBucket) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let Some(bytes) = setting else {
            return Ok(None);
        };
        let Ok(config) = LoggingConfig::decode(&bytes) else {
            tracing::error!(
                "a stored bucket logging configuration no longer decodes: that bucket's logs are not delivered"
            );
            return Ok(None);
        };
        let target = match self.store.bucket(&config.target_bucket).await {
            Ok(target) => target,
            Err(coffer_storage::Error::NoSuchBucket) => {
                tracing::warn!(
                    "a logged bucket's target bucket was deleted: its log lines are dropped until PutBucketLogging names another"
                );
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        // Checked again at every pass: a target deleted and made again by someone else
        // must not receive the logs.
        if target.owner != source.owner {
            tracing::warn!(
                "a logged bucket's target bucket now belongs to another user: its log lines are dropped until PutBucketLogging names another"
            );
            return Ok(None);
        }
        Ok(Some(Route {
            owner: source.owner,
            config,
            target,
        }))
    }

    /// Writes one log object under `stem` through the store's ordinary write path (chunks
    /// sealed under the target bucket's key, committed in the index), not as a request.
    /// Returns how many objects it wrote (none if the target was deleted meanwhile).
    async fn commit(&self, stem: &Stem, pending: Pending) -> Result<usize, PassError> {
        let mut unique = [0u8; 8];
        getrandom::fill(&mut unique).map_err(|_| PassError::Random)?;
        let key = stem.object_key(unique);
        let written = async {
            let mut writer = self.store.object_writer(&pending.target).await?;
            writer.write(Bytes::from(pending.body)).await?;
            let body = writer.finish().await?;
            let meta = ObjectMeta {
                content_type: Some("text/plain".to_owned()),
                ..ObjectMeta::default()
            };
            self.store
                .commit_object(&pending.target, &key, body, meta)
                .await
        }
        .await;
        match written {
            Ok(_) => Ok(1),
            Err(coffer_storage::Error::NoSuchBucket) => {
                tracing::warn!(
                    "a logged bucket's target bucket was deleted during delivery: those log lines are dropped"
                );
                Ok(0)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A reader of the trail from sequence `from` on.
    async fn reader(&self, from: u64) -> Result<Reader, PassError> {
        let (dir, key) = (self.dir.clone(), self.key.clone());
        tokio::task::spawn_blocking(move || Reader::open_from(&dir, &key, Filter::default(), from))
            .await
            .map_err(|_| PassError::Join)?
            .map_err(PassError::Trail)
    }

    /// The sequence of the trail's last record (0 for an empty trail), found without
    /// opening any record.
    async fn trail_end(&self) -> Result<u64, PassError> {
        let mut reader = self.reader(u64::MAX).await?;
        tokio::task::spawn_blocking(move || {
            for item in reader.by_ref() {
                item?;
            }
            Ok(reader.last_sequence().unwrap_or(0))
        })
        .await
        .map_err(|_| PassError::Join)?
    }

    /// The last sequence delivered; `None` before the first start of delivery.
    async fn cursor(&self) -> Result<Option<u64>, PassError> {
        let Some(bytes) = self.store.get_sealed(CURSOR_RECORD).await? else {
            return Ok(None);
        };
        match bytes.split_first() {
            Some((&CURSOR_V1, rest)) => {
                let bytes: [u8; 8] = rest.try_into().map_err(|_| PassError::Cursor)?;
                Ok(Some(u64::from_le_bytes(bytes)))
            }
            _ => Err(PassError::Cursor),
        }
    }

    async fn set_cursor(&self, sequence: u64) -> Result<(), PassError> {
        let mut bytes = Zeroizing::new(vec![CURSOR_V1]);
        bytes.extend_from_slice(&sequence.to_le_bytes());
        Ok(self.store.put_sealed(CURSOR_RECORD, bytes).await?)
    }
}

/// Up to [`BATCH`] records of `reader`, and the error that stopped it, if one did.
fn read_batch(mut reader: Reader) -> (Reader, Vec<(u64, Record)>, Option<coffer_audit::Error>) {
    let mut batch = Vec::new();
    while batch.len() < BATCH {
        match reader.next() {
            None => break,
            Some(Ok(item)) => batch.push(item),
            Some(Err(error)) => return (reader, batch, Some(error)),
        }
    }
    (reader, batch, None)
}

#[cfg(test)]
mod tests {
    //! One pass over a real store and trail: outcomes of logged buckets are delivered once,
    //! intents, other buckets and requests from before logging was on never are; a
    //! replaced trail is read again from its start.

    use coffer_audit::{AuditLog, Caller};
    use coffer_auth::RootSource;
    use coffer_storage::{
        DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, Durability, IndexLocation, ListParams, MasterKey,
        Placement, StoreConfig,
    };

    use super::*;
    use crate::bucket_logging::KeyFormat;

    fn record(phase: Phase, bucket: Option<&str>, time_ms: u64, op: &str) -> Record {
        Record {
            phase,
            time_ms,
            request_id: format!("req{time_ms}"),
            caller: Some(Caller {
                user: "root".into(),
                access_key: "AKIAROOT".into(),
            }),
            source: "192.0.2.1".into(),
            operation: op.into(),
            bucket: bucket.map(str::to_owned),
            key: Some("k".into()),
            status: 200,
            ..Record::default()
        }
    }

    /// The log lines in `bucket`, object by object in key order.
    async fn lines(store: &Store, bucket: &str) -> Vec<String> {
        let bucket = store.bucket(bucket).await.unwrap();
        let page = store
            .list_objects(
                &bucket,
                ListParams {
                    prefix: String::new(),
                    delimiter: None,
                    start_after: None,
                    max_keys: 1000,
                },
            )
            .await
            .unwrap();
        let mut out = Vec::new();
        for entry in page.entries {
            let info = store.head_object(&bucket, entry.key()).await.unwrap();
            assert!(entry.key().starts_with("x/"), "{}", entry.key());
            let mut reader = store.read_object(&info, 0..info.size);
            let mut body = Vec::new();
            while let Some(piece) = reader.recv().await {
                body.extend_from_slice(&piece.unwrap());
            }
            out.extend(String::from_utf8(body).unwrap().lines().map(str::to_owned));
        }
        out
    }

    #[tokio::test]
    async fn a_pass_delivers_each_outcome_of_a_logged_bucket_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig {
            placement: Placement::Directory {
                root: dir.path().to_path_buf(),
                index: IndexLocation::Memory,
            },
            chunk_size: DEFAULT_CHUNK_SIZE,
            inline_max: DEFAULT_INLINE_MAX,
            durability: Durability::Relaxed,
            master_key: MasterKey::generate().unwrap(),
        })
        .await
        .unwrap();
        let (auth, _) = Auth::open(&store, RootSource::StoredOrGenerated)
            .await
            .unwrap();
        for name in ["src", "logs", "other"] {
            store.create_bucket(name, "root").await.unwrap();
        }
        let config = LoggingConfig {
            target_bucket: "logs".into(),
            target_prefix: "x/".into(),
            key_format: KeyFormat::Simple,
            since_ms: 1000,
        };
        store
            .set_bucket_setting("src", BucketSetting::Logging, Some(config.encode()))
            .await
            .unwrap();
        let trail = dir.path().join("audit");
        let key = Zeroizing::new([9u8; 32]);
        let mut log = AuditLog::open(&trail, &key).unwrap();
        for r in [
            record(Phase::Outcome, Some("src"), 2000, "GetObject"),
            record(Phase::Intent, Some("src"), 2001, "PutObject"),
            record(Phase::Outcome, Some("other"), 2002, "GetObject"),
            record(Phase::Outcome, Some("src"), 500, "GetObject"),
            record(Phase::Outcome, None, 2003, "ListBuckets"),
            record(Phase::Outcome, Some("src"), 3000, "PutObject"),
        ] {
            log.append(&r).unwrap();
        }
        log.sync().unwrap();
        let deliverer = Deliverer {
            store: store.clone(),
            auth,
            dir: trail,
            key,
            region: "us-east-1".into(),
        };
        deliverer.set_cursor(0).await.unwrap();

        assert_eq!(deliverer.pass().await.unwrap(), 1);
        let got = lines(&store, "logs").await;
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].contains(" req2000 REST.GET.OBJECT k "), "{}", got[0]);
        assert!(got[1].contains(" req3000 REST.PUT.OBJECT k "), "{}", got[1]);
        assert_eq!(deliverer.cursor().await.unwrap(), Some(6));
        // Nothing new: nothing delivered, nothing twice.
        assert_eq!(deliverer.pass().await.unwrap(), 0);
        assert_eq!(lines(&store, "logs").await.len(), 2);

        // A cursor past the trail's end (the trail was replaced): read from the start.
        deliverer.set_cursor(100).await.unwrap();
        assert_eq!(deliverer.pass().await.unwrap(), 0);
        assert_eq!(deliverer.cursor().await.unwrap(), Some(0));
        assert_eq!(deliverer.pass().await.unwrap(), 1);
        assert_eq!(lines(&store, "logs").await.len(), 4);
        store.shutdown().await;
    }
}
