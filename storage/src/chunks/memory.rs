//! Sealed chunks kept in memory, for a store with no files at all (`coffer serve
//! --in-memory`): the bytes a chunk file would hold, under the same keys, so sealing,
//! deduplication, refcounts and removal run exactly as on disk.
//!
//! # Budget
//!
//! [`MemoryBudget`] bounds what the store keeps: sealed chunk bytes plus the in-memory
//! index's size (redb's pages, which hold inline bodies, keys and metadata). A chunk that
//! would cross it is refused with `Error::MemoryFull` under the map's lock, so chunks alone
//! never exceed it; the index can only pass it by what the writes already admitted add
//! (each new object writer checks for room first, see [`crate::store::Shared`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;

use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::records::BucketId;

/// How many bytes an in-memory store may hold, and the index's share of them now.
#[derive(Clone, Debug)]
pub(crate) struct MemoryBudget {
    max_bytes: u64,
    /// The in-memory index's current length (see `index/memory_backend.rs`).
    index_bytes: Arc<AtomicU64>,
}

impl MemoryBudget {
    pub(crate) fn new(max_bytes: u64, index_bytes: Arc<AtomicU64>) -> MemoryBudget {
        MemoryBudget {
            max_bytes,
            index_bytes,
        }
    }

    /// Whether `chunk_bytes` of chunks plus the index plus `more` fit.
    fn fits(&self, chunk_bytes: u64, more: u64) -> Result<()> {
        let used = chunk_bytes.saturating_add(self.index_bytes.load(Ordering::Relaxed));
        if used.saturating_add(more) > self.max_bytes {
            return Err(Error::MemoryFull {
                max_bytes: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// The chunk map.
#[derive(Debug)]
pub(crate) struct MemoryChunks {
    map: RwLock<HashMap<(BucketId, ChunkId), Bytes>>,
    budget: MemoryBudget,
}

impl MemoryChunks {
    pub(crate) fn new(budget: MemoryBudget) -> MemoryChunks {
        MemoryChunks {
            map: RwLock::new(HashMap::new()),
            budget,
        }
    }

    /// Refuses `more` bytes past the budget, given `chunk_bytes` held now.
    pub(crate) fn check_room(&self, chunk_bytes: u64, more: u64) -> Result<()> {
        self.budget.fits(chunk_bytes, more)
    }

    pub(crate) fn contains(&self, bucket: &BucketId, id: &ChunkId) -> bool {
        self.read().contains_key(&(*bucket, *id))
    }

    pub(crate) fn len_of(&self, bucket: &BucketId, id: &ChunkId) -> Option<u64> {
        self.read()
            .get(&(*bucket, *id))
            .map(|sealed| sealed.len() as u64)
    }

    /// Stores a copy of `sealed` if it fits beside `chunk_bytes` already held; `false`
    /// when the chunk was there already (a concurrent identical write).
    pub(crate) fn insert(
        &self,
        bucket: &BucketId,
        id: &ChunkId,
        sealed: &[u8],
        chunk_bytes: u64,
    ) -> Result<bool> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.contains_key(&(*bucket, *id)) {
            return Ok(false);
        }
        self.budget.fits(chunk_bytes, sealed.len() as u64)?;
        map.insert((*bucket, *id), Bytes::copy_from_slice(sealed));
        Ok(true)
    }

    /// Copies a chunk into `out` (cleared by the caller).
    pub(crate) fn get_into(
        &self,
        bucket: &BucketId,
        id: &ChunkId,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        // Cloned out (a reference count), so the copy runs without the lock.
        let sealed = self
            .read()
            .get(&(*bucket, *id))
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        out.try_reserve_exact(sealed.len())?;
        out.extend_from_slice(&sealed);
        Ok(())
    }

    /// Removes a chunk; its size if it was there.
    pub(crate) fn remove(&self, bucket: &BucketId, id: &ChunkId) -> Option<u64> {
        self.write()
            .remove(&(*bucket, *id))
            .map(|sealed| sealed.len() as u64)
    }

    /// Removes every chunk of `bucket`: how many, and their size.
    pub(crate) fn remove_bucket(&self, bucket: &BucketId) -> (u64, u64) {
        let (mut files, mut bytes) = (0, 0);
        self.write().retain(|(b, _), sealed| {
            let other = b != bucket;
            if !other {
                files += 1;
                bytes += sealed.len() as u64;
            }
            other
        });
        (files, bytes)
    }

    /// The buckets that hold chunks.
    pub(crate) fn buckets(&self) -> Vec<BucketId> {
        let mut out: Vec<BucketId> = self.read().keys().map(|(b, _)| *b).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every chunk: bucket, id, size (a copy of the keys, so callers may remove).
    pub(crate) fn list(&self) -> Vec<(BucketId, ChunkId, u64)> {
        self.read()
            .iter()
            .map(|((b, id), sealed)| (*b, *id, sealed.len() as u64))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(BucketId, ChunkId), Bytes>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(BucketId, ChunkId), Bytes>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}
