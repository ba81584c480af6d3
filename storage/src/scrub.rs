//! The online scrub: reading every chunk a stored object version references and checking
//! its seal and keyed id, while the server serves, at a bounded rate.
//!
//! # Design
//!
//! It walks the current-object and older-version tables a page at a time, each page from
//! its own short snapshot, so no read transaction is held for the hours a large store takes
//! (a long-lived redb reader would pin every page freed meanwhile). A chunk whose file is
//! gone is reported as missing only if a fresh snapshot still holds its refcount row: the
//! object may have been deleted since its page was read. Chunks under a customer or KMS key
//! are skipped, as in `fsck`: their keys are not the store's to hold.
//!
//! Reads are paced to `bytes_per_sec` by sleeping on the scrub's own blocking thread; the
//! pass stops early at shutdown. Findings are the same [`Finding`]s `fsck` gives (one
//! verifier for both), logged with bucket and chunk ids only (P6); repairs are `fsck`'s
//! job, on a stopped directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fsck::{Finding, FsckCounts, verify, verify_sealed};
use crate::index::Table;
use crate::keys::encryption::Encryption;
use crate::records::BucketId;
use crate::store::{Shared, Store};

/// Records read per snapshot.
const PAGE: usize = 256;

/// A scrub's progress, readable while it runs (the server exports it as metrics).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ScrubProgress {
    /// Object versions in the tables when the current pass started.
    pub versions_total: AtomicU64,
    /// Object versions of the current pass read so far.
    pub versions_done: AtomicU64,
    /// Chunks verified, over every pass.
    pub chunks_verified: AtomicU64,
    /// Sealed bytes read to verify them, over every pass.
    pub bytes_verified: AtomicU64,
    /// Problems found, over every pass.
    pub findings: AtomicU64,
    /// Passes completed.
    pub passes: AtomicU64,
}

/// What one pass found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ScrubReport {
    /// Object versions read.
    pub versions: u64,
    /// Chunks verified.
    pub chunks_verified: u64,
    /// Findings, in the order met (a chunk shared by versions may be named twice).
    pub findings: Vec<Finding>,
    /// Whether the pass was cut short by shutdown.
    pub stopped: bool,
}

impl Store {
    /// One scrub pass over every stored object version, reading chunks at no more than
    /// `bytes_per_sec` (0: unpaced) and updating `progress` as it goes.
    ///
    /// # Errors
    /// `Error::Index` or `Error::Io` if the walk itself cannot go on (a bad chunk is a
    /// finding, not an error); `Error::ShuttingDown` if the store is closed.
    pub async fn scrub(
        &self,
        bytes_per_sec: u64,
        progress: Arc<ScrubProgress>,
    ) -> Result<ScrubReport> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || pass(&shared, bytes_per_sec, &progress))
            .await
            .map_err(Error::join)?
    }
}

/// Sleeps as needed so that `bytes` read since `started` stay within the rate, in short
/// naps so that shutdown is not kept waiting.
fn pace(shared: &Shared, started: Instant, bytes: u64, bytes_per_sec: u64) {
    if bytes_per_sec == 0 {
        return;
    }
    let micros = u128::from(bytes) * 1_000_000 / u128::from(bytes_per_sec);
    let due = Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX));
    while let Some(wait) = due.checked_sub(started.elapsed()) {
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(wait.min(Duration::from_millis(50)));
    }
}

fn pass(shared: &Arc<Shared>, bytes_per_sec: u64, progress: &ScrubProgress) -> Result<ScrubReport> {
    let mut report = ScrubReport::default();
    let total = {
        let snapshot = shared.index()?.snapshot()?;
        snapshot.object_versions_len(Table::Objects)?
            + snapshot.object_versions_len(Table::Versions)?
    };
    progress.versions_total.store(total, Ordering::Relaxed);
    progress.versions_done.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let mut bytes = 0u64;
    for table in [Table::Objects, Table::Versions] {
        let mut after: Option<Vec<u8>> = None;
        loop {
            if shared.stopping.load(Ordering::Relaxed) {
                report.stopped = true;
                return Ok(report);
            }
            let page =
                shared
                    .index()?
                    .snapshot()?
                    .object_versions_page(table, after.as_deref(), PAGE)?;
            progress
                .versions_done
                .fetch_add(page.seen as u64, Ordering::Relaxed);
            for (bucket, record) in page.entries {
                let (Some(bucket), Ok(record)) = (bucket, record) else {
                    // Unreadable records are fsck's to name; the scrub checks chunks.
                    continue;
                };
                report.versions += 1;
                if record.encryption != Encryption::Coffer {
                    continue;
                }
                let keys = match shared.runtime.block_on(shared.bucket_keys(&bucket)) {
                    Ok(keys) => keys,
                    // Deleted since the page was read.
                    Err(Error::NoSuchBucket) => continue,
                    Err(e) => return Err(e),
                };
                // A body kept in the record was read from this page's snapshot: no later
                // delete can explain a bad seal, so its finding stands as found.
                let inline = record.inline.map(|body| {
                    let mut counts = FsckCounts::default();
                    let finding = verify_sealed(&keys, bucket, body.id, body.sealed, &mut counts);
                    Ok((counts, finding))
                });
                let files = record.chunks.iter().map(|chunk| {
                    let mut counts = FsckCounts::default();
                    let finding = verify(shared, &keys, bucket, chunk.id, &mut counts)?;
                    Ok((counts, finding.filter(|f| still_referenced(shared, f))))
                });
                for checked in inline.into_iter().chain(files) {
                    let (counts, finding): (FsckCounts, Option<Finding>) = checked?;
                    bytes += counts.bytes_verified;
                    report.chunks_verified += counts.chunks_verified;
                    progress
                        .chunks_verified
                        .fetch_add(counts.chunks_verified, Ordering::Relaxed);
                    progress
                        .bytes_verified
                        .fetch_add(counts.bytes_verified, Ordering::Relaxed);
                    if let Some(finding) = finding {
                        tracing::warn!(%finding, "scrub: chunk check failed (run `coffer fsck` on the stopped data directory)");
                        progress.findings.fetch_add(1, Ordering::Relaxed);
                        report.findings.push(finding);
                    }
                    pace(shared, started, bytes, bytes_per_sec);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    progress.passes.fetch_add(1, Ordering::Relaxed);
    Ok(report)
}

/// Whether a finding still stands in a fresh snapshot: a chunk deleted (with its object)
/// after its page was read is no finding.
fn still_referenced(shared: &Shared, finding: &Finding) -> bool {
    let (Some(bucket), Some(chunk)) = (finding.bucket(), finding.chunk()) else {
        return true;
    };
    let bucket: BucketId = *bucket;
    shared
        .index()
        .and_then(|index| index.snapshot()?.is_referenced(&bucket, chunk))
        .unwrap_or(true)
}
