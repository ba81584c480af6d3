//! GetObject and HeadObject: conditionals, ranges, and the stored headers.

use super::Coffer;
use super::checksum::{s3_type, type_of};
use super::conditional::{Conditions, check_read};
use super::error_map::storage_error;
use super::lifecycle;
use super::object_headers::{checksum_fields, expires, user_metadata};
use super::sealing::{self, Caller, Echo, KmsUse, echo_into};
use super::sse_c::{self, SseC};
use super::versioning::{lock_headers, read_error, version_ref};
use crate::client::Client;
use coffer_storage::ObjectInfo;
use s3s::dto::{
    ChecksumMode, ETag, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput,
    PartNumber, Range, StreamingBlob, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// What GET and HEAD share: the object, which bytes of it, and whether to
/// return checksums.
struct Resolved {
    obj: ObjectInfo,
    range: Option<std::ops::Range<u64>>,
    with_checksums: bool,
    /// Set when a part of a multipart object was asked for (`x-amz-mp-parts-count`).
    parts_count: Option<i32>,
    /// The request's SSE-C key, checked against the object.
    customer: Option<SseC>,
    /// `x-amz-expiration`, from the bucket's lifecycle rules.
    expiration: Option<String>,
}

struct ReadRequest<'a> {
    bucket: &'a str,
    key: &'a str,
    conditions: Conditions<'a>,
    range: Option<&'a Range>,
    part_number: Option<PartNumber>,
    checksum_mode: Option<&'a ChecksumMode>,
    version_id: Option<&'a str>,
    sse_c: sse_c::Headers<'a>,
    client: Option<&'a Client>,
}

async fn resolve(coffer: &Coffer, r: ReadRequest<'_>) -> S3Result<Resolved> {
    let customer = sse_c::parse(&r.sse_c, r.client)?;
    let version = version_ref(r.version_id)?;
    let (bucket, rules) = lifecycle::bucket_with_lifecycle(coffer, r.bucket).await?;
    let obj = coffer
        .store
        .head_version(&bucket, r.key, version)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    // The key is checked before conditionals, as AWS does: a wrong key never learns
    // whether an ETag matches.
    sealing::check_customer(coffer, &obj, customer.as_ref()).await?;
    check_read(&r.conditions, &obj)?;

    let mut parts_count = None;
    let range = match (r.part_number, r.range) {
        (Some(_), Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber."
            ));
        }
        (Some(n), None) => {
            let parts = coffer
                .store
                .object_parts(&obj)
                .await
                .map_err(storage_error)?;
            match parts {
                Some(parts) => {
                    let part = usize::try_from(n)
                        .ok()
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|i| parts.get(i))
                        .ok_or_else(part_not_satisfiable)?;
                    parts_count = i32::try_from(parts.len()).ok();
                    Some(part.range.clone())
                }
                // A single-part object is its own part 1.
                None if n == 1 => None,
                None => return Err(part_not_satisfiable()),
            }
        }
        (None, None) => None,
        (None, Some(range)) => Some(range.check(obj.size)?),
    };
    let with_checksums = r
        .checksum_mode
        .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
        && range.is_none();
    let expiration = lifecycle::expiration_of(rules.as_ref(), &obj);
    Ok(Resolved {
        obj,
        range,
        with_checksums,
        parts_count,
        customer,
        expiration,
    })
}

fn part_not_satisfiable() -> s3s::S3Error {
    s3_error!(InvalidRange, "The requested partnumber is not satisfiable.")
}

fn content_range(range: &std::ops::Range<u64>, total: u64) -> String {
    format!(
        "bytes {}-{}/{}",
        range.start,
        range.end.saturating_sub(1),
        total
    )
}

fn length_i64(n: u64) -> S3Result<i64> {
    i64::try_from(n).map_err(|_| s3_error!(InternalError, "Object size out of range."))
}

/// Fills the headers GET and HEAD share, for either output type (the two
/// s3s types have the same field names but no common trait).
macro_rules! describe {
    ($ty:ident, $resolved:expr, $echo:expr, { $($extra:tt)* }) => {{
        let Resolved { obj, range, with_checksums, parts_count, customer: _, expiration } =
            $resolved;
        let bytes = range.clone().unwrap_or(0..obj.size);
        let sums = if with_checksums { checksum_fields(&obj.meta) } else { Default::default() };
        let lock = lock_headers(&obj);
        let mut out = $ty {
            version_id: obj.version_id.clone(),
            object_lock_mode: lock.mode,
            object_lock_retain_until_date: lock.until,
            object_lock_legal_hold_status: lock.legal_hold,
            content_length: Some(length_i64(bytes.end - bytes.start)?),
            content_range: range.as_ref().map(|r| content_range(r, obj.size)),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(ETag::Strong(obj.etag.clone())),
            last_modified: Some(Timestamp::from(obj.last_modified)),
            content_type: obj.meta.content_type.clone(),
            content_encoding: obj.meta.content_encoding.clone(),
            content_disposition: obj.meta.content_disposition.clone(),
            content_language: obj.meta.content_language.clone(),
            cache_control: obj.meta.cache_control.clone(),
            expires: expires(&obj.meta),
            metadata: user_metadata(&obj.meta),
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
            checksum_type: if with_checksums {
                obj.meta.checksums.first().map(|c| s3_type(type_of(&c.value)))
            } else {
                None
            },
            parts_count,
            expiration,
            $($extra)*
            ..Default::default()
        };
        echo_into!(out, $echo);
        out
    }};
}

macro_rules! read_request {
    ($input:expr, $client:expr) => {
        ReadRequest {
            bucket: &$input.bucket,
            key: &$input.key,
            conditions: Conditions {
                if_match: $input.if_match.as_ref(),
                if_none_match: $input.if_none_match.as_ref(),
                if_modified_since: $input.if_modified_since.as_ref(),
                if_unmodified_since: $input.if_unmodified_since.as_ref(),
            },
            range: $input.range.as_ref(),
            part_number: $input.part_number,
            checksum_mode: $input.checksum_mode.as_ref(),
            version_id: $input.version_id.as_deref(),
            sse_c: sse_c::headers_of!($input),
            client: $client,
        }
    };
}

pub(crate) async fn get_object(
    coffer: &Coffer,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let client = req.extensions.get::<Client>();
    let caller = Caller::of(coffer, &req);
    let mut resolved = resolve(coffer, read_request!(req.input, client)).await?;
    // Only now the KMS key, if any: a read that fails its conditions never touches it.
    let sealing = sealing::for_stored(
        coffer,
        resolved.obj.encryption,
        resolved.customer.take(),
        &caller,
        KmsUse::Open,
    )
    .await?;
    let bytes = resolved.range.clone().unwrap_or(0..resolved.obj.size);
    let body = coffer
        .store
        .read_object_with(&resolved.obj, bytes, sealing.key.as_ref());
    // As AWS: the tag count on GET only (HEAD has no such header).
    let tag_count = super::tagging::count(&resolved.obj.meta.tags);
    Ok(S3Response::new(describe!(
        GetObjectOutput,
        resolved,
        sealing.echo,
        { body: Some(StreamingBlob::wrap(body)), tag_count, }
    )))
}

pub(crate) async fn head_object(
    coffer: &Coffer,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let client = req.extensions.get::<Client>();
    let resolved = resolve(coffer, read_request!(req.input, client)).await?;
    let echo: Echo = sealing::echo_of(coffer, resolved.obj.encryption, resolved.customer.as_ref());
    Ok(S3Response::new(describe!(
        HeadObjectOutput,
        resolved,
        echo,
        {}
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_inclusive() {
        assert_eq!(content_range(&(0..10), 100), "bytes 0-9/100");
        assert_eq!(content_range(&(99..100), 100), "bytes 99-99/100");
    }
}
