//! The sealed index file: a redb `StorageBackend` that stores only ciphertext (P3).
//!
//! # Design
//!
//! redb sees a plain byte array; this backend encrypts it on its way to the file with a
//! length-preserving, position-tweaked cipher, so object keys, bucket names, metadata,
//! refcounts and sealed records never reach the disk readable, while redb still does its
//! own ordered B-tree scans on the plaintext it reads back.
//!
//! The cipher works on 16-byte units, XTS-style with one block per "sector": unit `i` at
//! file offset `16·i` is `C = AES_k1(P ⊕ T) ⊕ T` with `T = AES_k2(i as 16 LE bytes)`. `k1`
//! and `k2` are derived from the random index key (wrapped by the master key in
//! `<data>/keys`). It is length-preserving and position-bound, so:
//!
//! - redb's crash reasoning holds unchanged: a write of `n` bytes writes `n` ciphertext
//!   bytes at the same offsets, a sync is a sync, and the commit slots, checksums and the
//!   god byte work as on a plain file. The one assumption added is that an aligned 16-byte
//!   unit is written atomically — true of any disk, whose atomic unit (a sector, ≥ 512
//!   bytes) is a multiple of 16 and aligned with it. The crash tests tear writes at
//!   16-byte boundaries.
//! - A write that does not start or end on a unit boundary is a read-modify-write of the
//!   enclosing units (redb writes whole pages and whole headers, so this is rare).
//! - redb's contract says growth by `set_len` reads back as zeros. Ciphertext zeros do
//!   not decrypt to zeros, so growth writes encrypted zeros over the new region.
//!
//! What it does not give: integrity (redb's own checksums detect corruption) or hiding
//! which pages change between two copies of the file — the same trade-off as disk
//! encryption.

use std::fmt;
use std::io;
use std::ops::Bound;
use std::sync::{Mutex, PoisonError};

use aes::Aes256;
use aes::cipher::{Array, BlockCipherDecrypt as _, BlockCipherEncrypt as _, KeyInit as _};
use redb::{BackendError, StorageBackend};
use zeroize::Zeroizing;

/// The cipher's unit: one AES block.
const UNIT: u64 = 16;
/// Units processed per batch (one 4 KiB page): bounds the tweak buffer.
const BATCH: usize = 256;
/// Grown regions are filled with encrypted zeros this many bytes at a time.
const FILL_STEP: u64 = 256 << 10;

const CONTEXT_DATA: &str = "coffer 2026-11 index data key";
const CONTEXT_TWEAK: &str = "coffer 2026-11 index tweak key";

type Block = Array<u8, aes::cipher::consts::U16>;

/// The position-tweaked cipher of the index file.
pub struct IndexCipher {
    data: Aes256,
    tweak: Aes256,
}

impl IndexCipher {
    /// Derives the data and tweak keys from the 32-byte index key.
    pub fn new(index_key: &[u8; 32]) -> IndexCipher {
        let data = Zeroizing::new(blake3::derive_key(CONTEXT_DATA, index_key));
        let tweak = Zeroizing::new(blake3::derive_key(CONTEXT_TWEAK, index_key));
        IndexCipher {
            data: Aes256::new(&Array::from(*data)),
            tweak: Aes256::new(&Array::from(*tweak)),
        }
    }

    /// Encrypts `buf` in place; `offset` (its file position) and `buf.len()` are multiples
    /// of 16.
    pub(crate) fn encrypt(&self, offset: u64, buf: &mut [u8]) {
        self.apply(offset, buf, true);
    }

    /// Decrypts `buf` in place; as [`IndexCipher::encrypt`].
    pub(crate) fn decrypt(&self, offset: u64, buf: &mut [u8]) {
        self.apply(offset, buf, false);
    }

    fn apply(&self, offset: u64, buf: &mut [u8], encrypt: bool) {
        debug_assert!(offset.is_multiple_of(UNIT));
        let (blocks, rest) = Block::slice_as_chunks_mut(buf);
        debug_assert!(rest.is_empty(), "index cipher input is not whole units");
        let mut tweaks = [Block::default(); BATCH];
        let mut unit = u128::from(offset / UNIT);
        for batch in blocks.chunks_mut(BATCH) {
            let tweaks = &mut tweaks[..batch.len()];
            for tweak in tweaks.iter_mut() {
                *tweak = Block::from(unit.to_le_bytes());
                unit += 1;
            }
            self.tweak.encrypt_blocks(tweaks);
            xor(batch, tweaks);
            if encrypt {
                self.data.encrypt_blocks(batch);
            } else {
                self.data.decrypt_blocks(batch);
            }
            xor(batch, tweaks);
        }
    }
}

fn xor(blocks: &mut [Block], tweaks: &[Block]) {
    for (block, tweak) in blocks.iter_mut().zip(tweaks) {
        for (b, t) in block.iter_mut().zip(tweak.iter()) {
            *b ^= t;
        }
    }
}

/// A redb backend that encrypts everything it passes to `inner` (see the module doc).
pub struct SealedBackend<B> {
    inner: B,
    cipher: IndexCipher,
    /// Serialises writes and length changes, so that two read-modify-writes of one unit
    /// cannot interleave. Reads need no lock: redb never reads a page while writing it.
    writing: Mutex<()>,
}

impl<B: StorageBackend> SealedBackend<B> {
    /// Wraps `inner`, whose content is (or will be) ciphertext under `cipher`.
    pub fn new(inner: B, cipher: IndexCipher) -> SealedBackend<B> {
        SealedBackend {
            inner,
            cipher,
            writing: Mutex::new(()),
        }
    }

    /// Writes encrypted zeros over `from..to` (both multiples of 16).
    fn fill_zeros(&self, from: u64, to: u64) -> io::Result<()> {
        let mut at = from;
        let mut buf = Vec::new();
        while at < to {
            let step = (to - at).min(FILL_STEP);
            buf.clear();
            buf.resize(to_usize(step)?, 0);
            self.cipher.encrypt(at, &mut buf);
            self.inner.write(at, &buf)?;
            at += step;
        }
        Ok(())
    }

    /// The plaintext of the unit at `offset`, zeros if it lies beyond `len`.
    fn read_unit(&self, offset: u64, len: u64) -> io::Result<Zeroizing<[u8; 16]>> {
        let mut unit = Zeroizing::new([0u8; 16]);
        if offset + UNIT <= len {
            self.inner.read(offset, &mut *unit)?;
            self.cipher.decrypt(offset, &mut *unit);
        }
        Ok(unit)
    }
}

fn to_usize(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length overflow"))
}

fn align_down(n: u64) -> u64 {
    n & !(UNIT - 1)
}

fn align_up(n: u64) -> io::Result<u64> {
    n.checked_add(UNIT - 1)
        .map(align_down)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))
}

fn end_of(offset: u64, len: usize) -> io::Result<u64> {
    offset
        .checked_add(len as u64)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))
}

impl<B> fmt::Debug for SealedBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the keys; redb logs its backend at debug level.
        f.debug_struct("SealedBackend").finish_non_exhaustive()
    }
}

impl<B: StorageBackend> StorageBackend for SealedBackend<B> {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let end = end_of(offset, out.len())?;
        let (start, stop) = (align_down(offset), align_up(end)?);
        if start == offset && stop == end {
            self.inner.read(offset, out)?;
            self.cipher.decrypt(offset, out);
            return Ok(());
        }
        let mut buf = Zeroizing::new(vec![0u8; to_usize(stop - start)?]);
        self.inner.read(start, &mut buf)?;
        self.cipher.decrypt(start, &mut buf);
        let skip = to_usize(offset - start)?;
        out.copy_from_slice(&buf[skip..skip + out.len()]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if !len.is_multiple_of(UNIT) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "sealed index length must be a multiple of 16",
            ));
        }
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.inner.len()?;
        self.inner.set_len(len)?;
        if len > old {
            // Growth must read back as zeros; raw zeros would decrypt to noise.
            self.fill_zeros(align_down(old), len)?;
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let end = end_of(offset, data.len())?;
        let (start, stop) = (align_down(offset), align_up(end)?);
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let len = self.inner.len()?;
        if start > len {
            // A write past the end extends the file; the gap must read as zeros too.
            self.fill_zeros(align_up(len)?, start)?;
        }
        let mut buf = vec![0u8; to_usize(stop - start)?];
        if start != offset {
            buf[..16].copy_from_slice(&*self.read_unit(start, len)?);
        }
        if stop != end {
            let last = buf.len() - 16;
            buf[last..].copy_from_slice(&*self.read_unit(stop - UNIT, len)?);
        }
        let skip = to_usize(offset - start)?;
        buf[skip..skip + data.len()].copy_from_slice(data);
        self.cipher.encrypt(start, &mut buf);
        self.inner.write(start, &buf)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use redb::backends::InMemoryBackend;

    use super::*;

    fn sealed() -> SealedBackend<InMemoryBackend> {
        SealedBackend::new(InMemoryBackend::new(), IndexCipher::new(&[7; 32]))
    }

    #[test]
    fn round_trip_aligned_and_unaligned() {
        let b = sealed();
        b.set_len(4096).unwrap();
        let mut zeros = vec![1u8; 4096];
        b.read(0, &mut zeros).unwrap();
        assert!(
            zeros.iter().all(|&z| z == 0),
            "growth must read back as zeros"
        );

        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        b.write(32, &data).unwrap();
        b.write(5, b"hello").unwrap();
        b.write(1030, b"tail across units").unwrap();
        let mut all = vec![0u8; 4096];
        b.read(0, &mut all).unwrap();
        let mut expect = vec![0u8; 4096];
        expect[32..1032].copy_from_slice(&data);
        expect[5..10].copy_from_slice(b"hello");
        expect[1030..1047].copy_from_slice(b"tail across units");
        assert_eq!(all, expect);
        let mut piece = [0u8; 7];
        b.read(1033, &mut piece).unwrap();
        assert_eq!(&piece, &expect[1033..1040]);
    }

    #[test]
    fn stored_bytes_are_not_the_plaintext_and_depend_on_position() {
        let b = sealed();
        b.set_len(64).unwrap();
        b.write(0, &[b'A'; 64]).unwrap();
        let mut raw = [0u8; 64];
        b.inner.read(0, &mut raw).unwrap();
        assert!(!raw.windows(4).any(|w| w == b"AAAA"));
        // Same plaintext in two units: different ciphertext.
        assert_ne!(raw[..16], raw[16..32]);
    }

    #[test]
    fn growth_after_shrink_reads_zeros() {
        let b = sealed();
        b.set_len(64).unwrap();
        b.write(0, &[9u8; 64]).unwrap();
        b.set_len(16).unwrap();
        b.set_len(64).unwrap();
        let mut out = [1u8; 64];
        b.read(0, &mut out).unwrap();
        assert_eq!(&out[..16], &[9u8; 16]);
        assert!(out[16..].iter().all(|&z| z == 0));
        assert!(b.set_len(17).is_err());
    }

    #[test]
    fn other_key_reads_noise() {
        let b = sealed();
        b.set_len(32).unwrap();
        b.write(0, &[3u8; 32]).unwrap();
        let other = SealedBackend::new(b.inner, IndexCipher::new(&[8; 32]));
        let mut out = [0u8; 32];
        other.read(0, &mut out).unwrap();
        assert_ne!(out, [3u8; 32]);
    }
}
