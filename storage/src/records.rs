//! Index records: postcard with a leading format-version byte.
//!
//! Decoding anything else — another version, trailing bytes, a truncated record — is
//! `Error::Corrupt`, never a guess.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::object::ObjectMeta;

/// Format version of every record type in this module.
const RECORD_VERSION: u8 = 1;

pub(crate) use crate::keys::BucketId;

/// A bucket, stored under its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BucketRecord {
    pub(crate) id: BucketId,
    pub(crate) owner: String,
    pub(crate) created_ms: u64,
}

/// One chunk of an object: its id and plaintext length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChunkRef {
    pub(crate) id: ChunkId,
    pub(crate) len: u32,
}

/// An object, stored under `bucket id ‖ key`.
///
/// Field order matters: listing decodes only the leading fields ([`ObjectHead`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObjectRecord {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
    pub(crate) meta: ObjectMeta,
    pub(crate) chunks: Vec<ChunkRef>,
}

/// The leading fields of an [`ObjectRecord`], all a listing needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ObjectHead {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
}

/// Encodes a record with its version byte.
pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Serialising these plain structs into a Vec cannot fail; an empty record would fail to
    // decode and surface as Corrupt rather than panic here.
    postcard::to_extend(record, vec![RECORD_VERSION]).unwrap_or_default()
}

/// Decodes a whole record.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T> {
    let (value, rest) = decode_prefix(bytes, what)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(Error::Corrupt { what })
    }
}

/// Decodes the leading fields of a record and returns the rest undecoded.
pub(crate) fn decode_prefix<'a, T: DeserializeOwned>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(T, &'a [u8])> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => {
            postcard::take_from_bytes(body).map_err(|_| Error::Corrupt { what })
        }
        _ => Err(Error::Corrupt { what }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_record() -> impl Strategy<Value = ObjectRecord> {
        (
            any::<u64>(),
            "[0-9a-f]{32}(-[0-9]{1,4})?",
            any::<u64>(),
            proptest::option::of(".{0,20}"),
            proptest::collection::vec((".{0,8}", ".{0,8}"), 0..4),
            proptest::collection::vec((any::<[u8; 32]>(), any::<u32>()), 0..5),
        )
            .prop_map(|(size, etag, modified_ms, content_type, user, chunks)| {
                ObjectRecord {
                    size,
                    etag,
                    modified_ms,
                    meta: ObjectMeta {
                        content_type,
                        user,
                        ..ObjectMeta::default()
                    },
                    chunks: chunks
                        .into_iter()
                        .map(|(id, len)| ChunkRef {
                            id: ChunkId(id),
                            len,
                        })
                        .collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn object_record_round_trip(record in arb_record()) {
            let bytes = encode(&record);
            prop_assert_eq!(decode::<ObjectRecord>(&bytes, "object").unwrap(), record.clone());
            let (head, _) = decode_prefix::<ObjectHead>(&bytes, "object").unwrap();
            prop_assert_eq!(head.size, record.size);
            prop_assert_eq!(head.etag, record.etag);
        }

        #[test]
        fn damaged_record_is_corrupt_or_different(record in arb_record(), cut in 1usize..8) {
            let bytes = encode(&record);
            let truncated = &bytes[..bytes.len().saturating_sub(cut)];
            prop_assert!(decode::<ObjectRecord>(truncated, "object").is_err());
            let mut other_version = bytes.clone();
            other_version[0] = 2;
            prop_assert!(decode::<ObjectRecord>(&other_version, "object").is_err());
        }
    }
}
