//! The audit writer: one task owns the trail ([`coffer_audit::AuditLog`]), fed by a bounded
//! channel, so records of concurrent requests share one fsync (group commit).
//!
//! A request that changes something has two records: its intent, queued once the change is
//! allowed and durable before the change commits (the request's [`CommitGate`] waits for
//! it), and its outcome. Outcomes, and the records of reads, are durable within
//! [`SYNC_WITHIN`]. So a crash can lose the outcome of a change, never the change's record. A checkpoint line (sequence and chain
//! hash, no names) is logged every [`CHECKPOINT_EVERY`] and when the trail closes, so an
//! operator can keep it outside the data directory, where truncating the trail cannot
//! reach it.
//!
//! Once an append or a sync fails, the trail is broken for the life of the process: every
//! later request that waits is told so (and answered 503), since a half-written frame may
//! sit at the end of the segment.
//!
//! The trail's key is a sealed record of the index ([`AUDIT_KEY_RECORD`]): master-key
//! rotation rewraps it, and nothing on the data disk opens it.
//!
//! Records older than `--audit-retention` are removed a segment at a time when the trail
//! opens and then every [`EXPIRE_EVERY`], on the writer's blocking thread, since expiry
//! reads segments and fsyncs like an append.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use coffer_audit::{AuditLog, Caller, Checkpoint, ExpireReport, Phase, Record};
use coffer_storage::{CommitGate, Store};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use crate::metrics::AuditGauge;

/// The sealed record holding the trail's 32-byte key.
pub(crate) const AUDIT_KEY_RECORD: &str = "audit-key";
/// Records that did not ask to wait are durable within this.
const SYNC_WITHIN: Duration = Duration::from_secs(1);
/// A checkpoint is logged this often (if the trail moved).
const CHECKPOINT_EVERY: Duration = Duration::from_mins(1);
/// Records queued before submitters wait for room.
const QUEUE: usize = 1024;
/// Records appended per fsync at most.
const BATCH: usize = 256;
/// Expired segments are looked for this often (and when the trail opens).
const EXPIRE_EVERY: Duration = Duration::from_hours(1);

/// The trail could not take a record: the request must not be acknowledged as done.
#[derive(Debug, thiserror::Error)]
#[error("the audit trail cannot be written")]
pub(crate) struct TrailDown;

/// What the writer task needs of a trail: [`AuditLog`], or a fault-injecting one in tests.
pub(crate) trait Sink: Send + 'static {
    /// Appends one record (not yet durable).
    fn append(&mut self, record: &Record) -> coffer_audit::Result<u64>;
    /// Makes every appended record durable.
    fn sync(&mut self) -> coffer_audit::Result<()>;
    /// Where the trail stands.
    fn checkpoint(&self) -> Checkpoint;
    /// Removes the segments wholly older than `cutoff`. A sink that keeps no segment files
    /// (a test double) has nothing to remove.
    fn expire(&mut self, cutoff: SystemTime) -> coffer_audit::Result<ExpireReport> {
        let _ = cutoff;
        Ok(ExpireReport::default())
    }
}

impl Sink for AuditLog {
    fn append(&mut self, record: &Record) -> coffer_audit::Result<u64> {
        AuditLog::append(self, record)
    }
    fn sync(&mut self) -> coffer_audit::Result<()> {
        AuditLog::sync(self)
    }
    fn checkpoint(&self) -> Checkpoint {
        AuditLog::checkpoint(self)
    }
    fn expire(&mut self, cutoff: SystemTime) -> coffer_audit::Result<ExpireReport> {
        AuditLog::expire(self, cutoff)
    }
}

enum Msg {
    Record {
        /// `None`: only a marker, answered once everything queued before it is written.
        record: Option<Box<Record>>,
        /// Answered once the record is durable (or cannot be).
        durable: Option<oneshot::Sender<Result<(), TrailDown>>>,
    },
    Close(oneshot::Sender<()>),
}

/// Where a trail is and the key that opens it: what a reader beside the writer needs.
pub(crate) struct TrailSource {
    /// The trail's folder.
    pub(crate) dir: PathBuf,
    /// The trail's key.
    pub(crate) key: Zeroizing<[u8; 32]>,
}

/// A handle on the audit writer. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AuditTrail {
    tx: mpsc::Sender<Msg>,
    /// `None` for a trail started over a test sink.
    source: Option<Arc<TrailSource>>,
    /// Whether a change waits for its record to be on disk. Off for an ephemeral server:
    /// its data lives in memory and its trail in a temp directory, so a wait protects
    /// nothing there (records are still synced within a second).
    wait_for_disk: bool,
    /// Where the writer stands, for the metrics.
    gauge: Arc<AuditGauge>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditTrail")
    }
}

/// How long a standby waits for the primary's audit key to arrive.
const STANDBY_KEY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The trail's key from `store`, made (32 random bytes) and stored sealed on first use.
///
/// # Errors
/// Storage errors; no randomness.
pub(crate) async fn trail_key(store: &Store) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut stored = store.get_sealed(AUDIT_KEY_RECORD).await?;
    // A standby cannot store a key: the primary's comes with the index it follows, within
    // one shipping interval of the primary's first start.
    let deadline = std::time::Instant::now() + STANDBY_KEY_WAIT;
    while stored.is_none()
        && store.check_writable().is_err()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        stored = store.get_sealed(AUDIT_KEY_RECORD).await?;
    }
    if let Some(stored) = stored {
        anyhow::ensure!(
            stored.len() == 32,
            "the stored audit key is not 32 bytes long"
        );
        key.copy_from_slice(&stored);
        return Ok(key);
    }
    getrandom::fill(key.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("no randomness for the audit key: {e}"))?;
    store
        .put_sealed(AUDIT_KEY_RECORD, Zeroizing::new(key.to_vec()))
        .await?;
    Ok(key)
}

impl AuditTrail {
    /// Opens the trail in `dir` with the key kept in `store`, removes the records older
    /// than `retention`, and starts its writer. With `wait_for_disk` (durable mode),
    /// changes wait for their records to be durable.
    ///
    /// # Errors
    /// The key cannot be read or made; the trail does not open (I/O, damage, wrong key).
    /// A failed expiry is logged, not an error: the server still records requests.
    pub(crate) async fn open(
        store: &Store,
        dir: &Path,
        wait_for_disk: bool,
        retention: Duration,
    ) -> anyhow::Result<AuditTrail> {
        let key = trail_key(store).await?;
        let source = Arc::new(TrailSource {
            dir: dir.to_path_buf(),
            key,
        });
        let opening = Arc::clone(&source);
        let log = tokio::task::spawn_blocking(move || {
            let mut log = if wait_for_disk {
                AuditLog::open(&opening.dir, &opening.key)?
            } else {
                AuditLog::open_relaxed(&opening.dir, &opening.key)?
            };
            expire(&mut log, retention);
            Ok::<_, coffer_audit::Error>(log)
        })
        .await??;
        Ok(AuditTrail {
            wait_for_disk,
            source: Some(source),
            ..AuditTrail::start_expiring(log, Some(retention))
        })
    }

    /// Where the trail is, for readers (`None` for a trail over a test sink).
    pub(crate) fn source(&self) -> Option<Arc<TrailSource>> {
        self.source.clone()
    }

    /// Starts the writer task over `sink`, removing nothing.
    #[cfg(test)]
    pub(crate) fn start<S: Sink>(sink: S) -> AuditTrail {
        AuditTrail::start_expiring(sink, None)
    }

    /// Starts the writer task over `sink`; with `retention`, it removes expired segments
    /// every [`EXPIRE_EVERY`].
    pub(crate) fn start_expiring<S: Sink>(sink: S, retention: Option<Duration>) -> AuditTrail {
        let (tx, rx) = mpsc::channel(QUEUE);
        let gauge = Arc::new(AuditGauge::default());
        gauge
            .sequence
            .store(sink.checkpoint().sequence, Ordering::Relaxed);
        tokio::spawn(run(sink, rx, retention, Arc::clone(&gauge)));
        AuditTrail {
            tx,
            source: None,
            wait_for_disk: true,
            gauge,
        }
    }

    /// Where the writer stands: the last sequence appended, and whether it broke.
    pub(crate) fn gauge(&self) -> Arc<AuditGauge> {
        Arc::clone(&self.gauge)
    }

    /// Queues `record`; with `wait`, returns once it is durable.
    ///
    /// # Errors
    /// [`TrailDown`]: the writer is gone, or (with `wait`) the record could not be made
    /// durable.
    pub(crate) async fn submit(&self, record: Record, wait: bool) -> Result<(), TrailDown> {
        match self.queue(record, wait).await? {
            Some(durable) => durable.await.map_err(|_| TrailDown)?,
            None => Ok(()),
        }
    }

    /// Queues `record`. With `sync` (and on a durable server) the writer syncs it as soon
    /// as it is appended, and the answer is a receiver told when it is durable; otherwise it
    /// is durable within [`SYNC_WITHIN`] and the answer is `None`.
    ///
    /// # Errors
    /// [`TrailDown`]: the writer is gone.
    pub(crate) async fn queue(
        &self,
        record: Record,
        sync: bool,
    ) -> Result<Option<oneshot::Receiver<Result<(), TrailDown>>>, TrailDown> {
        let (durable, answer) = if sync && self.wait_for_disk {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.tx
            .send(Msg::Record {
                record: Some(Box::new(record)),
                durable,
            })
            .await
            .map_err(|_| TrailDown)?;
        Ok(answer)
    }

    /// Returns once every record queued before this call is in the trail's files (and
    /// durable), so a reader opened next sees it: the outcome of a request answered just
    /// before is queued, not yet written.
    ///
    /// # Errors
    /// [`TrailDown`]: the writer is gone or the trail broken.
    pub(crate) async fn written(&self) -> Result<(), TrailDown> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Record {
                record: None,
                durable: Some(tx),
            })
            .await
            .map_err(|_| TrailDown)?;
        rx.await.map_err(|_| TrailDown)?
    }

    /// Makes everything queued durable, logs a last checkpoint and stops the writer.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The writer task.
async fn run<S: Sink>(
    sink: S,
    mut rx: mpsc::Receiver<Msg>,
    retention: Option<Duration>,
    gauge: Arc<AuditGauge>,
) {
    let mut sink = Some(sink);
    // The trail was expired as it opened.
    let mut last_expiry = Instant::now();
    let mut broken = false;
    // When records not yet synced were first appended.
    let mut unsynced_since: Option<Instant> = None;
    let mut last_checkpoint = Instant::now();
    let mut checkpointed: Option<Checkpoint> = None;
    loop {
        let deadline = match unsynced_since {
            Some(t) => (t + SYNC_WITHIN).min(last_checkpoint + CHECKPOINT_EVERY),
            None => last_checkpoint + CHECKPOINT_EVERY,
        };
        let first = tokio::select! {
            msg = rx.recv() => msg,
            () = tokio::time::sleep_until(deadline.into()) => {
                let due = unsynced_since.is_some_and(|t| t.elapsed() >= SYNC_WITHIN)
                    || last_checkpoint.elapsed() >= CHECKPOINT_EVERY;
                if due {
                    let Some(s) = sink.take() else { return };
                    let (s, ok) = blocking(s, |s| s.sync().is_ok()).await;
                    broken |= !ok;
                    gauge.broken.store(u64::from(broken), Ordering::Relaxed);
                    unsynced_since = None;
                    if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                        last_checkpoint = Instant::now();
                        log_checkpoint(&s, broken, &mut checkpointed);
                    }
                    // Rides on the checkpoint timer, which fires every minute.
                    let s = expire_if_due(s, retention, &mut last_expiry).await;
                    sink = Some(s);
                }
                continue;
            }
        };
        let mut batch = Vec::new();
        let mut close = None;
        // Every handle dropped: nothing more will come.
        let ended = first.is_none();
        match first {
            None => {}
            Some(Msg::Close(done)) => close = Some(done),
            Some(msg @ Msg::Record { .. }) => batch.push(msg),
        }
        while close.is_none() && batch.len() < BATCH {
            match rx.try_recv() {
                Ok(Msg::Close(done)) => close = Some(done),
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        let closing = close.is_some() || ended;
        let Some(s) = sink.take() else { return };
        let was_broken = broken;
        let (s, (outcome, waiters)) =
            blocking(s, move |s| write_batch(s, batch, was_broken, closing)).await;
        match outcome {
            Written::Synced => unsynced_since = None,
            Written::Pending => {
                unsynced_since.get_or_insert_with(Instant::now);
            }
            Written::Failed => {
                if !broken {
                    tracing::error!(
                        "the audit trail cannot be written: requests that change data are refused (503) until the server restarts"
                    );
                }
                broken = true;
            }
        }
        gauge
            .sequence
            .store(s.checkpoint().sequence, Ordering::Relaxed);
        gauge.broken.store(u64::from(broken), Ordering::Relaxed);
        for waiter in waiters {
            let _ = waiter.send(if broken { Err(TrailDown) } else { Ok(()) });
        }
        if closing {
            log_checkpoint(&s, broken, &mut checkpointed);
            if let Some(done) = close {
                let _ = done.send(());
            }
            return;
        }
        sink = Some(s);
    }
}

/// How a batch went.
enum Written {
    /// Appended and durable.
    Synced,
    /// Appended; no one waits, so the sync can wait a little.
    Pending,
    /// An append or the sync failed (or the trail was broken already).
    Failed,
}

/// Appends `batch` and syncs if anyone waits for it (or the trail closes); returns how it
/// went and who to answer.
fn write_batch<S: Sink>(
    sink: &mut S,
    batch: Vec<Msg>,
    broken: bool,
    closing: bool,
) -> (Written, Vec<oneshot::Sender<Result<(), TrailDown>>>) {
    let mut waiters = Vec::new();
    let mut failed = broken;
    for msg in batch {
        let Msg::Record { record, durable } = msg else {
            continue;
        };
        if !failed
            && let Some(record) = record
            && sink.append(&record).is_err()
        {
            failed = true;
        }
        waiters.extend(durable);
    }
    if failed {
        return (Written::Failed, waiters);
    }
    if waiters.is_empty() && !closing {
        return (Written::Pending, waiters);
    }
    match sink.sync() {
        Ok(()) => (Written::Synced, waiters),
        Err(_) => (Written::Failed, waiters),
    }
}

/// Runs `f` on the sink on a blocking thread (appends and fsync wait on the disk).
async fn blocking<S: Sink, T: Send + 'static>(
    mut sink: S,
    f: impl FnOnce(&mut S) -> T + Send + 'static,
) -> (S, T) {
    let handle = tokio::task::spawn_blocking(move || {
        let out = f(&mut sink);
        (sink, out)
    });
    match handle.await {
        Ok(done) => done,
        // A panic in the sink: nothing sane is left to do with the trail.
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Runs [`expire`] on a blocking thread if `retention` is set and [`EXPIRE_EVERY`] has
/// passed since `last`.
async fn expire_if_due<S: Sink>(sink: S, retention: Option<Duration>, last: &mut Instant) -> S {
    let Some(retention) = retention.filter(|_| last.elapsed() >= EXPIRE_EVERY) else {
        return sink;
    };
    *last = Instant::now();
    blocking(sink, move |s| expire(s, retention)).await.0
}

/// Removes the segments all of whose records are older than `retention`, and logs what
/// went: counts and sequence numbers only, never a name. A failure is a warning: records
/// are still written, but the operator must look (`coffer audit verify`).
fn expire<S: Sink>(sink: &mut S, retention: Duration) {
    // A retention reaching before the clock's epoch removes nothing.
    let Some(cutoff) = SystemTime::now().checked_sub(retention) else {
        return;
    };
    match sink.expire(cutoff) {
        Ok(report) if report.segments > 0 => tracing::info!(
            segments = report.segments,
            records = report.records,
            first_kept = report.first_kept,
            "expired audit records removed (older than --audit-retention); the trail's anchor records where it now starts"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(
            error = format!("{:#}", anyhow::Error::new(error)),
            "expired audit records could not be removed: stop the server and run `coffer audit verify`"
        ),
    }
}

fn log_checkpoint<S: Sink>(sink: &S, broken: bool, last: &mut Option<Checkpoint>) {
    let cp = sink.checkpoint();
    if *last == Some(cp) {
        return;
    }
    *last = Some(cp);
    if broken {
        tracing::warn!(checkpoint = %cp, "audit checkpoint (the trail failed after it)");
    } else {
        tracing::info!(checkpoint = %cp, "audit checkpoint");
    }
}

/// What the layers behind the guard learn of a request for its records: the operation and
/// caller once identified, the bucket and key it names. The guard puts a [`NoteSlot`] in the
/// request's extensions and reads it after the response.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditNote {
    /// The S3 operation or `iam:<Action>`; `None` if it was never identified.
    pub(crate) operation: Option<String>,
    /// Who signed it, once the signature is verified.
    pub(crate) caller: Option<Caller>,
    /// The bucket named.
    pub(crate) bucket: Option<String>,
    /// The object key named.
    pub(crate) key: Option<String>,
}

impl AuditNote {
    /// `base` completed with what was noted.
    pub(crate) fn fill(self, mut base: Record) -> Record {
        base.operation = self.operation.unwrap_or_else(|| "Unknown".to_owned());
        base.caller = self.caller;
        base.bucket = self.bucket;
        base.key = self.key;
        base
    }
}

/// Where a request's intent record stands.
#[derive(Debug)]
enum Intent {
    NotSent,
    Queued(oneshot::Receiver<Result<(), TrailDown>>),
    Durable,
    Failed,
}

#[derive(Debug)]
struct Slot {
    note: Mutex<AuditNote>,
    trail: AuditTrail,
    /// What every record of the request shares: arrival, id, source, bytes in.
    base: Record,
    intent: tokio::sync::Mutex<Intent>,
}

/// The shared audit state of one request (a request extension): its [`AuditNote`], and
/// its intent record, which must be durable before any change the request makes commits.
#[derive(Clone, Debug)]
pub(crate) struct NoteSlot(Arc<Slot>);

impl NoteSlot {
    /// A slot for a request whose records start as `base`, written to `trail`.
    pub(crate) fn new(trail: AuditTrail, base: Record) -> NoteSlot {
        NoteSlot(Arc::new(Slot {
            note: Mutex::new(AuditNote::default()),
            trail,
            base,
            intent: tokio::sync::Mutex::new(Intent::NotSent),
        }))
    }

    /// What was noted, leaving an empty note.
    pub(crate) fn take(&self) -> AuditNote {
        self.0
            .note
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    /// The record every record of this request starts from.
    pub(crate) fn base(&self) -> &Record {
        &self.0.base
    }

    /// The trail the request's records go to.
    pub(crate) fn trail(&self) -> &AuditTrail {
        &self.0.trail
    }

    /// Queues the intent record (once), without waiting for the disk: called as soon as a
    /// change is allowed, so its fsync runs while the body is read and stored.
    pub(crate) async fn announce(&self) {
        let mut intent = self.0.intent.lock().await;
        self.queue_intent(&mut intent).await;
    }

    async fn queue_intent(&self, intent: &mut Intent) {
        if !matches!(intent, Intent::NotSent) {
            return;
        }
        let note = self.0.note.lock().map(|n| n.clone()).unwrap_or_default();
        let record = Record {
            phase: Phase::Intent,
            ..note.fill(self.0.base.clone())
        };
        *intent = match self.0.trail.queue(record, true).await {
            Ok(Some(durable)) => Intent::Queued(durable),
            Ok(None) => Intent::Durable,
            Err(TrailDown) => Intent::Failed,
        };
    }

    /// Returns once the intent record is durable (queuing it first if need be).
    ///
    /// # Errors
    /// [`TrailDown`]: it cannot be made durable; the change must not commit.
    pub(crate) async fn ready(&self) -> Result<(), TrailDown> {
        let mut intent = self.0.intent.lock().await;
        self.queue_intent(&mut intent).await;
        if let Intent::Queued(durable) = &mut *intent {
            *intent = match durable.await {
                Ok(Ok(())) => Intent::Durable,
                Ok(Err(TrailDown)) | Err(_) => Intent::Failed,
            };
        }
        match *intent {
            Intent::Durable => Ok(()),
            _ => Err(TrailDown),
        }
    }

    /// The gate the request's index changes pass: its intent record on disk first.
    pub(crate) fn commit_gate(&self) -> CommitGate {
        let slot = self.clone();
        CommitGate::new(move || {
            let slot = slot.clone();
            Box::pin(async move {
                slot.ready().await.map_err(|TrailDown| {
                    "The audit trail cannot be written: changes are refused until the server is restarted."
                })
            })
        })
    }
}

/// Notes `f` on the request whose `extensions` these are, if it carries a slot; without
/// one (`--no-audit`), keeps only the operation, if the request carries an
/// [`OperationNote`] (for the metrics).
pub(crate) fn note(extensions: &http::Extensions, f: impl FnOnce(&mut AuditNote)) {
    if let Some(slot) = extensions.get::<NoteSlot>() {
        if let Ok(mut n) = slot.0.note.lock() {
            f(&mut n);
        }
    } else if let Some(only) = extensions.get::<OperationNote>() {
        let mut scratch = AuditNote::default();
        f(&mut scratch);
        if let (Some(op), Ok(mut kept)) = (scratch.operation, only.0.lock()) {
            *kept = Some(op);
        }
    }
}

/// The operation of a request served without an audit trail, as [`note`] classifies it:
/// the metrics need it with or without the trail, and requests are classified in one place.
#[derive(Clone, Debug, Default)]
pub(crate) struct OperationNote(Arc<Mutex<Option<String>>>);

impl OperationNote {
    /// The operation noted, if any.
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut op| op.take())
    }
}

/// Queues the intent record of the request whose `extensions` these are (see
/// [`NoteSlot::announce`]), if it carries a slot.
pub(crate) async fn announce(extensions: &http::Extensions) {
    if let Some(slot) = extensions.get::<NoteSlot>() {
        slot.announce().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An [`AuditLog`] in a temporary directory that can be told to fail.
    struct Faulty {
        log: AuditLog,
        fail: Arc<Mutex<bool>>,
        syncs: Arc<Mutex<u32>>,
    }

    impl Sink for Faulty {
        fn append(&mut self, record: &Record) -> coffer_audit::Result<u64> {
            if *self.fail.lock().unwrap() {
                return Err(coffer_audit::Error::Encode);
            }
            self.log.append(record)
        }
        fn sync(&mut self) -> coffer_audit::Result<()> {
            *self.syncs.lock().unwrap() += 1;
            self.log.sync()
        }
        fn checkpoint(&self) -> Checkpoint {
            self.log.checkpoint()
        }
    }

    fn record(id: &str) -> Record {
        Record {
            request_id: id.to_owned(),
            operation: "PutObject".to_owned(),
            status: 200,
            ..Record::default()
        }
    }

    fn faulty(dir: &Path) -> (Faulty, Arc<Mutex<bool>>, Arc<Mutex<u32>>) {
        let fail = Arc::new(Mutex::new(false));
        let syncs = Arc::new(Mutex::new(0));
        let log = AuditLog::open(dir, &[7; 32]).unwrap();
        (
            Faulty {
                log,
                fail: Arc::clone(&fail),
                syncs: Arc::clone(&syncs),
            },
            fail,
            syncs,
        )
    }

    fn read_ids(dir: &Path) -> Vec<String> {
        coffer_audit::Reader::open(dir, &[7; 32], coffer_audit::Filter::default())
            .unwrap()
            .map(|r| r.unwrap().1.request_id)
            .collect()
    }

    #[tokio::test]
    async fn a_waiting_record_is_durable_when_submit_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, _, syncs) = faulty(dir.path());
        let trail = AuditTrail::start(sink);
        trail.submit(record("a"), true).await.unwrap();
        assert!(*syncs.lock().unwrap() >= 1, "no sync before the answer");
        assert_eq!(read_ids(dir.path()), ["a"]);
        // Concurrent waiters are all answered, in submission order per task.
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let trail = trail.clone();
                tokio::spawn(async move { trail.submit(record(&format!("r{i}")), true).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        trail.close().await;
        let ids = read_ids(dir.path());
        assert_eq!(ids.len(), 21);
        coffer_audit::verify(dir.path(), &[7; 32], None).unwrap();
    }

    #[tokio::test]
    async fn a_record_that_does_not_wait_is_synced_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, _, syncs) = faulty(dir.path());
        let trail = AuditTrail::start(sink);
        let start = Instant::now();
        trail.submit(record("get"), false).await.unwrap();
        assert_eq!(*syncs.lock().unwrap(), 0, "a read waited for a sync");
        while *syncs.lock().unwrap() == 0 && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(2),
            "synced after {took:?}"
        );
        trail.close().await;
        assert_eq!(read_ids(dir.path()), ["get"]);
    }

    #[tokio::test]
    async fn a_failed_append_is_an_error_for_the_waiter_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, fail, _) = faulty(dir.path());
        let trail = AuditTrail::start(sink);
        trail.submit(record("ok"), true).await.unwrap();
        // The metrics' gauge moves before the waiter hears.
        let gauge = trail.gauge();
        assert_eq!(gauge.sequence.load(Ordering::Relaxed), 1);
        assert_eq!(gauge.broken.load(Ordering::Relaxed), 0);
        *fail.lock().unwrap() = true;
        assert!(trail.submit(record("lost"), true).await.is_err());
        assert_eq!(gauge.broken.load(Ordering::Relaxed), 1);
        // Broken stays broken, even once the disk would take records again.
        *fail.lock().unwrap() = false;
        assert!(trail.submit(record("after"), true).await.is_err());
        trail.close().await;
        assert_eq!(read_ids(dir.path()), ["ok"]);
        // A closed trail refuses.
        assert!(trail.submit(record("closed"), true).await.is_err());
    }

    #[tokio::test]
    async fn a_change_passes_its_gate_only_once_its_intent_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, fail, syncs) = faulty(dir.path());
        let trail = AuditTrail::start(sink);
        let slot = NoteSlot::new(trail.clone(), record("put"));
        note_on(&slot, "PutObject");
        slot.announce().await;
        slot.ready().await.unwrap();
        assert!(*syncs.lock().unwrap() >= 1, "the intent was not synced");
        // Once passed, the gate answers at once (a request may commit several times).
        slot.ready().await.unwrap();

        // A trail that cannot be written closes the gate: the change must not commit.
        *fail.lock().unwrap() = true;
        let down = NoteSlot::new(trail.clone(), record("refused"));
        note_on(&down, "PutObject");
        assert!(down.ready().await.is_err());
        trail.close().await;
        let read: Vec<(Phase, String, String)> =
            coffer_audit::Reader::open(dir.path(), &[7; 32], coffer_audit::Filter::default())
                .unwrap()
                .map(|r| {
                    let r = r.unwrap().1;
                    (r.phase, r.request_id, r.operation)
                })
                .collect();
        assert_eq!(
            read,
            [(Phase::Intent, "put".to_owned(), "PutObject".to_owned())]
        );
    }

    fn note_on(slot: &NoteSlot, operation: &str) {
        let mut n = slot.0.note.lock().unwrap();
        n.operation = Some(operation.to_owned());
    }
}
