//! The in-memory index's storage: redb's `InMemoryBackend`, with its length kept where the
//! store's memory budget reads it (`chunks/memory.rs`), since redb does not say how much
//! memory a database holds.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::StorageBackend;
use redb::backends::InMemoryBackend;

/// An `InMemoryBackend` that reports its length through a shared counter.
#[derive(Debug)]
pub(crate) struct CountedMemory {
    inner: InMemoryBackend,
    len: Arc<AtomicU64>,
}

impl CountedMemory {
    /// An empty backend, and the counter that follows its length.
    pub(crate) fn new() -> (CountedMemory, Arc<AtomicU64>) {
        let len = Arc::new(AtomicU64::new(0));
        let backend = CountedMemory {
            inner: InMemoryBackend::new(),
            len: Arc::clone(&len),
        };
        (backend, len)
    }
}

impl StorageBackend for CountedMemory {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)?;
        self.len.store(len, Ordering::Relaxed);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write(offset, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_follows_the_length() {
        let (backend, len) = CountedMemory::new();
        backend.set_len(4096).unwrap();
        assert_eq!(len.load(Ordering::Relaxed), 4096);
        backend.write(10, b"abc").unwrap();
        let mut out = [0u8; 3];
        backend.read(10, &mut out).unwrap();
        assert_eq!(&out, b"abc");
        backend.set_len(1024).unwrap();
        assert_eq!(len.load(Ordering::Relaxed), 1024);
    }
}
