//! Index records: postcard with a leading format-version byte.
//!
//! Each record type says which version it is written with ([`Record::VERSION`]) and which
//! older versions it still reads ([`Record::decode_old`]). Decoding anything else — an
//! unknown version, trailing bytes, a truncated record — is `Error::Corrupt`, never a guess.
//!
//! | version | change |
//! |---|---|
//! | 1 | every record type |
//! | 2 | object and upload records: [`ObjectMeta`] gained `grants` (object ACLs) |
//! | 3 | object records: version stamp and Object Lock; version records; upload records: Object Lock; object and upload records: encryption (SSE-C), added in place before any release |
//! | 4 | object and version records: `inline` (small bodies sealed into the record); version 3 is still read |
//! | 5 | object, version and upload records: [`ObjectMeta`] gained `tags`; versions 3 and 4 (upload records: 3) are still read |
//!
//! Nothing was released before version 3, so versions 1 and 2 are not read.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::chunks::chunk_id::ChunkId;
use crate::error::{Error, Result};
use crate::keys::encryption::Encryption;
use crate::object::ObjectMeta;
use crate::version::ObjectLock;

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

/// A small body kept in its object record instead of a chunk file: one chunk, sealed
/// exactly as its file would be (same keyed id, same seal), so it is as private as a chunk
/// and opens with the same code. Its plaintext length is the object's size.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InlineBody {
    pub(crate) id: ChunkId,
    pub(crate) sealed: Vec<u8>,
}

impl std::fmt::Debug for InlineBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineBody")
            .field("sealed_len", &self.sealed.len())
            .finish_non_exhaustive()
    }
}

/// Which version a record is: its place in the store-wide write sequence (newest is
/// highest, and it names the version) and whether it is the key's `null` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionStamp {
    pub(crate) seq: u64,
    pub(crate) null: bool,
}

impl VersionStamp {
    /// The id a client sees.
    pub(crate) fn id_text(self) -> String {
        if self.null {
            crate::version::NULL_VERSION.to_owned()
        } else {
            crate::version::VersionRef::id_text(self.seq)
        }
    }

    pub(crate) fn is(self, wanted: crate::version::VersionRef) -> bool {
        match wanted {
            crate::version::VersionRef::Null => self.null,
            crate::version::VersionRef::Id(seq) => !self.null && self.seq == seq,
        }
    }
}

/// An object version: the current one of a key lives in `objects` under
/// `bucket id ‖ key`, older ones in `versions` (see `index/versions.rs`).
///
/// Field order matters: listing decodes only the leading fields ([`ObjectHead`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObjectRecord {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
    pub(crate) version: VersionStamp,
    pub(crate) meta: ObjectMeta,
    pub(crate) chunks: Vec<ChunkRef>,
    pub(crate) lock: ObjectLock,
    /// Which keys the chunks are under: the bucket's, or derived with a customer or KMS key.
    pub(crate) encryption: Encryption,
    /// The body, if it is small enough to live here; `chunks` is then empty.
    pub(crate) inline: Option<InlineBody>,
}

impl Record for ObjectRecord {
    // 4: inline bodies; 5: tags.
    const VERSION: u8 = 5;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        let (old, rest) = match version {
            3 => {
                let (v3, rest) = postcard::take_from_bytes::<ObjectRecordV3>(body).ok()?;
                (ObjectRecordV4::from(v3), rest)
            }
            4 => postcard::take_from_bytes::<ObjectRecordV4>(body).ok()?,
            _ => return None,
        };
        Some((old.into(), rest))
    }
}

/// [`ObjectMeta`] as versions 3 and 4 wrote it: no tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObjectMetaV4 {
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<String>,
    user: Vec<(String, String)>,
    checksums: Vec<crate::checksum::Checksum>,
    grants: Vec<crate::object::ObjectGrant>,
}

impl From<ObjectMetaV4> for ObjectMeta {
    fn from(old: ObjectMetaV4) -> ObjectMeta {
        ObjectMeta {
            content_type: old.content_type,
            content_encoding: old.content_encoding,
            content_disposition: old.content_disposition,
            content_language: old.content_language,
            cache_control: old.cache_control,
            expires: old.expires,
            user: old.user,
            checksums: old.checksums,
            grants: old.grants,
            tags: Vec::new(),
        }
    }
}

/// An [`ObjectRecord`] as version 4 wrote it: metadata without tags.
#[derive(Serialize, Deserialize)]
struct ObjectRecordV4 {
    size: u64,
    etag: String,
    modified_ms: u64,
    version: VersionStamp,
    meta: ObjectMetaV4,
    chunks: Vec<ChunkRef>,
    lock: ObjectLock,
    encryption: Encryption,
    inline: Option<InlineBody>,
}

/// An [`ObjectRecord`] as version 3 wrote it: no inline body either.
#[derive(Serialize, Deserialize)]
struct ObjectRecordV3 {
    size: u64,
    etag: String,
    modified_ms: u64,
    version: VersionStamp,
    meta: ObjectMetaV4,
    chunks: Vec<ChunkRef>,
    lock: ObjectLock,
    encryption: Encryption,
}

impl From<ObjectRecordV3> for ObjectRecordV4 {
    fn from(old: ObjectRecordV3) -> ObjectRecordV4 {
        ObjectRecordV4 {
            size: old.size,
            etag: old.etag,
            modified_ms: old.modified_ms,
            version: old.version,
            meta: old.meta,
            chunks: old.chunks,
            lock: old.lock,
            encryption: old.encryption,
            inline: None,
        }
    }
}

impl From<ObjectRecordV4> for ObjectRecord {
    fn from(old: ObjectRecordV4) -> ObjectRecord {
        ObjectRecord {
            size: old.size,
            etag: old.etag,
            modified_ms: old.modified_ms,
            version: old.version,
            meta: old.meta.into(),
            chunks: old.chunks,
            lock: old.lock,
            encryption: old.encryption,
            inline: old.inline,
        }
    }
}

/// The leading fields of an [`ObjectRecord`], all a listing needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ObjectHead {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: u64,
    pub(crate) version: VersionStamp,
}

impl Record for ObjectHead {
    const VERSION: u8 = ObjectRecord::VERSION;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        // The leading fields did not change in versions 4 and 5.
        matches!(version, 3 | 4).then(|| postcard::take_from_bytes(body).ok())?
    }
}

/// A delete marker: a version that says the key was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct MarkerRecord {
    pub(crate) modified_ms: u64,
    pub(crate) version: VersionStamp,
}

/// An entry of the `versions` table: a noncurrent object version or a delete marker.
// Decoded one at a time and moved, never kept in bulk: boxing would cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum VersionRecord {
    Object(ObjectRecord),
    DeleteMarker(MarkerRecord),
}

impl VersionRecord {
    pub(crate) fn stamp(&self) -> VersionStamp {
        match self {
            VersionRecord::Object(o) => o.version,
            VersionRecord::DeleteMarker(m) => m.version,
        }
    }
}

impl Record for VersionRecord {
    const VERSION: u8 = ObjectRecord::VERSION;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        let (old, rest) = match version {
            3 => match postcard::take_from_bytes::<VersionRecordV3>(body).ok()? {
                (VersionRecordV3::Object(o), rest) => (VersionRecordV4::Object(o.into()), rest),
                (VersionRecordV3::DeleteMarker(m), rest) => {
                    (VersionRecordV4::DeleteMarker(m), rest)
                }
            },
            4 => postcard::take_from_bytes::<VersionRecordV4>(body).ok()?,
            _ => return None,
        };
        Some((
            match old {
                VersionRecordV4::Object(o) => VersionRecord::Object(o.into()),
                VersionRecordV4::DeleteMarker(m) => VersionRecord::DeleteMarker(m),
            },
            rest,
        ))
    }
}

/// A [`VersionRecord`] as version 4 wrote it.
#[allow(clippy::large_enum_variant)] // as `VersionRecord`
#[derive(Serialize, Deserialize)]
enum VersionRecordV4 {
    Object(ObjectRecordV4),
    DeleteMarker(MarkerRecord),
}

/// A [`VersionRecord`] as version 3 wrote it.
#[allow(clippy::large_enum_variant)] // as `VersionRecord`
#[derive(Serialize, Deserialize)]
enum VersionRecordV3 {
    Object(ObjectRecordV3),
    DeleteMarker(MarkerRecord),
}

/// The leading fields of a [`VersionRecord`], for listing versions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) enum VersionHead {
    Object(ObjectHead),
    DeleteMarker(MarkerRecord),
}

impl Record for VersionHead {
    const VERSION: u8 = ObjectRecord::VERSION;

    fn decode_old(version: u8, body: &[u8]) -> Option<(Self, &[u8])> {
        matches!(version, 3 | 4).then(|| postcard::take_from_bytes(body).ok())?
    }
}

impl Record for crate::version::ObjectLockConfig {}

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

    /// Old record structs, encoded without their version byte.
    mod erased {
        pub(super) trait Encode {
            fn bytes(&self) -> Vec<u8>;
        }
        impl<T: serde::Serialize> Encode for T {
            fn bytes(&self) -> Vec<u8> {
                postcard::to_allocvec(self).unwrap()
            }
        }
    }
    use super::*;
    use crate::version::{LockMode, Retention};
    use proptest::prelude::*;

    fn arb_record() -> impl Strategy<Value = ObjectRecord> {
        (
            (any::<u64>(), "[0-9a-f]{32}(-[0-9]{1,4})?", any::<u64>()),
            (any::<u64>(), any::<bool>()),
            proptest::option::of(".{0,20}"),
            proptest::collection::vec((".{0,8}", ".{0,8}"), 0..4),
            proptest::collection::vec((any::<[u8; 32]>(), any::<u32>()), 0..5),
            (proptest::option::of(any::<u64>()), any::<bool>()),
            proptest::option::of((
                any::<[u8; 32]>(),
                proptest::collection::vec(any::<u8>(), 0..64),
            )),
        )
            .prop_map(
                |(
                    (size, etag, modified_ms),
                    (seq, null),
                    content_type,
                    user,
                    chunks,
                    lock,
                    inline,
                )| {
                    ObjectRecord {
                        size,
                        etag,
                        modified_ms,
                        version: VersionStamp { seq, null },
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
                        lock: ObjectLock {
                            retention: lock.0.map(|until_ms| Retention {
                                mode: LockMode::Compliance,
                                until_ms,
                            }),
                            legal_hold: lock.1,
                        },
                        encryption: if lock.1 {
                            Encryption::Customer {
                                key_mac: [seq.to_le_bytes()[0]; 32],
                            }
                        } else {
                            Encryption::Coffer
                        },
                        inline: inline.map(|(id, sealed)| InlineBody {
                            id: ChunkId(id),
                            sealed,
                        }),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn versions_3_and_4_still_read(record in arb_record(), tagged in any::<bool>()) {
            let mut record = record;
            let old_meta = ObjectMetaV4 {
                content_type: record.meta.content_type.clone(),
                content_encoding: None,
                content_disposition: None,
                content_language: None,
                cache_control: None,
                expires: None,
                user: record.meta.user.clone(),
                checksums: vec![],
                grants: vec![],
            };
            let v4 = ObjectRecordV4 {
                size: record.size,
                etag: record.etag.clone(),
                modified_ms: record.modified_ms,
                version: record.version,
                meta: old_meta.clone(),
                chunks: record.chunks.clone(),
                lock: record.lock,
                encryption: record.encryption,
                inline: record.inline.clone(),
            };
            let with_version = |version: u8, old: &dyn erased::Encode| {
                let mut bytes = vec![version];
                bytes.extend(old.bytes());
                bytes
            };
            // A version 5 record with tags never equals an old one's decoding.
            if tagged {
                record.meta.tags = vec![("k".into(), "v".into())];
                prop_assert_ne!(decode::<ObjectRecord>(&with_version(4, &v4), "object").unwrap(), record.clone());
                record.meta.tags.clear();
            }
            prop_assert_eq!(decode::<ObjectRecord>(&with_version(4, &v4), "object").unwrap(), record.clone());
            let v4_version = VersionRecordV4::Object(v4);
            prop_assert_eq!(
                decode::<VersionRecord>(&with_version(4, &v4_version), "version").unwrap(),
                VersionRecord::Object(record.clone())
            );
            let (head, _) = decode_prefix::<VersionHead>(&with_version(4, &v4_version), "version").unwrap();
            prop_assert!(matches!(head, VersionHead::Object(_)));
            let record = ObjectRecord { inline: None, ..record };
            let v3 = ObjectRecordV3 {
                size: record.size,
                etag: record.etag.clone(),
                modified_ms: record.modified_ms,
                version: record.version,
                meta: old_meta,
                chunks: record.chunks.clone(),
                lock: record.lock,
                encryption: record.encryption,
            };
            let (head, _) = decode_prefix::<ObjectHead>(&with_version(3, &v3), "object").unwrap();
            prop_assert_eq!(head.version, record.version);
            prop_assert_eq!(decode::<ObjectRecord>(&with_version(3, &v3), "object").unwrap(), record.clone());
            let v3_version = VersionRecordV3::Object(v3);
            prop_assert_eq!(
                decode::<VersionRecord>(&with_version(3, &v3_version), "version").unwrap(),
                VersionRecord::Object(record)
            );
        }

        #[test]
        fn object_record_round_trip(record in arb_record()) {
            let bytes = encode(&record);
            prop_assert_eq!(decode::<ObjectRecord>(&bytes, "object").unwrap(), record.clone());
            let (head, _) = decode_prefix::<ObjectHead>(&bytes, "object").unwrap();
            prop_assert_eq!(head.size, record.size);
            prop_assert_eq!(&head.etag, &record.etag);
            prop_assert_eq!(head.version, record.version);
            let version = VersionRecord::Object(record.clone());
            let bytes = encode(&version);
            prop_assert_eq!(decode::<VersionRecord>(&bytes, "version").unwrap(), version);
            let (head, _) = decode_prefix::<VersionHead>(&bytes, "version").unwrap();
            prop_assert!(matches!(head, VersionHead::Object(h) if h.version == record.version));
        }

        #[test]
        fn damaged_record_is_corrupt_or_different(record in arb_record(), cut in 1usize..8) {
            let bytes = encode(&record);
            let truncated = &bytes[..bytes.len().saturating_sub(cut)];
            prop_assert!(decode::<ObjectRecord>(truncated, "object").is_err());
            let mut other_version = bytes.clone();
            for v in [0, 1, 2, 6] {
                other_version[0] = v;
                prop_assert!(decode::<ObjectRecord>(&other_version, "object").is_err());
            }
        }
    }

    #[test]
    fn delete_markers_decode_as_heads() {
        let marker = VersionRecord::DeleteMarker(MarkerRecord {
            modified_ms: 7,
            version: VersionStamp {
                seq: 9,
                null: false,
            },
        });
        let bytes = encode(&marker);
        let (head, rest) = decode_prefix::<VersionHead>(&bytes, "version").unwrap();
        assert!(rest.is_empty());
        assert!(matches!(head, VersionHead::DeleteMarker(m) if m.version.seq == 9));
    }

    #[test]
    fn object_records_carry_typed_grants_and_locks() {
        use crate::object::{ObjectGrant, ObjectPermission};
        let record = ObjectRecord {
            size: 1,
            etag: "e".into(),
            modified_ms: 2,
            version: VersionStamp {
                seq: 3,
                null: false,
            },
            meta: ObjectMeta {
                grants: vec![ObjectGrant {
                    grantee: "AIDA1".into(),
                    permission: ObjectPermission::FullControl,
                }],
                ..ObjectMeta::default()
            },
            chunks: vec![],
            lock: ObjectLock {
                retention: Some(Retention {
                    mode: LockMode::Governance,
                    until_ms: 5,
                }),
                legal_hold: true,
            },
            encryption: Encryption::Customer { key_mac: [9; 32] },
            inline: None,
        };
        let bytes = encode(&record);
        assert_eq!(bytes[0], 5);
        // Permissions and modes are variant indexes, not names.
        for name in [&b"Full"[..], b"FULL", b"GOVERN", b"Govern", b"ON"] {
            assert!(!bytes.windows(name.len()).any(|w| w == name), "{name:?}");
        }
        assert_eq!(decode::<ObjectRecord>(&bytes, "object").unwrap(), record);
    }
}
