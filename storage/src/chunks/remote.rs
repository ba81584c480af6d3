//! Sealed chunks kept in a remote object store (an S3 bucket on AWS, Ceph RGW, Garage…),
//! with a bounded cache of recently used ones in memory.
//!
//! The remote sees only what the chunk tree on disk would: sealed bytes under names made of
//! a random bucket id and a keyed chunk id (`<bucket id hex>/<chunk id hex>`, which the
//! remote's implementation puts under its own prefix). No object key, bucket name or
//! metadata ever leaves the machine, and without the key a name says nothing about content.
//!
//! The remote's client lives outside this crate (the server's `coffer-remote`): storage
//! only needs the blocking calls of [`RemoteChunks`], made from the blocking threads that
//! already do the sealing and the file I/O.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::chunks::chunk_id::ChunkId;
use crate::records::BucketId;

/// A remote object store holding sealed chunks under plain names (see the module docs),
/// and the shipped index beside them (`ship/`).
///
/// Every call blocks until the remote has answered, or its implementation's deadline has
/// passed. A successful [`RemoteChunks::put`] means the chunk is durable remotely.
pub trait RemoteChunks: Send + Sync + fmt::Debug {
    /// Stores `sealed` under `name`, unless an object of that name is there already (then
    /// it is left as it is: a chunk's name is its content's keyed hash).
    ///
    /// # Errors
    /// The remote refused, or did not answer within the deadline.
    fn put(&self, name: &str, sealed: &[u8]) -> std::io::Result<()>;

    /// The object `name`, or `None` if there is none.
    ///
    /// # Errors
    /// As [`RemoteChunks::put`].
    fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>>;

    /// The size of object `name`, or `None` if there is none.
    ///
    /// # Errors
    /// As [`RemoteChunks::put`].
    fn size(&self, name: &str) -> std::io::Result<Option<u64>>;

    /// Deletes object `name`; a missing one is not an error.
    ///
    /// # Errors
    /// As [`RemoteChunks::put`].
    fn delete(&self, name: &str) -> std::io::Result<()>;

    /// Whether the remote answers now: one small request, bounded by a short timeout (it
    /// backs the readiness probe).
    ///
    /// # Errors
    /// What the remote answered, or that it did not.
    fn probe(&self) -> std::io::Result<()>;

    /// Every object whose name starts with `prefix` (`""`: all of them), with its size.
    ///
    /// # Errors
    /// As [`RemoteChunks::put`].
    fn list(&self, prefix: &str) -> std::io::Result<Vec<(String, u64)>>;

    /// Writes `bytes` under `name` if `when` holds there: `Some(())`, or `None` if an
    /// object was there and `when` is [`When::Absent`] (HTTP 412).
    ///
    /// # Errors
    /// As [`RemoteChunks::put`].
    fn put_when(&self, name: &str, bytes: &[u8], when: When) -> std::io::Result<Option<()>>;
}

/// The condition of [`RemoteChunks::put_when`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Always (an unconditional write).
    Always,
    /// No object of that name exists (`If-None-Match: *`, a create-only write).
    Absent,
}

/// A remote chunk store and the memory its cache may use.
#[derive(Clone, Debug)]
pub struct RemoteChunkStore {
    /// The remote.
    pub remote: Arc<dyn RemoteChunks>,
    /// Sealed chunks kept in memory for reads, in bytes (0: none).
    pub cache_bytes: u64,
    /// How the index is shipped beside the chunks; `None`: it is not.
    pub ship: Option<crate::ship::Shipping>,
}

impl PartialEq for RemoteChunkStore {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.remote, &other.remote)
            && self.cache_bytes == other.cache_bytes
            && self.ship == other.ship
    }
}

impl Eq for RemoteChunkStore {}

/// The remote name of a chunk.
pub(crate) fn name_of(bucket: &BucketId, id: &ChunkId) -> String {
    format!("{}/{}", hex::encode(bucket), id.to_hex())
}

/// The remote name prefix of a bucket's chunks.
pub(crate) fn bucket_prefix(bucket: &BucketId) -> String {
    format!("{}/", hex::encode(bucket))
}

/// Whether a remote name is the shipped index's (`ship/layout.rs`), not a chunk.
pub(crate) fn is_shipped_index(name: &str) -> bool {
    name.starts_with(crate::ship::SHIPPED_PREFIX)
}

/// The bucket and chunk a remote name stands for; `None` for a name this store does not
/// write.
pub(crate) fn parse_name(name: &str) -> Option<(BucketId, ChunkId)> {
    let (bucket, id) = name.split_once('/')?;
    let bucket: BucketId = decode_hex(bucket)?;
    let id: [u8; 32] = decode_hex(id)?;
    Some((bucket, ChunkId(id)))
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Lower-case only: the names written here.
    if text.len() != N * 2 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// How long removals are skipped after one failed on the remote.
pub(crate) const BREAKER_OPEN_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Remembers that the remote just failed, so that the removals that follow (on the index
/// writer's thread) fail at once instead of each waiting out the remote's deadline.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    open_until: Mutex<Option<std::time::Instant>>,
}

impl Breaker {
    /// `Err` while open (a failure less than [`BREAKER_OPEN_FOR`] ago).
    pub(crate) fn check(&self) -> crate::error::Result<()> {
        let open = self
            .open_until
            .lock()
            .is_ok_and(|until| until.is_some_and(|t| std::time::Instant::now() < t));
        if open {
            return Err(crate::error::Error::Remote {
                action: "remove a chunk",
                source: std::io::Error::other("skipped: the remote failed moments ago"),
            });
        }
        Ok(())
    }

    /// Opens the breaker; the error of `action`, for `map_err`.
    pub(crate) fn tripped(
        &self,
        action: &'static str,
        source: std::io::Error,
    ) -> crate::error::Error {
        if let Ok(mut until) = self.open_until.lock() {
            *until = Some(std::time::Instant::now() + BREAKER_OPEN_FOR);
        }
        crate::error::Error::remote(action)(source)
    }
}

/// Recently stored or read sealed chunks, in memory, oldest first out once over budget.
#[derive(Debug)]
pub(crate) struct ChunkCache {
    budget: u64,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    chunks: HashMap<(BucketId, ChunkId), Arc<[u8]>>,
    /// Insertion order; entries already removed are skipped when met.
    order: VecDeque<(BucketId, ChunkId)>,
    bytes: u64,
}

impl CacheInner {
    /// Keys removed (or re-inserted) stay in `order` until met; once they outnumber the
    /// cached chunks, keep only each cached key's latest place.
    fn compact(&mut self) {
        if self.order.len() <= 2 * self.chunks.len() + 64 {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<(BucketId, ChunkId)> = self
            .order
            .iter()
            .rev()
            .filter(|k| self.chunks.contains_key(*k) && seen.insert(**k))
            .copied()
            .collect();
        kept.reverse();
        self.order = kept.into();
    }
}

impl ChunkCache {
    pub(crate) fn new(budget: u64) -> ChunkCache {
        ChunkCache {
            budget,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// Copies the cached chunk into `out`; false on a miss.
    pub(crate) fn read_into(&self, bucket: &BucketId, id: &ChunkId, out: &mut Vec<u8>) -> bool {
        let Ok(inner) = self.inner.lock() else {
            return false;
        };
        match inner.chunks.get(&(*bucket, *id)) {
            Some(sealed) => {
                out.extend_from_slice(sealed);
                true
            }
            None => false,
        }
    }

    pub(crate) fn contains(&self, bucket: &BucketId, id: &ChunkId) -> bool {
        self.inner
            .lock()
            .is_ok_and(|inner| inner.chunks.contains_key(&(*bucket, *id)))
    }

    /// Keeps `sealed`, dropping the oldest entries to stay within budget. A chunk larger
    /// than the whole budget is not kept.
    pub(crate) fn insert(&self, bucket: &BucketId, id: &ChunkId, sealed: &[u8]) {
        let len = sealed.len() as u64;
        if len > self.budget {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let key = (*bucket, *id);
        if inner.chunks.contains_key(&key) {
            return;
        }
        while inner.bytes + len > self.budget {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.chunks.remove(&oldest) {
                inner.bytes -= gone.len() as u64;
            }
        }
        inner.chunks.insert(key, Arc::from(sealed));
        inner.order.push_back(key);
        inner.bytes += len;
        inner.compact();
    }

    pub(crate) fn remove(&self, bucket: &BucketId, id: &ChunkId) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(gone) = inner.chunks.remove(&(*bucket, *id))
        {
            inner.bytes -= gone.len() as u64;
            inner.compact();
        }
    }

    pub(crate) fn remove_bucket(&self, bucket: &BucketId) {
        if let Ok(mut inner) = self.inner.lock() {
            let CacheInner { chunks, bytes, .. } = &mut *inner;
            chunks.retain(|(b, _), sealed| {
                let keep = b != bucket;
                if !keep {
                    *bytes -= sealed.len() as u64;
                }
                keep
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        let bucket = [0xab; 16];
        let id = ChunkId([0x01; 32]);
        let name = name_of(&bucket, &id);
        assert_eq!(parse_name(&name), Some((bucket, id)));
        assert!(name.starts_with(&bucket_prefix(&bucket)));
        for other in [
            "",
            "abc",
            &name.to_uppercase(),
            &format!("{name}/x"),
            &name[1..],
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn a_failure_opens_the_breaker_for_a_while() {
        let breaker = Breaker::default();
        assert!(breaker.check().is_ok());
        let err = breaker.tripped("remove a chunk", std::io::Error::other("down"));
        assert!(matches!(err, crate::error::Error::Remote { .. }));
        assert!(breaker.check().is_err());
        *breaker.open_until.lock().unwrap() = Some(std::time::Instant::now());
        assert!(breaker.check().is_ok(), "closed again once the time is up");
    }

    #[test]
    fn the_cache_stays_within_its_budget_oldest_out_first() {
        let cache = ChunkCache::new(100);
        let bucket = [1; 16];
        let ids: Vec<ChunkId> = (0..4u8).map(|i| ChunkId([i; 32])).collect();
        for id in &ids {
            cache.insert(&bucket, id, &[7; 40]);
        }
        // 4 × 40 bytes in a 100-byte budget: the two newest remain.
        assert!(!cache.contains(&bucket, &ids[0]));
        assert!(!cache.contains(&bucket, &ids[1]));
        let mut out = Vec::new();
        assert!(cache.read_into(&bucket, &ids[3], &mut out));
        assert_eq!(out, [7; 40]);
        cache.insert(&bucket, &ChunkId([9; 32]), &[0; 101]);
        assert!(
            !cache.contains(&bucket, &ChunkId([9; 32])),
            "larger than the budget"
        );
        cache.remove(&bucket, &ids[3]);
        cache.remove_bucket(&bucket);
        assert!(!cache.contains(&bucket, &ids[2]));
        for _ in 0..1000 {
            cache.insert(&bucket, &ids[0], &[1; 10]);
            cache.remove(&bucket, &ids[0]);
        }
        assert!(cache.inner.lock().unwrap().order.len() < 200);
    }
}
