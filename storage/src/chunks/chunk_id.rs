//! Chunk ids: keyed BLAKE3 of a chunk's plaintext under the bucket's chunk-id key (P4).
//!
//! Without the key an id reveals nothing, so nobody can test "is this known file stored
//! here?"; with it, equal plaintext in one bucket gets one id (deduplication).

use std::fmt;

use crate::keys::keyring::BucketKeys;

/// A chunk's content address within its bucket: 32 bytes of keyed BLAKE3.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ChunkId(pub(crate) [u8; 32]);

impl ChunkId {
    /// Computes the id of `plaintext` under the bucket's chunk-id key.
    pub fn of(keys: &BucketKeys, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&keys.chunk_id, plaintext).as_bytes())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, the chunk's file name.
    pub(crate) fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

// An id is a keyed hash: safe to print, and useful in error reports.
impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkId({})", hex::encode(&self.0[..8]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn deterministic_per_bucket_and_different_across_buckets(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
        ) {
            let a = BucketKeys::random().unwrap();
            let b = BucketKeys::random().unwrap();
            prop_assert_eq!(ChunkId::of(&a, &data), ChunkId::of(&a, &data));
            prop_assert_ne!(ChunkId::of(&a, &data), ChunkId::of(&b, &data));
        }
    }

    #[test]
    fn not_the_plain_hash() {
        let keys = BucketKeys::random().unwrap();
        assert_ne!(ChunkId::of(&keys, b"x").0, *blake3::hash(b"x").as_bytes());
    }
}
