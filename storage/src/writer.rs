//! The index writer: one thread owns every redb write transaction (group commit).
//!
//! Requests arrive over a bounded channel. The thread takes everything queued, applies it
//! in one transaction and commits once, so N concurrent PUTs cost one fsync, not N. Each
//! request gets its own reply. Operations validate before they mutate, so one request's
//! logical failure does not fail the rest; if the batch itself fails (an I/O error, a
//! corrupt record), each request is retried alone so only the culprit fails.
//!
//! After a durable commit the thread deletes the chunk files whose refcount reached zero —
//! unless a writer has them registered (see [`crate::inflight`]) — and the chunk
//! directories of deleted buckets. It also handles releases from writers that gave up.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::bucket_settings::BucketSetting;
use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::index::{Batch, Effects, Index};
use crate::inflight::deregister;
use crate::ingest::StagedBody;
use crate::object::ObjectGrant;
use crate::records::{BucketId, BucketRecord, ObjectRecord};
use crate::ship::Removal;
use crate::store::Shared;
use crate::version::{
    DeleteOutcome, ObjectLockConfig, Precondition, Retention, VersionRef, Versioning,
};

/// Requests queued at most; senders wait beyond this (backpressure).
pub(crate) const QUEUE_DEPTH: usize = 1024;
/// Requests applied in one transaction at most.
const MAX_BATCH: usize = 512;
/// With relaxed durability, writes are flushed this often: the chunk tree's file system is
/// synced and one index commit is made durable (also so redb can reclaim freed pages).
/// A crash, of the process or of the machine, loses at most this much of acknowledged
/// writes, and never harms older ones.
pub(crate) const RELAXED_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A message to the writer thread.
// Moved once into the channel; boxing the big variant would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Request {
    /// An index change, answered on `reply` once committed (or refused).
    Op {
        op: Op,
        reply: oneshot::Sender<Result<Reply>>,
    },
    /// Releases are queued; come and process them.
    Wake,
    /// A clock tick (relaxed durability): flush if writes wait for it.
    Tick,
    /// Process the releases queued so far, then answer (`Store::tidied`).
    Barrier(oneshot::Sender<()>),
    /// Finish what is queued before this, then stop.
    Shutdown,
    /// A standby's change from the shipped index, answered once committed.
    Follow {
        work: Follow,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A standby's change (see `ship/`).
pub(crate) enum Follow {
    /// Replays these shipped changes; the index is then at log `seq` of `epoch`.
    Apply {
        changes: Vec<crate::index::Change>,
        epoch: u64,
        seq: u64,
    },
    /// Replaces the whole index with a shipped snapshot's.
    Replace {
        source: redb::ReadTransaction,
        epoch: u64,
        seq: u64,
    },
}

/// An index change.
pub(crate) enum Op {
    CreateBucket {
        name: String,
        record: BucketRecord,
        wrapped_key: Vec<u8>,
        object_lock: bool,
    },
    SetVersioning {
        name: String,
        state: Versioning,
    },
    SetLockConfig {
        name: String,
        config: ObjectLockConfig,
    },
    DeleteBucket {
        name: String,
    },
    /// Sets or removes one setting of the bucket that has `name` at commit time.
    SetBucketSetting {
        name: String,
        setting: BucketSetting,
        value: Option<Vec<u8>>,
    },
    PutObject {
        bucket: BucketId,
        key: String,
        record: ObjectRecord,
        cond: Option<Precondition>,
        /// Holds the chunks' registrations until the commit.
        body: Option<StagedBody>,
    },
    /// Writes a new version at `dst_key` made of the chunks of version `src_seq` of
    /// `src_key` (fails with `NoSuchKey` if that version is gone).
    LinkObject {
        bucket: BucketId,
        src_key: String,
        src_seq: u64,
        dst_key: String,
        record: ObjectRecord,
        cond: Option<Precondition>,
    },
    /// Changes one version's record in place (ACL, retention, legal hold).
    UpdateVersion {
        bucket: BucketId,
        key: String,
        version: Option<VersionRef>,
        change: VersionChange,
    },
    DeleteObjects {
        bucket: BucketId,
        targets: Vec<DeleteTarget>,
        bypass_governance: bool,
    },
    PutSealed {
        name: String,
        sealed: Vec<u8>,
    },
    /// Nothing; answered once everything queued before it is done.
    Barrier,
    /// A multipart-upload change (see `multipart.rs`).
    Multipart(crate::multipart::MultipartOp),
}

/// What [`Op::UpdateVersion`] changes.
pub(crate) enum VersionChange {
    Grants(Vec<ObjectGrant>),
    Tags(Vec<(String, String)>),
    Retention {
        retention: Option<Retention>,
        bypass_governance: bool,
    },
    LegalHold(bool),
}

/// One key (or version) of [`Op::DeleteObjects`].
#[derive(Clone, Debug)]
pub(crate) struct DeleteTarget {
    pub(crate) key: String,
    pub(crate) version: Option<VersionRef>,
    pub(crate) cond: Option<Precondition>,
}

/// The answer to an [`Op`].
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    Done,
    /// A version, the bucket's versioning state, and whether it is the key's current one.
    Object(ObjectRecord, Versioning, bool),
    Deleted(Vec<Result<DeleteOutcome>>),
    Count(u64),
}

struct Pending {
    op: Op,
    reply: oneshot::Sender<Result<Reply>>,
    outcome: Option<Result<Reply>>,
}

/// Starts the writer thread.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    index: Arc<Index>,
    rx: mpsc::Receiver<Request>,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("coffer-index-writer".into())
        .spawn(move || run(&shared, &index, rx))
        .map_err(Error::io("start index writer thread"))
}

/// Relaxed durability's state: when the writes were last flushed, and whether any were
/// acknowledged since.
struct Relaxed {
    flushed: std::time::Instant,
    dirty: bool,
}

impl Relaxed {
    fn due(&self) -> bool {
        self.flushed.elapsed() >= RELAXED_FLUSH_EVERY
    }

    /// Makes every acknowledged write durable: chunk files by one `syncfs`, then the index
    /// by a durable commit (which covers the relaxed commits before it). The chunks of
    /// every committed record were written before their request reached this thread.
    fn flush(&mut self, shared: &Shared, index: &Index, then: Option<&mut [Pending]>) {
        if index.is_on_disk()
            && let Err(e) = shared.chunks.sync_all()
        {
            // Not durable yet: keep the commit relaxed and try again at the next tick.
            tracing::warn!(error = %e, "relaxed durability: could not flush chunk files");
            if let Some(pending) = then {
                execute(shared, index, pending, false);
            }
            return;
        }
        match then {
            Some(pending) => execute(shared, index, pending, true),
            None => {
                if let Err(e) = index.batch(true).and_then(Batch::commit) {
                    tracing::warn!(error = %e, "relaxed durability: flush commit failed");
                    return;
                }
            }
        }
        self.flushed = std::time::Instant::now();
        self.dirty = false;
    }
}

fn run(shared: &Shared, index: &Index, mut rx: mpsc::Receiver<Request>) {
    let mut relaxed = (!index.is_durable()).then(|| Relaxed {
        flushed: std::time::Instant::now(),
        dirty: false,
    });
    let mut stop = false;
    while !stop {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut pending = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::Op { op, reply } => pending.push(Pending {
                    op,
                    reply,
                    outcome: None,
                }),
                Request::Wake | Request::Tick => {}
                Request::Barrier(reply) => {
                    process_releases(shared, index);
                    let _ = reply.send(());
                }
                Request::Shutdown => {
                    stop = true;
                    break;
                }
                Request::Follow { work, reply } => {
                    let _ = reply.send(follow(index, work));
                }
            }
            if pending.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        // Releases queued before a request are handled before it is answered.
        process_releases(shared, index);
        // A standby, a fenced primary or a lapsed lease: nothing may be committed (a
        // barrier changes nothing, and still waits for what is queued before it).
        if let Some(Err(e)) = shared.ship.as_ref().map(|ship| ship.gate.check())
            && !pending.is_empty()
        {
            let why = match &e {
                Error::NotWriter { why } => *why,
                _ => "its chunk store's lease is not held",
            };
            let (barriers, refused): (Vec<_>, Vec<_>) = std::mem::take(&mut pending)
                .into_iter()
                .partition(|p| matches!(p.op, Op::Barrier));
            for p in refused {
                let _ = p.reply.send(Err(Error::NotWriter { why }));
            }
            pending = barriers;
        }
        if !pending.is_empty() {
            match relaxed.as_mut() {
                Some(r) if r.due() => r.flush(shared, index, Some(&mut pending)),
                Some(r) => {
                    r.dirty = true;
                    execute(shared, index, &mut pending, false);
                }
                None => execute(shared, index, &mut pending, false),
            }
            for p in pending {
                let outcome = p.outcome.unwrap_or(Err(Error::ShuttingDown));
                let _ = p.reply.send(outcome);
            }
        }
        // Idle after relaxed writes: the tick makes them durable within the interval.
        if let Some(r) = relaxed.as_mut()
            && r.dirty
            && r.due()
        {
            r.flush(shared, index, None);
        }
        process_releases(shared, index);
    }
    // Make relaxed writes durable before the index closes.
    match relaxed.as_mut() {
        Some(r) => r.flush(shared, index, None),
        None => {
            if let Err(e) = index.batch(true).and_then(Batch::commit) {
                tracing::warn!(error = %e, "final index commit failed");
            }
        }
    }
    process_releases(shared, index);
    tracing::debug!("index writer stopped");
}

/// Commits a standby's change from the shipped index.
fn follow(index: &Index, work: Follow) -> Result<()> {
    let mut batch = index.batch(true)?;
    let (epoch, seq) = match work {
        Follow::Apply {
            changes,
            epoch,
            seq,
        } => {
            batch.replay(&changes)?;
            (epoch, seq)
        }
        Follow::Replace { source, epoch, seq } => {
            batch.replace_all(&source)?;
            (epoch, seq)
        }
    };
    batch.set_ship_position(epoch, seq)?;
    batch.commit().map(drop)
}

fn execute(shared: &Shared, index: &Index, pending: &mut [Pending], force_durable: bool) {
    shared.commits.note(pending.len());
    match run_batch(index, pending, force_durable) {
        Ok(effects) => after_commit(shared, effects, pending),
        Err(e) if pending.len() == 1 => pending[0].outcome = Some(Err(e)),
        Err(e) => {
            tracing::debug!(error = %e, requests = pending.len(), "batch failed; retrying one by one");
            for p in pending.iter_mut() {
                let one = std::slice::from_mut(p);
                match run_batch(index, one, force_durable) {
                    Ok(effects) => after_commit(shared, effects, one),
                    Err(e) => one[0].outcome = Some(Err(e)),
                }
            }
        }
    }
}

/// Whether an error is a request's own logical failure, which leaves the transaction
/// untouched (every operation validates before it mutates).
fn is_logical(e: &Error) -> bool {
    matches!(
        e,
        Error::NoSuchBucket
            | Error::NoSuchKey
            | Error::BucketAlreadyExists { .. }
            | Error::BucketNotEmpty
            | Error::NoSuchUpload
            | Error::InvalidPart
            | Error::InvalidPartOrder
            | Error::EntityTooSmall
            | Error::NoSuchVersion
            | Error::InvalidVersionId
            | Error::DeleteMarker { .. }
            | Error::PreconditionFailed
            | Error::ObjectLocked
            | Error::ObjectLockNotEnabled
            | Error::InvalidBucketState
    )
}

fn run_batch(index: &Index, pending: &mut [Pending], force_durable: bool) -> Result<Effects> {
    let mut batch = index.batch(force_durable)?;
    for p in pending.iter_mut() {
        let outcome = apply(&mut batch, &p.op);
        if let Err(e) = outcome {
            if !is_logical(&e) {
                return Err(e);
            }
            p.outcome = Some(Err(e));
        } else {
            p.outcome = Some(outcome);
        }
    }
    batch.commit()
}

fn apply(batch: &mut Batch, op: &Op) -> Result<Reply> {
    match op {
        Op::CreateBucket {
            name,
            record,
            wrapped_key,
            object_lock,
        } => batch
            .create_bucket(name, record, wrapped_key, *object_lock)
            .map(|()| Reply::Done),
        Op::DeleteBucket { name } => batch.delete_bucket(name).map(|()| Reply::Done),
        Op::SetBucketSetting {
            name,
            setting,
            value,
        } => batch
            .set_bucket_setting(name, setting.tag(), value.as_deref())
            .map(|()| Reply::Done),
        Op::SetVersioning { name, state } => {
            batch.set_versioning(name, *state).map(|()| Reply::Done)
        }
        Op::SetLockConfig { name, config } => {
            batch.set_lock_config(name, config).map(|()| Reply::Done)
        }
        Op::PutObject {
            bucket,
            key,
            record,
            cond,
            ..
        } => {
            let record = batch.put_version(bucket, key, record.clone(), cond.as_ref())?;
            Ok(Reply::Object(record, batch.versioning(bucket)?, true))
        }
        Op::LinkObject {
            bucket,
            src_key,
            src_seq,
            dst_key,
            record,
            cond,
        } => {
            let record = batch.link_object(
                bucket,
                src_key,
                *src_seq,
                dst_key,
                record.clone(),
                cond.as_ref(),
            )?;
            Ok(Reply::Object(record, batch.versioning(bucket)?, true))
        }
        Op::UpdateVersion {
            bucket,
            key,
            version,
            change,
        } => {
            let (record, is_current) = match change {
                VersionChange::Grants(grants) => {
                    batch.update_version(bucket, key, *version, &mut |record| {
                        record.meta.grants.clone_from(grants);
                        Ok(())
                    })
                }
                // Tags may change under a retention or legal hold: they are not the data.
                VersionChange::Tags(tags) => {
                    batch.update_version(bucket, key, *version, &mut |record| {
                        record.meta.tags.clone_from(tags);
                        Ok(())
                    })
                }
                VersionChange::Retention {
                    retention,
                    bypass_governance,
                } => batch.set_retention(bucket, key, *version, *retention, *bypass_governance),
                VersionChange::LegalHold(on) => batch.set_legal_hold(bucket, key, *version, *on),
            }?;
            Ok(Reply::Object(record, batch.versioning(bucket)?, is_current))
        }
        Op::DeleteObjects {
            bucket,
            targets,
            bypass_governance,
        } => {
            let mut outcomes = Vec::with_capacity(targets.len());
            for t in targets {
                let outcome = match t.version {
                    None => batch.delete_current(bucket, &t.key, t.cond.as_ref()),
                    Some(v) => batch.delete_version(bucket, &t.key, v, *bypass_governance),
                };
                // A key's own refusal (locked, precondition) changed nothing; an index
                // failure fails the batch.
                match outcome {
                    Err(e) if !is_logical(&e) => return Err(e),
                    other => outcomes.push(other),
                }
            }
            Ok(Reply::Deleted(outcomes))
        }
        Op::PutSealed { name, sealed } => batch.put_sealed(name, sealed).map(|()| Reply::Done),
        Op::Barrier => Ok(Reply::Done),
        Op::Multipart(op) => op.apply(batch),
    }
}

fn after_commit(shared: &Shared, mut effects: Effects, pending: &mut [Pending]) {
    let commit = shared
        .ship
        .as_ref()
        .map(|ship| ship.note_commit(std::mem::take(&mut effects.changes)));
    // Committed bodies' chunks are referenced now: their registrations can go.
    for p in pending.iter() {
        if let (
            Op::PutObject {
                body: Some(body), ..
            },
            Some(Ok(_)),
        ) = (&p.op, &p.outcome)
        {
            body.committed();
        }
        if let (Op::Multipart(op), Some(Ok(_))) = (&p.op, &p.outcome) {
            op.committed();
        }
    }
    if let (Some(ship), Some(commit)) = (shared.ship.as_ref(), commit) {
        // Removed once this commit is shipped: no shipped state may name a missing chunk.
        for (bucket, id) in &effects.unreferenced {
            ship.defer(commit, Removal::Chunk(*bucket, *id));
        }
        for bucket in &effects.dropped_buckets {
            shared.forget_bucket_keys(bucket);
            ship.defer(commit, Removal::Bucket(*bucket));
        }
        if ship.config.each_commit
            && let Err(e) = shared.index().and_then(|index| ship.ship(&index))
        {
            // Committed here but not shipped: the client hears it failed (it may retry),
            // and the changes go with the next shipment.
            tracing::warn!(error = %e, "could not ship a commit before acknowledging it");
            for p in pending.iter_mut() {
                if matches!(p.outcome, Some(Ok(_))) {
                    p.outcome = Some(Err(Error::Remote {
                        action: "ship the index",
                        source: std::io::Error::other(e.to_string()),
                    }));
                }
            }
        }
        return;
    }
    remove_unreferenced(shared, &effects.unreferenced);
    for bucket in &effects.dropped_buckets {
        shared.forget_bucket_keys(bucket);
        let mut pins = shared.pins.lock();
        if pins.is_held() {
            // A backup may still copy its share and chunks; removed when the pin goes.
            pins.defer_bucket(*bucket);
            continue;
        }
        drop(pins);
        remove_bucket_files(shared, bucket);
    }
}

/// Removes a deleted bucket's key share and chunk directory.
fn remove_bucket_files(shared: &Shared, bucket: &BucketId) {
    // Crypto-shredding: without its share, the bucket key opens nothing.
    if let Err(e) = shared.shares.remove(bucket) {
        tracing::warn!(error = %e, "could not remove a deleted bucket's key share; the next start sweeps it");
    }
    if let Err(e) = shared.chunks.remove_bucket(bucket) {
        tracing::warn!(error = %e, "could not remove a deleted bucket's chunks; the pass after the next start removes them");
    }
}

/// Unlinks chunk files no object references, skipping chunks a writer has registered. The
/// registry stays locked throughout, so no writer can find a file that is about to go.
fn remove_unreferenced(shared: &Shared, chunks: &[(BucketId, ChunkId)]) {
    if chunks.is_empty() {
        return;
    }
    let mut pins = shared.pins.lock();
    let registry = shared.inflight.lock();
    for (bucket, id) in chunks {
        if registry.contains_key(&(*bucket, *id)) {
            continue;
        }
        if pins.is_held() {
            pins.defer_chunk(*bucket, *id);
            continue;
        }
        if let Err(e) = shared.chunks.remove(bucket, id) {
            tracing::warn!(error = %e, chunk = ?id, "could not remove an unreferenced chunk");
        }
    }
}

/// Handles releases from writers that gave up: their chunks that no object references and
/// no other writer holds are removed.
/// Also does the removals a backup's pin held back, once no pin is held.
fn process_releases(shared: &Shared, index: &Index) {
    let mut pins = shared.pins.lock();
    let mut due = pins.take_due();
    if !pins.is_held()
        && let Some(ship) = shared.ship.as_ref()
    {
        for removal in ship.take_due() {
            match removal {
                Removal::Chunk(bucket, id) => due.chunks.push((bucket, id)),
                Removal::Bucket(bucket) => due.buckets.push(bucket),
            }
        }
    }
    let releases = shared.take_releases();
    if releases.is_empty() && due.is_empty() {
        return;
    }
    // Commits happen only on this thread, so this snapshot is current.
    let snapshot = match index.snapshot() {
        Ok(snapshot) => snapshot,
        Err(e) => {
            tracing::warn!(error = %e, "could not process chunk releases; the pass after the next start removes them");
            return;
        }
    };
    let mut registry = shared.inflight.lock();
    for release in releases {
        if release.registered {
            deregister(&mut registry, release.bucket, &release.chunks);
        }
        for id in &release.chunks {
            if registry.contains_key(&(release.bucket, *id)) {
                continue;
            }
            match snapshot.is_referenced(&release.bucket, id) {
                Ok(true) => {}
                Ok(false) if pins.is_held() => pins.defer_chunk(release.bucket, *id),
                Ok(false) => {
                    if let Err(e) = shared.chunks.remove(&release.bucket, id) {
                        tracing::warn!(error = %e, chunk = ?id, "could not remove a released chunk");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not check a released chunk"),
            }
        }
    }
    // Held back by a backup: removed only if still unreferenced now, as a release is.
    for (bucket, id) in &due.chunks {
        if registry.contains_key(&(*bucket, *id)) {
            continue;
        }
        match snapshot.is_referenced(bucket, id) {
            Ok(true) => {}
            Ok(false) => {
                if let Err(e) = shared.chunks.remove(bucket, id) {
                    tracing::warn!(error = %e, chunk = ?id, "could not remove an unreferenced chunk");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not check an unreferenced chunk"),
        }
    }
    drop(registry);
    drop(pins);
    for bucket in &due.buckets {
        remove_bucket_files(shared, bucket);
    }
}
