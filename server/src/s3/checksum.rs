//! Checksums of multipart objects, as AWS computes them.
//!
//! A multipart object's checksum is either
//! - `COMPOSITE` (CRC32, CRC32C, SHA1, SHA256): the algorithm over the concatenated raw
//!   part checksums, written `base64-N`; or
//! - `FULL_OBJECT` (CRC64NVME always; CRC32 and CRC32C on request): the CRC of the whole
//!   object. We get it without reading the object again by combining the parts' CRCs
//!   (zlib's `crc32_combine`, generalised to any reflected CRC with all-ones init and
//!   xor-out, which these three are).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_storage::{ChecksumAlgorithm, ChecksumType};
use s3s::{S3Result, s3_error};

/// An algorithm named by a client (`x-amz-checksum-algorithm`, `x-amz-sdk-checksum-algorithm`
/// or `ChecksumAlgorithm` in XML). Case is not significant: SDKs have sent lower case.
pub(crate) fn parse_algorithm(name: &str) -> S3Result<ChecksumAlgorithm> {
    ChecksumAlgorithm::ALL
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "Checksum algorithm provided is unsupported."
            )
        })
}

/// [`parse_algorithm`] of an optional s3s field.
pub(crate) fn algorithm_of(
    alg: Option<&s3s::dto::ChecksumAlgorithm>,
) -> S3Result<Option<ChecksumAlgorithm>> {
    alg.map(|a| parse_algorithm(a.as_str())).transpose()
}

/// The s3s form of an algorithm, for responses.
pub(crate) fn s3_algorithm(alg: ChecksumAlgorithm) -> s3s::dto::ChecksumAlgorithm {
    s3s::dto::ChecksumAlgorithm::from_static(alg.as_str())
}

/// The s3s form of a checksum type, for responses.
pub(crate) fn s3_type(t: ChecksumType) -> s3s::dto::ChecksumType {
    s3s::dto::ChecksumType::from_static(t.as_str())
}

/// Reflected polynomial and width of the CRCs that can be combined.
fn crc_params(alg: ChecksumAlgorithm) -> Option<(u64, usize)> {
    match alg {
        ChecksumAlgorithm::Crc32 => Some((0xEDB8_8320, 32)),
        ChecksumAlgorithm::Crc32c => Some((0x82F6_3B78, 32)),
        ChecksumAlgorithm::Crc64Nvme => Some((0x9A6C_9329_AC4B_C9B5, 64)),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// The checksum type an upload gets: the one asked for if the algorithm allows it, else
/// the algorithm's default (FULL_OBJECT for CRC64NVME, COMPOSITE for the others).
/// `requested` is the client's `x-amz-checksum-type` as sent.
pub(crate) fn resolve_type(
    algorithm: Option<ChecksumAlgorithm>,
    requested: Option<&str>,
) -> S3Result<Option<ChecksumType>> {
    let Some(alg) = algorithm else {
        if requested.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            ));
        }
        return Ok(None);
    };
    let full_ok = crc_params(alg).is_some();
    let composite_ok = alg != ChecksumAlgorithm::Crc64Nvme;
    let requested = match requested {
        // An unknown type is as unsupported as a known one this algorithm cannot have.
        Some(name) => name.parse().ok(),
        None if composite_ok => Some(ChecksumType::Composite),
        None => Some(ChecksumType::FullObject),
    };
    match requested {
        Some(ChecksumType::FullObject) if full_ok => Ok(Some(ChecksumType::FullObject)),
        Some(ChecksumType::Composite) if composite_ok => Ok(Some(ChecksumType::Composite)),
        _ => Err(s3_error!(
            InvalidRequest,
            "The checksum type is not supported for this checksum algorithm."
        )),
    }
}

/// The type of a stored object checksum: composite values end in `-N`.
pub(crate) fn type_of(value: &str) -> ChecksumType {
    if value.contains('-') {
        ChecksumType::Composite
    } else {
        ChecksumType::FullObject
    }
}

/// `COMPOSITE`: the algorithm over the concatenated raw part checksums, `base64-N`.
/// `None` if a part value does not decode.
pub(crate) fn composite(alg: ChecksumAlgorithm, parts: &[&str]) -> Option<String> {
    let mut raw = Vec::with_capacity(parts.len() * 32);
    for p in parts {
        raw.extend(BASE64.decode(p.trim()).ok()?);
    }
    Some(format!(
        "{}-{}",
        BASE64.encode(digest(alg, &raw)),
        parts.len()
    ))
}

fn digest(alg: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    use s3s::crypto::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
    fn run<C: s3s::crypto::Checksum>(data: &[u8]) -> Vec<u8> {
        let mut c = C::new();
        c.update(data);
        c.finalize().as_ref().to_vec()
    }
    match alg {
        ChecksumAlgorithm::Crc32 => run::<Crc32>(data),
        ChecksumAlgorithm::Crc32c => run::<Crc32c>(data),
        ChecksumAlgorithm::Crc64Nvme => run::<Crc64Nvme>(data),
        ChecksumAlgorithm::Sha1 => run::<Sha1>(data),
        ChecksumAlgorithm::Sha256 => run::<Sha256>(data),
    }
}

/// `FULL_OBJECT`: the CRC of the whole object from `(base64 part CRC, part size)`.
/// `None` for an algorithm that cannot be combined or a value that does not decode.
pub(crate) fn full_object(alg: ChecksumAlgorithm, parts: &[(&str, u64)]) -> Option<String> {
    let (poly, width) = crc_params(alg)?;
    let bytes = width / 8;
    let mut crc: Option<u64> = None;
    for (value, len) in parts {
        let raw = BASE64.decode(value.trim()).ok()?;
        if raw.len() != bytes {
            return None;
        }
        // Network order on the wire.
        let part = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        crc = Some(match crc {
            None => part,
            Some(prev) => combine(prev, part, *len, poly, width),
        });
    }
    let crc = crc?;
    let out: Vec<u8> = (0..bytes)
        .rev()
        .map(|i| u8::try_from((crc >> (i * 8)) & 0xff).unwrap_or(0))
        .collect();
    Some(BASE64.encode(out))
}

fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(square: &mut [u64; 64], mat: &[u64; 64], width: usize) {
    for n in 0..width {
        square[n] = gf2_times(mat, mat[n]);
    }
}

/// CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)` (zlib's algorithm).
fn combine(mut crc1: u64, crc2: u64, mut len2: u64, poly: u64, width: usize) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    // The operator for one zero bit.
    odd[0] = poly;
    let mut row = 1u64;
    for slot in odd.iter_mut().take(width).skip(1) {
        *slot = row;
        row <<= 1;
    }
    gf2_square(&mut even, &odd, width); // two zero bits
    gf2_square(&mut odd, &even, width); // four zero bits
    loop {
        gf2_square(&mut even, &odd, width);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        gf2_square(&mut odd, &even, width);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

#[cfg(test)]
mod tests {
    use super::*;

    use ChecksumAlgorithm::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};

    fn b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        BASE64.encode(digest(alg, data))
    }

    #[test]
    fn crc64nvme_check_value() {
        assert_eq!(
            digest(Crc64Nvme, b"123456789"),
            0xAE8B_1486_0A79_9888_u64
                .to_le_bytes()
                .iter()
                .rev()
                .copied()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn combined_crcs_equal_the_crc_of_the_whole() {
        let a: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let b: Vec<u8> = (0..33_333u32).map(|i| (i * 13 % 241) as u8).collect();
        let c = b"tail".to_vec();
        let whole: Vec<u8> = [a.clone(), b.clone(), c.clone()].concat();
        for alg in [Crc32, Crc32c, Crc64Nvme] {
            let parts = [
                (b64(alg, &a), a.len() as u64),
                (b64(alg, &b), b.len() as u64),
                (b64(alg, &c), c.len() as u64),
            ];
            let refs: Vec<(&str, u64)> = parts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
            assert_eq!(full_object(alg, &refs).unwrap(), b64(alg, &whole), "{alg}");
        }
        assert!(full_object(Sha256, &[]).is_none());
    }

    #[test]
    fn composite_is_digest_of_digests() {
        let p1 = b64(Sha256, b"one");
        let p2 = b64(Sha256, b"two");
        let mut raw = digest(Sha256, b"one");
        raw.extend(digest(Sha256, b"two"));
        assert_eq!(
            composite(Sha256, &[&p1, &p2]).unwrap(),
            format!("{}-2", b64(Sha256, &raw))
        );
        assert_eq!(type_of("abc=-2"), ChecksumType::Composite);
        assert_eq!(type_of("abc="), ChecksumType::FullObject);
    }

    #[test]
    fn checksum_types_follow_aws() {
        use ChecksumType::{Composite, FullObject};
        assert_eq!(
            resolve_type(Some(Crc64Nvme), None).unwrap(),
            Some(FullObject)
        );
        assert_eq!(resolve_type(Some(Sha1), None).unwrap(), Some(Composite));
        assert!(resolve_type(Some(Sha1), Some("FULL_OBJECT")).is_err());
        assert!(resolve_type(Some(Crc64Nvme), Some("COMPOSITE")).is_err());
        assert!(resolve_type(Some(Crc32), Some("PARTIAL")).is_err());
        assert_eq!(
            resolve_type(Some(Crc32), Some("FULL_OBJECT")).unwrap(),
            Some(FullObject)
        );
        assert!(resolve_type(None, Some("COMPOSITE")).is_err());
        assert_eq!(resolve_type(None, None).unwrap(), None);
    }

    #[test]
    fn client_algorithm_names_fold_case_and_unknown_ones_are_refused() {
        assert_eq!(parse_algorithm("crc64nvme").unwrap(), Crc64Nvme);
        assert_eq!(parse_algorithm("SHA256").unwrap(), Sha256);
        let e = parse_algorithm("MD4").unwrap_err();
        assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidRequest);
        assert_eq!(s3_algorithm(Crc32c).as_str(), "CRC32C");
        assert_eq!(s3_type(ChecksumType::FullObject).as_str(), "FULL_OBJECT");
    }
}
