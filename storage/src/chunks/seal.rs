//! Sealing chunks: AES-256-GCM-SIV under the bucket seal key, bound to the chunk id (P5).
//!
//! Sealed bytes are `version ‖ ciphertext ‖ tag`. The nonce is the first 12 bytes of the
//! chunk id and the associated data is `version ‖ chunk id`, so sealing is deterministic —
//! the same plaintext in the same bucket seals to the same bytes and is stored once — and a
//! chunk file moved to another id, or any flipped bit, fails to open. GCM-SIV keeps the
//! deterministic nonce safe: it reveals equality within one bucket and nothing else.

use aes_gcm_siv::aead::AeadInOut as _;
use aes_gcm_siv::{Nonce, Tag};
use bytes::Bytes;

use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::keys::keyring::BucketKeys;

/// Format version of sealed chunks.
const SEAL_VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// Bytes a sealed chunk adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + TAG_LEN;

fn nonce_of(id: &ChunkId) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&id.0[..12]);
    Nonce::from(nonce)
}

fn associated_data(id: &ChunkId) -> [u8; 33] {
    let mut aad = [0u8; 33];
    aad[0] = SEAL_VERSION;
    aad[1..].copy_from_slice(&id.0);
    aad
}

/// Seals `plaintext`, whose id is `id`.
///
/// # Errors
/// `Error::Corrupt` only for a plaintext beyond AES-GCM-SIV's 64 GiB limit.
pub fn seal(keys: &BucketKeys, id: &ChunkId, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    seal_into(keys, id, plaintext, &mut out)?;
    Ok(out)
}

/// [`seal`] into `out` (cleared first), so that a reused buffer holds the sealed bytes.
///
/// # Errors
/// As [`seal`].
pub fn seal_into(
    keys: &BucketKeys,
    id: &ChunkId,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    out.reserve(plaintext.len() + SEAL_OVERHEAD);
    out.push(SEAL_VERSION);
    out.extend_from_slice(plaintext);
    let tag = keys
        .seal
        .encrypt_inout_detached(
            &nonce_of(id),
            &associated_data(id),
            out[1..].as_mut().into(),
        )
        .map_err(|_| Error::Corrupt {
            what: "oversized chunk",
        })?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Opens sealed bytes read from the file of chunk `id`, in place. The buffer (a `Vec`, or
/// a pooled one) becomes the owner of the returned plaintext.
///
/// # Errors
/// `Error::Corrupt` if the bytes are not exactly what [`seal`] made for this id and key;
/// altered bytes are never returned.
pub fn open<B>(keys: &BucketKeys, id: &ChunkId, mut sealed: B) -> Result<Bytes>
where
    B: AsRef<[u8]> + AsMut<[u8]> + Send + 'static,
{
    let corrupt = || Error::Corrupt { what: "chunk" };
    let bytes = sealed.as_mut();
    if bytes.len() < SEAL_OVERHEAD || bytes[0] != SEAL_VERSION {
        return Err(corrupt());
    }
    let body_end = bytes.len() - TAG_LEN;
    let tag = Tag::try_from(&bytes[body_end..]).map_err(|_| corrupt())?;
    keys.seal
        .decrypt_inout_detached(
            &nonce_of(id),
            &associated_data(id),
            bytes[1..body_end].as_mut().into(),
            &tag,
        )
        .map_err(|_| corrupt())?;
    // Zero-copy: the plaintext is a view into the buffer it was decrypted in.
    Ok(Bytes::from_owner(sealed).slice(1..body_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..8192)) {
            let keys = BucketKeys::random().unwrap();
            let id = ChunkId::of(&keys, &data);
            let sealed = seal(&keys, &id, &data).unwrap();
            prop_assert_eq!(sealed.len(), data.len() + SEAL_OVERHEAD);
            prop_assert_eq!(&open(&keys, &id, sealed).unwrap()[..], &data[..]);
        }

        #[test]
        fn flipped_bit_anywhere_is_corrupt(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            pos in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let keys = BucketKeys::random().unwrap();
            let id = ChunkId::of(&keys, &data);
            let mut sealed = seal(&keys, &id, &data).unwrap();
            let at = pos.index(sealed.len());
            sealed[at] ^= 1 << bit;
            let corrupt = matches!(open(&keys, &id, sealed), Err(Error::Corrupt { .. }));
            prop_assert!(corrupt);
        }

        #[test]
        fn truncated_is_corrupt(data in proptest::collection::vec(any::<u8>(), 0..512), cut in 1usize..64) {
            let keys = BucketKeys::random().unwrap();
            let id = ChunkId::of(&keys, &data);
            let mut sealed = seal(&keys, &id, &data).unwrap();
            sealed.truncate(sealed.len().saturating_sub(cut));
            let corrupt = matches!(open(&keys, &id, sealed), Err(Error::Corrupt { .. }));
            prop_assert!(corrupt);
        }
    }

    #[test]
    fn deterministic_and_bound_to_id_and_key() {
        let keys = BucketKeys::random().unwrap();
        let other = BucketKeys::random().unwrap();
        let id = ChunkId::of(&keys, b"hello");
        let sealed = seal(&keys, &id, b"hello").unwrap();
        assert_eq!(sealed, seal(&keys, &id, b"hello").unwrap());
        let wrong_id = ChunkId::of(&keys, b"other");
        assert!(open(&keys, &wrong_id, sealed.clone()).is_err());
        assert!(open(&other, &id, sealed).is_err());
    }
}
