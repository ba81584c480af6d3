//! Chunks that writers have put on disk but not yet committed.
//!
//! # Design
//!
//! A PUT can find a chunk's file already present (deduplication) just as another request's
//! delete drops that chunk's last reference and unlinks the file; the PUT would then commit
//! a reference to nothing. So a writer *registers* a chunk here before it checks for or
//! writes the file, and deregisters it only after its commit (or when it gives up). The
//! deleter decides and unlinks under the same lock and skips registered chunks; a writer
//! that gives up sends a [`Release`] so files nothing references are removed after all.
//! The lock is a `std` mutex and never held across `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::chunks::chunk_id::ChunkId;
use crate::records::BucketId;
use crate::store::Shared;

/// Registered chunks and how many writers hold each.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashMap<(BucketId, ChunkId), usize>>);

impl InFlight {
    /// Locks the registry; the deleter holds this while it checks and unlinks.
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<(BucketId, ChunkId), usize>> {
        // A panic elsewhere cannot leave the map half-updated: every update is one call.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, bucket: BucketId, id: ChunkId) {
        *self.lock().entry((bucket, id)).or_insert(0) += 1;
    }
}

/// Drops one registration of each chunk.
pub(crate) fn deregister(
    map: &mut HashMap<(BucketId, ChunkId), usize>,
    bucket: BucketId,
    ids: &[ChunkId],
) {
    for id in ids {
        if let Some(count) = map.get_mut(&(bucket, *id)) {
            *count -= 1;
            if *count == 0 {
                map.remove(&(bucket, *id));
            }
        }
    }
}

/// Chunks to remove unless something references them: those of a writer that gave up, or
/// unreferenced files the tidying pass after open found (`tidy.rs`).
#[derive(Debug)]
pub(crate) struct Release {
    pub(crate) bucket: BucketId,
    pub(crate) chunks: Vec<ChunkId>,
    /// Whether the releaser holds registrations of these chunks to drop (a writer that
    /// gave up does; the tidying pass after open, handing over unreferenced files, does not).
    pub(crate) registered: bool,
}

/// One writer's registrations. Shared by its chunk tasks; when the last holder drops it
/// uncommitted, its chunks are released.
pub(crate) struct Claim {
    shared: Arc<Shared>,
    bucket: BucketId,
    chunks: Mutex<Vec<ChunkId>>,
    armed: AtomicBool,
}

impl Claim {
    pub(crate) fn new(shared: Arc<Shared>, bucket: BucketId) -> Claim {
        Claim {
            shared,
            bucket,
            chunks: Mutex::new(Vec::new()),
            armed: AtomicBool::new(true),
        }
    }

    /// Registers a chunk; call before checking for or writing its file.
    pub(crate) fn add(&self, id: ChunkId) {
        self.shared.inflight.register(self.bucket, id);
        self.chunks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
    }

    /// After a durable commit: the chunks are referenced now, drop the registrations.
    pub(crate) fn committed(&self) {
        self.armed.store(false, Ordering::Release);
        let chunks =
            std::mem::take(&mut *self.chunks.lock().unwrap_or_else(PoisonError::into_inner));
        deregister(&mut self.shared.inflight.lock(), self.bucket, &chunks);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        let chunks = std::mem::take(
            self.chunks
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if chunks.is_empty() {
            return;
        }
        self.shared.release(Release {
            bucket: self.bucket,
            chunks,
            registered: true,
        });
    }
}
