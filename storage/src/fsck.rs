//! `fsck`: checking a stopped data directory end to end, and repairing what can be repaired.
//!
//! The check walks every object version and every multipart part in one index snapshot,
//! counts the references each chunk gets, compares them with the stored refcounts, lists
//! the chunk tree to find missing and orphaned chunk files, and opens every chunk a bucket's
//! own keys can open (the seal, then the keyed id of the plaintext). Chunks of objects
//! under a customer key (SSE-C) or a KMS key (SSE-KMS) are checked for existence and
//! refcount only: their keys are not the store's to hold (a customer key is never stored;
//! a KMS key's working key is the server's KMS's), so they are counted as "not verifiable
//! here", never reported as corrupt.
//!
//! # Design
//!
//! Memory is one map entry per referenced chunk (bucket id, chunk id, two counts); records
//! and chunk files stream through one at a time.
//!
//! A report names buckets by their random id and chunks by their keyed id, never a bucket
//! name or an object key (P6): it can go to a log or a ticket as it is.
//!
//! Repair changes only what the walk proved: refcounts are set to the counted value in one
//! index transaction (the store's own `Batch`, committed durably), and only after that
//! commit are chunk files no reference names removed, so a crash in between leaves
//! unreferenced files that the next fsck (or the tidying pass after open) removes. A chunk any record
//! references is never removed, whatever its stored refcount says. If a record does not
//! decode, the references it holds are unknown, and nothing is repaired.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::chunks::chunk_id::ChunkId;
use crate::chunks::chunk_store::TreeEntry;
use crate::chunks::seal;
use crate::error::{Error, Result};
use crate::index::Table;
use crate::keys::encryption::Encryption;
use crate::keys::keyring::BucketKeys;
use crate::records::{BucketId, ChunkRef, ObjectRecord};
use crate::store::{Shared, Store};

/// Whether `fsck` only looks, or also repairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsckMode {
    /// Report; change nothing.
    Check,
    /// Report, then set refcounts to the counted values and remove orphaned chunk files and
    /// stray key shares.
    Repair,
}

/// Which kind of index record could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordKind {
    /// A current object version.
    Object,
    /// An older object version or delete marker.
    Version,
    /// A part of a multipart upload.
    Part,
    /// A chunk refcount whose key is not `bucket id ‖ chunk id`.
    Refcount,
}

/// One problem `fsck` found. Buckets are named by id, chunks by keyed id (no names, P6).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// A record references a chunk whose file is not there: the objects using it cannot be
    /// read, and there is nothing to rebuild it from.
    MissingChunk {
        /// The bucket's id.
        bucket: BucketId,
        /// The chunk.
        chunk: ChunkId,
    },
    /// A chunk file does not open under its bucket's keys: altered, truncated, or moved.
    BrokenSeal {
        /// The bucket's id.
        bucket: BucketId,
        /// The chunk.
        chunk: ChunkId,
    },
    /// A chunk opens, but its plaintext does not hash to its id.
    WrongId {
        /// The bucket's id.
        bucket: BucketId,
        /// The chunk.
        chunk: ChunkId,
    },
    /// The stored refcount differs from the references counted. Repaired.
    Refcount {
        /// The bucket's id.
        bucket: BucketId,
        /// The chunk.
        chunk: ChunkId,
        /// What the index says (0: no refcount stored).
        stored: u64,
        /// What the walk counted.
        counted: u64,
    },
    /// A chunk file no record references. Repaired (removed).
    OrphanChunk {
        /// The bucket's id (possibly a deleted bucket's).
        bucket: BucketId,
        /// The chunk.
        chunk: ChunkId,
    },
    /// A bucket's key share file is missing or damaged: none of its chunks can be opened.
    KeyShareMissing {
        /// The bucket's id.
        bucket: BucketId,
    },
    /// A bucket's wrapped key is missing or does not open under the master key.
    BucketKeyBroken {
        /// The bucket's id.
        bucket: BucketId,
    },
    /// A key share of no bucket. Repaired (removed, as opening the store would).
    StrayKeyShare {
        /// The id its file name gives.
        bucket: BucketId,
    },
    /// A file in the chunk tree or key shares that Coffer does not write there.
    UnexpectedFile,
    /// An index record that does not decode: the references it holds are unknown, so
    /// nothing is repaired while it is there.
    UnreadableRecord {
        /// Its kind.
        kind: RecordKind,
    },
}

impl Finding {
    /// Whether `--repair` fixes this one.
    pub fn repairable(&self) -> bool {
        matches!(
            self,
            Finding::Refcount { .. } | Finding::OrphanChunk { .. } | Finding::StrayKeyShare { .. }
        )
    }

    /// A short stable name for machine-readable output (`missing_chunk`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::MissingChunk { .. } => "missing_chunk",
            Finding::BrokenSeal { .. } => "broken_seal",
            Finding::WrongId { .. } => "wrong_id",
            Finding::Refcount { .. } => "refcount",
            Finding::OrphanChunk { .. } => "orphan_chunk",
            Finding::KeyShareMissing { .. } => "key_share_missing",
            Finding::BucketKeyBroken { .. } => "bucket_key_broken",
            Finding::StrayKeyShare { .. } => "stray_key_share",
            Finding::UnexpectedFile => "unexpected_file",
            Finding::UnreadableRecord { .. } => "unreadable_record",
        }
    }

    /// The bucket it concerns, if one.
    pub fn bucket(&self) -> Option<&BucketId> {
        match self {
            Finding::MissingChunk { bucket, .. }
            | Finding::BrokenSeal { bucket, .. }
            | Finding::WrongId { bucket, .. }
            | Finding::Refcount { bucket, .. }
            | Finding::OrphanChunk { bucket, .. }
            | Finding::KeyShareMissing { bucket }
            | Finding::BucketKeyBroken { bucket }
            | Finding::StrayKeyShare { bucket } => Some(bucket),
            Finding::UnexpectedFile | Finding::UnreadableRecord { .. } => None,
        }
    }

    /// The chunk it concerns, if one.
    pub fn chunk(&self) -> Option<&ChunkId> {
        match self {
            Finding::MissingChunk { chunk, .. }
            | Finding::BrokenSeal { chunk, .. }
            | Finding::WrongId { chunk, .. }
            | Finding::Refcount { chunk, .. }
            | Finding::OrphanChunk { chunk, .. } => Some(chunk),
            _ => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |bucket: &BucketId| hex::encode(bucket);
        let c = |chunk: &ChunkId| hex::encode(chunk.as_bytes());
        match self {
            Finding::MissingChunk { bucket, chunk } => write!(
                f,
                "missing chunk {} in bucket {}: referenced, but its file is gone",
                c(chunk),
                b(bucket)
            ),
            Finding::BrokenSeal { bucket, chunk } => write!(
                f,
                "corrupt chunk {} in bucket {}: its seal does not open (altered or truncated)",
                c(chunk),
                b(bucket)
            ),
            Finding::WrongId { bucket, chunk } => write!(
                f,
                "corrupt chunk {} in bucket {}: its content does not match its id",
                c(chunk),
                b(bucket)
            ),
            Finding::Refcount {
                bucket,
                chunk,
                stored,
                counted,
            } => write!(
                f,
                "wrong refcount for chunk {} in bucket {}: stored {stored}, referenced {counted} times",
                c(chunk),
                b(bucket)
            ),
            Finding::OrphanChunk { bucket, chunk } => write!(
                f,
                "orphaned chunk {} in bucket {}: no record references it",
                c(chunk),
                b(bucket)
            ),
            Finding::KeyShareMissing { bucket } => write!(
                f,
                "bucket {} has no usable key share: its chunks cannot be opened",
                b(bucket)
            ),
            Finding::BucketKeyBroken { bucket } => write!(
                f,
                "bucket {}'s wrapped key is missing or does not open: its chunks cannot be opened",
                b(bucket)
            ),
            Finding::StrayKeyShare { bucket } => {
                write!(f, "stray key share {}: no bucket has this id", b(bucket))
            }
            Finding::UnexpectedFile => write!(
                f,
                "a file Coffer did not write sits in the chunk tree or the key shares"
            ),
            Finding::UnreadableRecord { kind } => {
                write!(f, "an index record does not decode ({kind:?})")
            }
        }
    }
}

/// What `fsck` walked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FsckCounts {
    /// Buckets.
    pub buckets: u64,
    /// Current object versions.
    pub objects: u64,
    /// Older object versions (delete markers not counted).
    pub versions: u64,
    /// Parts of multipart uploads in progress.
    pub parts: u64,
    /// Versions and parts under a customer key (SSE-C): their chunks' existence and
    /// refcounts were checked, their seals cannot be without the customer's key.
    pub customer_key: u64,
    /// Versions and parts under a KMS key (SSE-KMS): checked like `customer_key`, since the
    /// KMS working keys are the server's.
    pub kms_key: u64,
    /// Distinct chunks referenced.
    pub chunks_referenced: u64,
    /// Chunks whose seal and id were verified.
    pub chunks_verified: u64,
    /// Sealed bytes read to verify them.
    pub bytes_verified: u64,
    /// Chunk files in the tree.
    pub chunk_files: u64,
    /// Temporary files left by interrupted writes (removed at the next start; harmless).
    pub temp_files: u64,
}

/// What `--repair` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Repairs {
    /// Refcounts set to the counted value.
    pub refcounts: u64,
    /// Orphaned chunk files removed.
    pub orphans_removed: u64,
    /// Stray key shares removed.
    pub shares_removed: u64,
    /// Why nothing was repaired, if so.
    pub refused: Option<&'static str>,
}

/// The outcome of [`Store::fsck`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FsckReport {
    /// Every problem found, in the order found.
    pub findings: Vec<Finding>,
    /// What was walked.
    pub counts: FsckCounts,
    /// What was repaired (`None` in [`FsckMode::Check`]).
    pub repairs: Option<Repairs>,
}

impl FsckReport {
    /// The findings still true after the repairs made (all of them after a check).
    pub fn remaining(&self) -> impl Iterator<Item = &Finding> {
        let repaired = self.repairs.is_some_and(|r| r.refused.is_none());
        self.findings
            .iter()
            .filter(move |f| !(repaired && f.repairable()))
    }

    /// Whether the directory is (now) consistent.
    pub fn is_clean(&self) -> bool {
        self.remaining().next().is_none()
    }
}

/// One referenced (or refcounted) chunk.
#[derive(Default)]
struct Refs {
    counted: u64,
    stored: u64,
    /// Some reference is under the bucket's own keys, so the chunk can be opened here.
    verifiable: bool,
    /// Its file was found in the tree.
    present: bool,
}

impl Store {
    /// Checks the whole data directory, and with [`FsckMode::Repair`] repairs refcounts,
    /// orphaned chunks and stray key shares (see the module doc of `fsck.rs`). Meant for a
    /// store opened with [`Store::open_unswept`] on a stopped directory, so that nothing
    /// else writes meanwhile and no tidying pass has hidden what a crash left.
    ///
    /// # Errors
    /// `Error::Io` or `Error::Index` if the walk itself cannot go on (what it finds wrong
    /// is in the report, not an error).
    pub async fn fsck(&self, mode: FsckMode) -> Result<FsckReport> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || check(&shared, mode))
            .await
            .map_err(Error::join)?
    }
}

/// The walk's state: the report so far and one entry per referenced chunk.
struct Walk {
    report: FsckReport,
    refs: BTreeMap<(BucketId, ChunkId), Refs>,
    /// Some record did not decode: its references are unknown.
    unreadable: bool,
}

impl Walk {
    /// Counts the references of one version or part, under `encryption` (`None`: unknown).
    fn note(&mut self, bucket: BucketId, chunks: &[ChunkRef], encryption: Option<Encryption>) {
        let verifiable = encryption == Some(Encryption::Coffer);
        match encryption {
            Some(Encryption::Customer { .. }) => self.report.counts.customer_key += 1,
            Some(Encryption::Kms { .. }) => self.report.counts.kms_key += 1,
            _ => {}
        }
        for chunk in chunks {
            let entry = self.refs.entry((bucket, chunk.id)).or_default();
            entry.counted += 1;
            entry.verifiable |= verifiable;
        }
    }

    /// Checks a body kept in its record, where the keys are ours.
    fn inline(&mut self, keys: Option<&BucketKeys>, bucket: BucketId, record: &ObjectRecord) {
        if let (Some(inline), Encryption::Coffer, Some(keys)) =
            (&record.inline, record.encryption, keys)
        {
            let (id, sealed) = (inline.id, inline.sealed.clone());
            if let Some(finding) = verify_sealed(keys, bucket, id, sealed, &mut self.report.counts)
            {
                self.report.findings.push(finding);
            }
        }
    }

    /// Chunk files: which referenced ones are there, and which are not referenced; key
    /// shares of no bucket.
    fn files(&mut self, shared: &Shared, live: &HashSet<BucketId>) -> Result<()> {
        // Chunk files: which referenced ones are there, and which are not referenced.
        shared.chunks.each_file(|entry| {
            match entry {
                TreeEntry::Chunk { bucket, id, .. } => {
                    self.report.counts.chunk_files += 1;
                    match self.refs.get_mut(&(bucket, id)) {
                        Some(refs) if refs.counted > 0 => refs.present = true,
                        _ => self
                            .report
                            .findings
                            .push(Finding::OrphanChunk { bucket, chunk: id }),
                    }
                }
                TreeEntry::Temp { .. } => self.report.counts.temp_files += 1,
                TreeEntry::Foreign => self.report.findings.push(Finding::UnexpectedFile),
            }
            Ok(())
        })?;
        for share in shared.shares.list()? {
            match share {
                Some(bucket) if !live.contains(&bucket) => {
                    self.report.findings.push(Finding::StrayKeyShare { bucket });
                }
                Some(_) => {}
                None => self.report.findings.push(Finding::UnexpectedFile),
            }
        }
        Ok(())
    }

    fn unreadable(&mut self, kind: RecordKind) {
        self.unreadable = true;
        self.report
            .findings
            .push(Finding::UnreadableRecord { kind });
    }
}

fn check(shared: &Arc<Shared>, mode: FsckMode) -> Result<FsckReport> {
    let mut walk = Walk {
        report: FsckReport::default(),
        refs: BTreeMap::new(),
        unreadable: false,
    };
    let index = shared.index()?;
    let snapshot = index.snapshot()?;

    // Bucket keys, one per bucket: a bucket whose key does not open is reported once.
    let mut keys: HashMap<BucketId, BucketKeys> = HashMap::new();
    let mut live: HashSet<BucketId> = HashSet::new();
    for (_, bucket) in snapshot.buckets()? {
        walk.report.counts.buckets += 1;
        live.insert(bucket.id);
        if let Some(finding) = bucket_keys(shared, &snapshot, bucket.id, &mut keys)? {
            walk.report.findings.push(finding);
        }
    }

    // References, from every record that holds chunks.
    snapshot.each_object_version(|table, bucket, record| {
        match (bucket, record) {
            (Some(bucket), Ok(record)) => {
                if table == Table::Objects {
                    walk.report.counts.objects += 1;
                } else {
                    walk.report.counts.versions += 1;
                }
                walk.note(bucket, &record.chunks, Some(record.encryption));
                walk.inline(keys.get(&bucket), bucket, &record);
            }
            _ if table == Table::Objects => walk.unreadable(RecordKind::Object),
            _ => walk.unreadable(RecordKind::Version),
        }
        Ok(())
    })?;
    snapshot.each_part(|bucket, encryption, part| {
        match (bucket, part) {
            (Some(bucket), Ok(part)) => {
                walk.report.counts.parts += 1;
                walk.note(bucket, &part.chunks, encryption);
            }
            _ => walk.unreadable(RecordKind::Part),
        }
        Ok(())
    })?;
    walk.report.counts.chunks_referenced = walk.refs.len() as u64;
    snapshot.each_refcount(|key, count| {
        match key {
            Some(key) => walk.refs.entry(key).or_default().stored = count,
            None => walk.unreadable(RecordKind::Refcount),
        }
        Ok(())
    })?;
    drop(snapshot);

    walk.files(shared, &live)?;

    // Per chunk: the refcount, the file, and (where the keys are ours) the seal and the id.
    let mut fixes = Vec::new();
    for (&(bucket, chunk), refs) in &walk.refs {
        if refs.stored != refs.counted {
            walk.report.findings.push(Finding::Refcount {
                bucket,
                chunk,
                stored: refs.stored,
                counted: refs.counted,
            });
            fixes.push((bucket, chunk, refs.counted));
        }
        if refs.counted == 0 {
            continue;
        }
        if !refs.present {
            walk.report
                .findings
                .push(Finding::MissingChunk { bucket, chunk });
            continue;
        }
        let Some(keys) = keys.get(&bucket).filter(|_| refs.verifiable) else {
            continue;
        };
        if let Some(finding) = verify(shared, keys, bucket, chunk, &mut walk.report.counts)? {
            walk.report.findings.push(finding);
        }
    }

    let mut report = walk.report;
    if mode == FsckMode::Repair {
        report.repairs = Some(if walk.unreadable {
            Repairs {
                refused: Some(
                    "some index records do not decode, so the references they hold are unknown",
                ),
                ..Repairs::default()
            }
        } else {
            repair(shared, &report.findings, &fixes)?
        });
    }
    Ok(report)
}

/// Opens a bucket's keys into `keys`; the finding if they do not open.
fn bucket_keys(
    shared: &Shared,
    snapshot: &crate::index::Snapshot,
    bucket: BucketId,
    keys: &mut HashMap<BucketId, BucketKeys>,
) -> Result<Option<Finding>> {
    let Some(wrapped) = snapshot.bucket_key(&bucket)? else {
        return Ok(Some(Finding::BucketKeyBroken { bucket }));
    };
    let share = match shared.shares.load(&bucket) {
        Ok(share) => share,
        // `load` says Corrupt for a missing or mis-sized share.
        Err(Error::Corrupt { .. }) => return Ok(Some(Finding::KeyShareMissing { bucket })),
        Err(e) => return Err(e),
    };
    match shared
        .keyring
        .open_bucket_key_with_share(&bucket, &wrapped, &share)
    {
        Ok(k) => {
            keys.insert(bucket, k);
            Ok(None)
        }
        Err(_) => Ok(Some(Finding::BucketKeyBroken { bucket })),
    }
}

/// Reads one chunk and checks its seal and its id.
pub(crate) fn verify(
    shared: &Shared,
    keys: &BucketKeys,
    bucket: BucketId,
    chunk: ChunkId,
    counts: &mut FsckCounts,
) -> Result<Option<Finding>> {
    let sealed = match shared.chunks.get(&bucket, &chunk) {
        Ok(sealed) => sealed,
        // Listed a moment ago; gone now means missing all the same.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Some(Finding::MissingChunk { bucket, chunk }));
        }
        Err(source) => {
            return Err(Error::Io {
                action: "read chunk file",
                source,
            });
        }
    };
    Ok(verify_sealed(keys, bucket, chunk, sealed, counts))
}

/// Checks the seal and the id of a chunk's sealed bytes, from its file or its record.
pub(crate) fn verify_sealed(
    keys: &BucketKeys,
    bucket: BucketId,
    chunk: ChunkId,
    sealed: Vec<u8>,
    counts: &mut FsckCounts,
) -> Option<Finding> {
    counts.chunks_verified += 1;
    counts.bytes_verified += sealed.len() as u64;
    match seal::open(keys, &chunk, sealed) {
        Err(_) => Some(Finding::BrokenSeal { bucket, chunk }),
        Ok(plain) if ChunkId::of(keys, &plain) != chunk => Some(Finding::WrongId { bucket, chunk }),
        Ok(_) => None,
    }
}

/// Sets refcounts in one durable commit, then removes orphaned chunk files and stray key
/// shares. The order matters: a crash after the commit leaves only unreferenced files,
/// which the next fsck or the tidying pass after open removes.
fn repair(
    shared: &Shared,
    findings: &[Finding],
    fixes: &[(BucketId, ChunkId, u64)],
) -> Result<Repairs> {
    let mut repairs = Repairs::default();
    if !fixes.is_empty() {
        let mut batch = shared.index()?.batch(true)?;
        for (bucket, chunk, count) in fixes {
            batch.set_refcount(bucket, chunk, *count)?;
        }
        batch.commit()?;
        repairs.refcounts = fixes.len() as u64;
    }
    for finding in findings {
        match finding {
            // Only files the walk found no reference to are orphans.
            Finding::OrphanChunk { bucket, chunk } => {
                shared.chunks.remove(bucket, chunk)?;
                repairs.orphans_removed += 1;
            }
            Finding::StrayKeyShare { bucket } => {
                shared.shares.remove(bucket)?;
                repairs.shares_removed += 1;
            }
            _ => {}
        }
    }
    Ok(repairs)
}
