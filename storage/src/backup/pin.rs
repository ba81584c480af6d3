//! Holding back chunk and key-share removals while a backup copies a snapshot.
//!
//! The index writer removes a chunk file once a commit drops its last reference, and a
//! bucket's key share and chunk directory once the bucket is deleted. A backup copies the
//! chunks and shares one snapshot references, after the snapshot was taken; a removal in
//! between would leave the backup's index naming a file it does not have. So while a
//! [`Pin`] is held, those removals are queued here instead, and the writer thread does them
//! once the last pin goes, re-checking each chunk against its current snapshot and the
//! in-flight registry (a new PUT may have come to reference it again meanwhile).
//!
//! Lock order: this lock before the in-flight registry.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::chunks::chunk_id::ChunkId;
use crate::records::BucketId;
use crate::store::Shared;

/// The pins held and the removals they hold back.
#[derive(Debug, Default)]
pub(crate) struct Pins(Mutex<Held>);

/// The state behind [`Pins`]' lock.
#[derive(Debug, Default)]
pub(crate) struct Held {
    count: usize,
    chunks: Vec<(BucketId, ChunkId)>,
    buckets: Vec<BucketId>,
}

/// Removals that were held back and may happen now.
#[derive(Debug, Default)]
pub(crate) struct Due {
    /// Chunks whose last reference went while pinned: remove each that is still
    /// unreferenced and not registered by a writer.
    pub(crate) chunks: Vec<(BucketId, ChunkId)>,
    /// Buckets deleted while pinned: remove their key shares and chunk directories.
    pub(crate) buckets: Vec<BucketId>,
}

impl Pins {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Held> {
        // Every update is one call, so a panic elsewhere cannot leave it half-done.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Held {
    /// Whether a backup holds a pin: removals must be deferred.
    pub(crate) fn is_held(&self) -> bool {
        self.count > 0
    }

    fn has_deferred(&self) -> bool {
        !(self.chunks.is_empty() && self.buckets.is_empty())
    }

    pub(crate) fn defer_chunk(&mut self, bucket: BucketId, id: ChunkId) {
        self.chunks.push((bucket, id));
    }

    pub(crate) fn defer_bucket(&mut self, bucket: BucketId) {
        self.buckets.push(bucket);
    }

    /// What was held back, once no pin is held any more; empty while one is.
    pub(crate) fn take_due(&mut self) -> Due {
        if self.is_held() {
            return Due::default();
        }
        Due {
            chunks: std::mem::take(&mut self.chunks),
            buckets: std::mem::take(&mut self.buckets),
        }
    }
}

impl Due {
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.buckets.is_empty()
    }
}

/// One backup's pin: removals wait until it is dropped.
pub(crate) struct Pin {
    shared: Arc<Shared>,
}

impl Pin {
    /// Takes a pin. Take it *before* the snapshot the backup copies: a removal decided
    /// after the pin is deferred, and one decided before it concerns a chunk that the
    /// snapshot (taken later, after the commit that unreferenced it) does not reference.
    pub(crate) fn hold(shared: &Arc<Shared>) -> Pin {
        shared.pins.lock().count += 1;
        Pin {
            shared: shared.clone(),
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut held = self.shared.pins.lock();
        held.count -= 1;
        let due = !held.is_held() && held.has_deferred();
        drop(held);
        if due {
            // The writer thread does the removals: only there is its snapshot current.
            self.shared.wake_writer();
        }
    }
}
