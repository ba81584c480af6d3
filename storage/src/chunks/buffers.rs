//! Chunk-sized buffers, reused instead of freed.
//!
//! Every chunk an upload cuts, seals and writes, and every chunk a download reads and
//! opens, needs a buffer of about the chunk size (4 MiB). Allocated and freed per chunk on
//! whichever thread happens to run the step, glibc keeps the freed blocks in per-thread
//! arenas: a 1 GiB PUT then GET peaked at 85 MiB resident for what is at most a few chunks
//! of live data. The pool keeps up to [`KEEP`] freed buffers and hands them out again, so
//! steady traffic allocates nothing large and resident memory stays near `KEEP` chunks.
//! Past that (many uploads at once) buffers are allocated and freed as before.
//!
//! A [`Buffer`] goes back to its pool when dropped; [`Buffer::freeze`] makes it the owner
//! of a `Bytes`, so it returns once the last view of it (hyper writing a response, an MD5
//! task) is dropped.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Freed buffers kept for reuse: one upload's pipeline (a chunk being filled, two in
/// flight, their sealed copies) or one download's read-ahead fits.
const KEEP: usize = 8;

/// A free list of buffers of one capacity.
#[derive(Debug)]
pub(crate) struct BufferPool {
    capacity: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A pool of buffers that hold `capacity` bytes without growing.
    pub(crate) fn new(capacity: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            capacity,
            free: Mutex::new(Vec::with_capacity(KEEP)),
        })
    }

    /// An empty buffer with room for the pool's capacity.
    pub(crate) fn take(self: &Arc<Self>) -> Buffer {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Buffer {
            vec: reused.unwrap_or_else(|| Vec::with_capacity(self.capacity)),
            pool: Arc::clone(self),
        }
    }

    fn give_back(&self, mut vec: Vec<u8>) {
        // A buffer that grew past the capacity (a chunk file longer than it should be) is
        // not kept: the pool's memory stays bounded by KEEP × capacity.
        if vec.capacity() < self.capacity || vec.capacity() > self.capacity * 2 {
            return;
        }
        vec.clear();
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEEP {
            free.push(vec);
        }
    }

    /// Buffers waiting for reuse (for tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A buffer from a [`BufferPool`]; it returns there when dropped.
#[derive(Debug)]
pub(crate) struct Buffer {
    vec: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl Buffer {
    /// The bytes written so far, as a `Bytes` that owns the buffer.
    pub(crate) fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl std::ops::Deref for Buffer {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.vec
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.vec
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.vec
    }
}

impl AsMut<[u8]> for Buffer {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.vec
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.vec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_last_view_is_dropped() {
        let pool = BufferPool::new(1024);
        let mut a = pool.take();
        assert!(a.capacity() >= 1024);
        a.extend_from_slice(b"hello world");
        let bytes = a.freeze();
        let view = bytes.slice(6..);
        drop(bytes);
        assert_eq!(pool.idle(), 0, "a view still holds it");
        assert_eq!(&view[..], b"world");
        drop(view);
        assert_eq!(pool.idle(), 1);
        let again = pool.take();
        assert!(again.is_empty(), "reused buffers start empty");
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn the_pool_keeps_at_most_keep_buffers_of_its_size() {
        let pool = BufferPool::new(64);
        let many: Vec<Buffer> = (0..KEEP + 3).map(|_| pool.take()).collect();
        drop(many);
        assert_eq!(pool.idle(), KEEP);
        let mut grown = pool.take();
        grown.reserve(64 * 4);
        drop(grown);
        assert_eq!(pool.idle(), KEEP - 1, "an outgrown buffer is freed");
    }
}
