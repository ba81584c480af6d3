//! Index records: postcard with a leading format-version byte.
//!
//! Each record type says which version it is written with ([`Record::VERSION`]) and which
//! older versions it still reads ([`Record::decode_old`]). Decoding anything else — an
//! unknown version, trailing bytes, a truncated record — is `Error::Corrupt`, never a guess.
//!
//! | version | change |
//! |---|---|
//! | 1 | every record type |
//! | 2 | object and upload records: [`ObjectMeta`] gained `grants` (object ACLs); version-1 records read as having none |

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::object::ObjectMeta;

pub(crate) use crate::keys::BucketId;

/// A record type of the index.
pub(crate) trait Record: DeserializeOwned {
    /// The format version it is written with.
    const VERSION: u8 = 1;

    /// Decodes the leading record of `body`, written as `version` (older than
    /// [`Record::VERSION`]); `None` for a version it does not know or bytes that do not
    /// decode.
    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        let _ = (version, body);
        None
    }
}

/// A bucket, stored under its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BucketRecord {
    pub(crate) id: BucketId,
    pub(crate) owner: String,
    pub(crate) created_ms: u64,
}

impl Record for BucketRecord {}

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

impl Record for ObjectRecord {
    const VERSION: u8 = 2;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        match version {
            1 => {
                let (old, rest) = postcard::take_from_bytes::<ObjectRecordV1>(body).ok()?;
                let record = ObjectRecord {
                    size: old.size,
                    etag: old.etag,
                    modified_ms: old.modified_ms,
                    meta: old.meta.into(),
                    chunks: old.chunks,
                };
                Some((record, rest))
            }
            _ => None,
        }
    }
}

/// [`ObjectRecord`] as version 1 wrote it (no grants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObjectRecordV1 {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
    pub(crate) meta: ObjectMetaV1,
    pub(crate) chunks: Vec<ChunkRef>,
}

/// [`ObjectMeta`] as version 1 wrote it (no grants).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObjectMetaV1 {
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_language: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) expires: Option<String>,
    pub(crate) user: Vec<(String, String)>,
    pub(crate) checksums: Vec<(String, String)>,
}

impl From<ObjectMetaV1> for ObjectMeta {
    fn from(old: ObjectMetaV1) -> ObjectMeta {
        ObjectMeta {
            content_type: old.content_type,
            content_encoding: old.content_encoding,
            content_disposition: old.content_disposition,
            content_language: old.content_language,
            cache_control: old.cache_control,
            expires: old.expires,
            user: old.user,
            // A name this build does not know could not have been verified: drop it.
            checksums: old
                .checksums
                .into_iter()
                .filter_map(|(name, value)| {
                    let algorithm = name.parse().ok()?;
                    Some(crate::checksum::Checksum { algorithm, value })
                })
                .collect(),
            grants: Vec::new(),
        }
    }
}

/// The leading fields of an [`ObjectRecord`], all a listing needs (the same in versions 1
/// and 2).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ObjectHead {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
}

impl Record for ObjectHead {
    const VERSION: u8 = ObjectRecord::VERSION;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        match version {
            1 => postcard::take_from_bytes(body).ok(),
            _ => None,
        }
    }
}

/// Encodes a record with its version byte.
pub(crate) fn encode<T: Record + Serialize>(record: &T) -> Vec<u8> {
    // Serialising these plain structs into a Vec cannot fail; an empty record would fail to
    // decode and surface as Corrupt rather than panic here.
    postcard::to_extend(record, vec![T::VERSION]).unwrap_or_default()
}

/// Decodes a whole record.
pub(crate) fn decode<T: Record>(bytes: &[u8], what: &'static str) -> Result<T> {
    let (value, rest) = decode_prefix(bytes, what)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(Error::Corrupt { what })
    }
}

/// Decodes the leading fields of a record and returns the rest undecoded.
pub(crate) fn decode_prefix<'a, T: Record>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(T, &'a [u8])> {
    match bytes.split_first() {
        Some((&version, body)) if version == T::VERSION => {
            postcard::take_from_bytes(body).map_err(|_| Error::Corrupt { what })
        }
        Some((&version, body)) => T::decode_old(version, body).ok_or(Error::Corrupt { what }),
        None => Err(Error::Corrupt { what }),
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
            other_version[0] = 3;
            prop_assert!(decode::<ObjectRecord>(&other_version, "object").is_err());
            other_version[0] = 0;
            prop_assert!(decode::<ObjectRecord>(&other_version, "object").is_err());
        }

        /// Records written before object ACLs (version 1) still read, as having no grants;
        /// listing reads their heads too.
        #[test]
        fn version_1_object_record_decodes_without_grants(record in arb_record()) {
            let old = ObjectRecordV1 {
                size: record.size,
                etag: record.etag.clone(),
                modified_ms: record.modified_ms,
                meta: ObjectMetaV1 {
                    content_type: record.meta.content_type.clone(),
                    user: record.meta.user.clone(),
                    ..ObjectMetaV1::default()
                },
                chunks: record.chunks.clone(),
            };
            let bytes = postcard::to_extend(&old, vec![1]).unwrap();
            let back = decode::<ObjectRecord>(&bytes, "object").unwrap();
            prop_assert_eq!(&back, &ObjectRecord {
                meta: ObjectMeta { grants: Vec::new(), ..record.meta.clone() },
                ..record.clone()
            });
            let (head, _) = decode_prefix::<ObjectHead>(&bytes, "object").unwrap();
            prop_assert_eq!(head.etag, record.etag);
            // A version-1 record with trailing bytes is still corrupt.
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(decode::<ObjectRecord>(&longer, "object").is_err());
        }
    }

    #[test]
    fn object_records_carry_typed_grants() {
        use crate::object::{ObjectGrant, ObjectPermission};
        let record = ObjectRecord {
            size: 1,
            etag: "e".into(),
            modified_ms: 2,
            meta: ObjectMeta {
                grants: vec![ObjectGrant {
                    grantee: "AIDA1".into(),
                    permission: ObjectPermission::FullControl,
                }],
                ..ObjectMeta::default()
            },
            chunks: vec![],
        };
        let bytes = encode(&record);
        assert_eq!(bytes[0], 2);
        // The permission is its variant index, not its name.
        assert!(!bytes.windows(4).any(|w| w == b"Full" || w == b"FULL"));
        assert_eq!(decode::<ObjectRecord>(&bytes, "object").unwrap(), record);
    }
}
