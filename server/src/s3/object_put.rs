//! PutObject: stream, verify, then commit.

use super::Coffer;
use super::body::{Expectations, ingest};
use super::bucket_access::{caller, owned_bucket};
use super::error_map::storage_error;
use super::object_headers::{RequestHeaders, checksum_fields, meta_from_request};
use s3s::dto::{ETag, PutObjectInput, PutObjectOutput, ServerSideEncryption};
use s3s::{S3Request, S3Response, S3Result, s3_error};

pub(crate) async fn put_object(
    coffer: &Coffer,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let principal = caller(coffer, &req)?;
    let trailers = req.trailing_headers;
    let input = req.input;
    refuse_unsupported(&input)?;
    let bucket = owned_bucket(coffer, &principal, &input.bucket).await?;

    let meta = meta_from_request(RequestHeaders {
        content_type: input.content_type,
        content_encoding: input.content_encoding,
        content_disposition: input.content_disposition,
        content_language: input.content_language,
        cache_control: input.cache_control,
        expires: input.expires,
        metadata: input.metadata,
    })?;
    let expect = Expectations {
        content_length: input.content_length,
        content_md5: input.content_md5,
        algorithm: input.checksum_algorithm,
        trailers,
        ..Default::default()
    }
    .with_checksum_fields(
        input.checksum_crc32,
        input.checksum_crc32c,
        input.checksum_crc64nvme,
        input.checksum_sha1,
        input.checksum_sha256,
    );

    let ingested = ingest(&coffer.store, &bucket, input.body, expect).await?;
    let meta = coffer_storage::ObjectMeta {
        checksums: ingested.checksums,
        ..meta
    };
    let info = coffer
        .store
        .commit_object(&bucket, &input.key, ingested.staged, meta)
        .await
        .map_err(storage_error)?;

    let sums = checksum_fields(&info.meta);
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(ETag::Strong(info.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        server_side_encryption: Some(ServerSideEncryption::from_static(
            ServerSideEncryption::AES256,
        )),
        size: i64::try_from(info.size).ok(),
        ..Default::default()
    }))
}

/// Features a PUT can ask for that Coffer does not have yet. Refusing them is
/// better than storing an object that silently lacks what was asked.
fn refuse_unsupported(input: &PutObjectInput) -> S3Result<()> {
    if input.if_match.is_some() || input.if_none_match.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Conditional writes are not supported yet."
        ));
    }
    if input.tagging.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Object tagging is not supported yet."
        ));
    }
    if input.object_lock_mode.is_some()
        || input.object_lock_retain_until_date.is_some()
        || input.object_lock_legal_hold_status.is_some()
    {
        return Err(s3_error!(
            NotImplemented,
            "Object Lock is not supported yet."
        ));
    }
    if input.write_offset_bytes.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Appending writes are not supported."
        ));
    }
    if input.sse_customer_algorithm.is_some() || input.sse_customer_key.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "SSE-C is not supported: Coffer encrypts every object with its own keys."
        ));
    }
    if let Some(sse) = &input.server_side_encryption {
        // Every object is sealed at rest anyway; AES256 asks for exactly that.
        if sse.as_str() != ServerSideEncryption::AES256 {
            return Err(s3_error!(
                NotImplemented,
                "Only AES256 server-side encryption is available (and always on)."
            ));
        }
    }
    Ok(())
}
