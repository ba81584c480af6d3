//! The closed sets of S3 checksums as types: which algorithm, which multipart type.
//!
//! Records on disk hold these as variant indexes rather than their AWS names, so a name
//! the server never accepted cannot be stored, and a record is a few bytes shorter. The
//! AWS names exist only at the edges: [`ChecksumAlgorithm::as_str`] and the `FromStr`
//! impls, for the server's headers and XML.

use std::fmt;
use std::str::FromStr;

/// A checksum algorithm S3 defines. Stored as its variant index: never reorder, only
/// append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChecksumAlgorithm {
    /// `CRC32` (ISO-HDLC, as zlib).
    Crc32,
    /// `CRC32C` (Castagnoli).
    Crc32c,
    /// `CRC64NVME`.
    Crc64Nvme,
    /// `SHA1`.
    Sha1,
    /// `SHA256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in the order S3 lists their `x-amz-checksum-*` fields.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The AWS name, as in `x-amz-checksum-algorithm`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = UnknownName;

    /// From the exact AWS name; a caller that accepts other spellings folds case first.
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or(UnknownName {
                what: "checksum algorithm",
            })
    }
}

/// How a multipart object's checksum derives from its parts'. Stored as its variant
/// index: never reorder, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChecksumType {
    /// `FULL_OBJECT`: the checksum of the whole object.
    FullObject,
    /// `COMPOSITE`: the checksum of the parts' checksums, written `base64-N`.
    Composite,
}

impl ChecksumType {
    /// Both types.
    pub const ALL: [ChecksumType; 2] = [ChecksumType::FullObject, ChecksumType::Composite];

    /// The AWS name, as in `x-amz-checksum-type`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumType {
    type Err = UnknownName;

    /// From the exact AWS name.
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        ChecksumType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or(UnknownName {
                what: "checksum type",
            })
    }
}

/// A name that is not one of the AWS names of a checksum algorithm or type.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
#[error("not a known {what} name")]
pub struct UnknownName {
    what: &'static str,
}

/// A verified checksum kept with an object or a part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Base64 as S3 writes it; a composite multipart value is `base64-N`.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{PartRecord, UploadRecord};
    use crate::object::ObjectMeta;
    use crate::records::{self, ObjectRecord};

    fn contains(bytes: &[u8], name: &str) -> bool {
        bytes.windows(name.len()).any(|w| w == name.as_bytes())
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<ChecksumAlgorithm>(), Ok(a));
        }
        for t in ChecksumType::ALL {
            assert_eq!(t.as_str().parse::<ChecksumType>(), Ok(t));
        }
        assert!("crc32".parse::<ChecksumAlgorithm>().is_err());
        assert!("MD5".parse::<ChecksumAlgorithm>().is_err());
        assert!("FULL".parse::<ChecksumType>().is_err());
    }

    /// The variant index is the stored form: moving a variant would silently change what
    /// every existing record means.
    #[test]
    fn variant_indexes_are_fixed() {
        let algs: Vec<u8> = ChecksumAlgorithm::ALL
            .iter()
            .map(|a| postcard::to_allocvec(a).unwrap()[0])
            .collect();
        assert_eq!(algs, [0, 1, 2, 3, 4]);
        assert_eq!(
            postcard::to_allocvec(&ChecksumType::FullObject).unwrap(),
            [0]
        );
        assert_eq!(
            postcard::to_allocvec(&ChecksumType::Composite).unwrap(),
            [1]
        );
    }

    #[test]
    fn object_records_carry_typed_checksums() {
        let record = ObjectRecord {
            size: 1,
            etag: "e".into(),
            modified_ms: 2,
            version: crate::records::VersionStamp {
                seq: 1,
                null: false,
            },
            meta: ObjectMeta {
                checksums: vec![
                    Checksum {
                        algorithm: ChecksumAlgorithm::Crc64Nvme,
                        value: "AAAAAAAAAAA=".into(),
                    },
                    Checksum {
                        algorithm: ChecksumAlgorithm::Sha256,
                        value: "AAAA-2".into(),
                    },
                ],
                ..ObjectMeta::default()
            },
            chunks: vec![],
            lock: crate::version::ObjectLock::default(),
            encryption: crate::keys::encryption::Encryption::Coffer,
            inline: None,
        };
        let bytes = records::encode(&record);
        // The algorithm is its variant index, not its name.
        assert!(!contains(&bytes, "CRC") && !contains(&bytes, "SHA"));
        assert!(!contains(&bytes, "Crc") && !contains(&bytes, "Sha"));
        assert_eq!(
            records::decode::<ObjectRecord>(&bytes, "object").unwrap(),
            record
        );
    }

    #[test]
    fn upload_and_part_records_carry_typed_checksums() {
        let upload = UploadRecord {
            key: "k".into(),
            created_ms: 1,
            meta: ObjectMeta::default(),
            checksum_algorithm: Some(ChecksumAlgorithm::Crc32c),
            checksum_type: Some(ChecksumType::FullObject),
            completed: None,
            lock: crate::version::ObjectLock::default(),
            encryption: crate::keys::encryption::Encryption::Coffer,
        };
        let bytes = records::encode(&upload);
        assert!(!contains(&bytes, "CRC") && !contains(&bytes, "FULL"));
        assert_eq!(
            records::decode::<UploadRecord>(&bytes, "upload").unwrap(),
            upload
        );

        let part = PartRecord {
            size: 3,
            md5: [0; 16],
            modified_ms: 4,
            checksums: vec![Checksum {
                algorithm: ChecksumAlgorithm::Sha1,
                value: "AAAA".into(),
            }],
            chunks: vec![],
        };
        let bytes = records::encode(&part);
        assert!(!contains(&bytes, "SHA"));
        assert_eq!(records::decode::<PartRecord>(&bytes, "part").unwrap(), part);
    }
}
