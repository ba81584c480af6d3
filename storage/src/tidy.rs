//! Tidying up after an earlier run, in the background, while the store already serves.
//!
//! A crash can leave three kinds of debris in the chunk tree: temporary files of chunk
//! writes, chunk files whose upload never committed, and the directory of a bucket whose
//! deletion committed before its files went. None of it is ever read, so nothing needs it
//! gone before the first request: start-up does not walk the chunk tree at all (at a
//! million objects that walk is seconds of `readdir` and `stat`), and this pass runs after.
//! It also counts the tree's files and bytes for [`crate::Store::chunk_stats`].
//!
//! # Why removal is safe while writers run
//!
//! - A temp file is removed only if an earlier run made it: every temp name carries the
//!   opening store's random run id (`chunk_store.rs`).
//! - A chunk file is a *candidate* if snapshot S0 (taken before the walk) has no refcount
//!   row for it. Candidates are then checked against every object version and part in S0;
//!   one that a record references is kept and reported (its refcount row is missing:
//!   `coffer fsck --repair` restores it), so a lost refcount row never costs data. The
//!   survivors go to the writer thread as a release, which removes each only if, at that
//!   moment, no writer has it registered and the *current* index has no refcount row —
//!   the same check under the same lock as every other removal (`writer.rs`). A write that
//!   began after S0 either holds a registration or has committed its refcount row.
//! - A bucket directory is removed only if a snapshot taken after its directory was listed
//!   does not know the bucket; ids are random and never reused, and a bucket's directory
//!   is made only after the bucket exists.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::chunks::chunk_id::ChunkId;
use crate::chunks::chunk_store::TreeEntry;
use crate::error::{Error, Result};
use crate::inflight::Release;
use crate::records::BucketId;
use crate::store::Shared;

/// What one pass found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Tidied {
    pub(crate) temp_files: u64,
    pub(crate) dead_buckets: u64,
    /// Unreferenced chunk files handed to the writer for removal.
    pub(crate) released: u64,
    /// Chunk files with no refcount row that a record still references (kept).
    pub(crate) kept_referenced: u64,
}

/// One pass over the chunk tree (blocking). Stops early, without error, at shutdown.
pub(crate) fn run(shared: &Arc<Shared>) -> Result<Tidied> {
    // A shipped index may still name what this one no longer does (a commit not shipped
    // before a crash): nothing goes before this start's first snapshot is shipped.
    if let Some(ship) = &shared.ship {
        ship.wait_shipped(&shared.stopping)?;
    }
    let mut done = Tidied::default();
    let live: HashSet<BucketId> = {
        let snapshot = shared.index()?.snapshot()?;
        snapshot.buckets()?.into_iter().map(|(_, b)| b.id).collect()
    };
    done.dead_buckets = remove_dead_buckets(shared, &live)?;

    let mut candidates: HashSet<(BucketId, ChunkId)> = HashSet::new();
    {
        let s0 = shared.index()?.snapshot()?;
        shared.chunks.each_file(|entry| {
            if shared.stopping.load(Ordering::Relaxed) {
                return Err(Error::ShuttingDown);
            }
            match entry {
                TreeEntry::Chunk { bucket, id, len } => {
                    shared.chunks.note_existing(len);
                    if live.contains(&bucket) && !s0.is_referenced(&bucket, &id)? {
                        candidates.insert((bucket, id));
                    }
                }
                TreeEntry::Temp { path, ours: false } => {
                    crate::chunks::chunk_store::ChunkStore::remove_temp(path)?;
                    done.temp_files += 1;
                }
                TreeEntry::Temp { ours: true, .. } | TreeEntry::Foreign => {}
            }
            Ok(())
        })?;
        if !candidates.is_empty() {
            let unreadable = keep_referenced(&s0, &mut candidates, &mut done)?;
            if unreadable {
                // References held by a record that does not decode are unknown.
                tracing::warn!(
                    kept = candidates.len(),
                    "unreferenced chunk files kept: some index records do not decode (run `coffer fsck`)"
                );
                candidates.clear();
            }
        }
    }
    if done.kept_referenced > 0 {
        tracing::warn!(
            chunks = done.kept_referenced,
            "chunk files referenced by objects have no refcount; kept (run `coffer fsck --repair`)"
        );
    }
    done.released = candidates.len() as u64;
    let mut by_bucket: std::collections::HashMap<BucketId, Vec<ChunkId>> =
        std::collections::HashMap::new();
    for (bucket, id) in candidates {
        by_bucket.entry(bucket).or_default().push(id);
    }
    for (bucket, chunks) in by_bucket {
        shared.release(Release {
            bucket,
            chunks,
            registered: false,
        });
    }
    Ok(done)
}

/// Removes the chunk directories of buckets that no longer exist; returns how many.
fn remove_dead_buckets(shared: &Shared, live: &HashSet<BucketId>) -> Result<u64> {
    let mut removed = 0;
    let dead: Vec<BucketId> = shared
        .chunks
        .bucket_dirs()?
        .into_iter()
        .filter(|b| !live.contains(b))
        .collect();
    if !dead.is_empty() {
        let current: HashSet<BucketId> = shared
            .index()?
            .snapshot()?
            .buckets()?
            .into_iter()
            .map(|(_, b)| b.id)
            .collect();
        for bucket in dead {
            if !current.contains(&bucket) {
                let mut pins = shared.pins.lock();
                if pins.is_held() {
                    // A backup may still be copying it; removed when the pin goes.
                    pins.defer_bucket(bucket);
                    continue;
                }
                drop(pins);
                shared.chunks.remove_bucket(&bucket)?;
                removed += 1;
            }
        }
    }

    Ok(removed)
}

/// Drops from `candidates` every chunk a record of `s0` references, counting them in
/// `done`; returns whether some record did not decode.
fn keep_referenced(
    s0: &crate::index::Snapshot,
    candidates: &mut HashSet<(BucketId, ChunkId)>,
    done: &mut Tidied,
) -> Result<bool> {
    let mut unreadable = false;
    s0.each_object_version(|_, bucket, record| {
        match (bucket, record) {
            (Some(bucket), Ok(record)) => {
                for chunk in &record.chunks {
                    done.kept_referenced += u64::from(candidates.remove(&(bucket, chunk.id)));
                }
            }
            _ => unreadable = true,
        }
        Ok(())
    })?;
    s0.each_part(|bucket, _, part| {
        match (bucket, part) {
            (Some(bucket), Ok(part)) => {
                for chunk in &part.chunks {
                    done.kept_referenced += u64::from(candidates.remove(&(bucket, chunk.id)));
                }
            }
            _ => unreadable = true,
        }
        Ok(())
    })?;
    Ok(unreadable)
}
