//! Stored object headers: from a request into `ObjectMeta`, and back out.
//!
//! S3 keeps Content-Type and friends, `Expires`, user metadata and the
//! verified checksums with the object; all of it is sealed by storage. This
//! module is the single mapping between the wire fields and the record.

use crate::limits::USER_METADATA_MAX;
use coffer_storage::{Checksum, ChecksumAlgorithm, ObjectMeta};
use s3s::dto::{Metadata, Timestamp, TimestampFormat};
use s3s::{S3Result, s3_error};

/// What S3 answers as `Content-Type` when none was given.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The wire fields that describe an object's representation.
#[derive(Default)]
pub(crate) struct RequestHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<Timestamp>,
    pub metadata: Option<Metadata>,
    /// `x-amz-tagging`.
    pub tagging: Option<String>,
}

/// Builds the record to store, refusing metadata above the AWS limit.
pub(crate) fn meta_from_request(h: RequestHeaders) -> S3Result<ObjectMeta> {
    let mut user: Vec<(String, String)> = h
        .metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let size: usize = user.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > USER_METADATA_MAX {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size (2 KB)."
        ));
    }
    user.sort();
    Ok(ObjectMeta {
        // S3 reports this type for objects stored without one.
        content_type: Some(
            h.content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        ),
        content_encoding: h.content_encoding.and_then(|e| strip_aws_chunked(&e)),
        content_disposition: h.content_disposition,
        content_language: h.content_language,
        cache_control: h.cache_control,
        expires: h.expires.as_ref().and_then(format_http_date),
        user,
        checksums: Vec::new(),
        // Set by the handler from the request's ACL (s3/acl.rs).
        grants: Vec::new(),
        tags: super::tagging::from_header(h.tagging.as_deref())?,
    })
}

/// `aws-chunked` describes the upload framing, not the object; AWS does not
/// store it. Returns what is left, if anything.
fn strip_aws_chunked(encoding: &str) -> Option<String> {
    let kept: Vec<&str> = encoding
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

fn format_http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// The stored `Expires` back as a timestamp (it was formatted by us).
pub(crate) fn expires(meta: &ObjectMeta) -> Option<Timestamp> {
    meta.expires
        .as_deref()
        .and_then(|s| Timestamp::parse(TimestampFormat::HttpDate, s).ok())
}

/// User metadata in the shape s3s serialises as `x-amz-meta-*`.
pub(crate) fn user_metadata(meta: &ObjectMeta) -> Option<Metadata> {
    (!meta.user.is_empty()).then(|| meta.user.iter().cloned().collect())
}

/// Stored checksums, as the five optional output fields.
#[derive(Default)]
pub(crate) struct ChecksumFields {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

pub(crate) fn checksum_fields(meta: &ObjectMeta) -> ChecksumFields {
    checksum_fields_of(&meta.checksums)
}

/// [`checksum_fields`] of an object's or a part's checksums.
pub(crate) fn checksum_fields_of(checksums: &[Checksum]) -> ChecksumFields {
    let mut out = ChecksumFields::default();
    for c in checksums {
        let slot = match c.algorithm {
            ChecksumAlgorithm::Crc32 => &mut out.crc32,
            ChecksumAlgorithm::Crc32c => &mut out.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut out.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut out.sha1,
            ChecksumAlgorithm::Sha256 => &mut out.sha256,
        };
        *slot = Some(c.value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_over_two_kilobytes_is_refused() {
        let mut m = Metadata::new();
        m.insert("a".into(), "x".repeat(2047));
        assert!(
            meta_from_request(RequestHeaders {
                metadata: Some(m.clone()),
                ..Default::default()
            })
            .is_ok()
        );
        m.insert("b".into(), "y".into());
        let err = meta_from_request(RequestHeaders {
            metadata: Some(m),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::MetadataTooLarge);
    }

    #[test]
    fn aws_chunked_is_not_stored_as_content_encoding() {
        assert_eq!(strip_aws_chunked("aws-chunked"), None);
        assert_eq!(
            strip_aws_chunked("aws-chunked,gzip").as_deref(),
            Some("gzip")
        );
        assert_eq!(strip_aws_chunked("gzip").as_deref(), Some("gzip"));
    }

    #[test]
    fn expires_round_trips_through_the_record() {
        let t =
            Timestamp::parse(TimestampFormat::HttpDate, "Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let meta = meta_from_request(RequestHeaders {
            expires: Some(t.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(expires(&meta), Some(t));
    }
}
