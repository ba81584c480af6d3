//! PutObject: stream, verify, then commit.

use super::Coffer;
use super::acl::new_object_grants;
use super::body::{Destination, expectations_of, ingest};
use super::checksum::algorithm_of;
use super::error_map::storage_error;
use super::lifecycle;
use super::object_headers::{RequestHeaders, checksum_fields, meta_from_request};
use super::sealing::{self, Caller, echo_into, write_headers_of};
use super::unsupported::{self, Asks};
use super::versioning::{lock_of, require_integrity, write_precondition};
use coffer_auth::acl::AclPermission;
use coffer_storage::WriteOptions;
use s3s::dto::{ETag, ObjectCannedACL, PutObjectInput, PutObjectOutput};
use s3s::{S3Request, S3Response, S3Result};

pub(crate) async fn put_object(
    coffer: &Coffer,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let caller = Caller::of(coffer, &req);
    let trailers = req.trailing_headers;
    let uri = req.uri;
    let input = req.input;
    unsupported::refuse(&Asks {
        append: input.write_offset_bytes.is_some(),
    })?;
    let condition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let lock = lock_of(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    require_integrity(
        &lock,
        input.content_md5.is_some()
            || input.checksum_algorithm.is_some()
            || input.checksum_crc32.is_some()
            || input.checksum_crc32c.is_some()
            || input.checksum_crc64nvme.is_some()
            || input.checksum_sha1.is_some()
            || input.checksum_sha256.is_some(),
    )?;
    let (bucket, default, rules) = sealing::bucket_for_write(coffer, &input.bucket).await?;
    let sealing = sealing::for_write(coffer, &default, &write_headers_of!(input), &caller).await?;
    // A new object's ACL is the request's (none: private), whatever the old one had.
    let grants = new_object_grants(
        &coffer.auth,
        &bucket.owner,
        input.acl.as_ref().map(ObjectCannedACL::as_str),
        [
            (
                AclPermission::FullControl,
                input.grant_full_control.as_deref(),
            ),
            (AclPermission::Read, input.grant_read.as_deref()),
            (AclPermission::ReadAcp, input.grant_read_acp.as_deref()),
            (AclPermission::WriteAcp, input.grant_write_acp.as_deref()),
        ],
    )?;

    let meta = meta_from_request(RequestHeaders {
        content_type: input.content_type,
        content_encoding: input.content_encoding,
        content_disposition: input.content_disposition,
        content_language: input.content_language,
        cache_control: input.cache_control,
        expires: input.expires,
        metadata: input.metadata,
        tagging: input.tagging,
    })?;
    let algorithm = algorithm_of(input.checksum_algorithm.as_ref())?;
    let expect = expectations_of!(input, algorithm, trailers, &uri);

    let ingested = ingest(
        coffer,
        &bucket,
        input.body,
        expect,
        sealing.key.as_ref(),
        Destination::Object,
    )
    .await?;
    let meta = coffer_storage::ObjectMeta {
        checksums: ingested.checksums,
        grants,
        ..meta
    };
    let info = coffer
        .store
        .commit_object_with(
            &bucket,
            &input.key,
            ingested.staged,
            meta,
            WriteOptions { condition, lock },
        )
        .await
        .map_err(storage_error)?;

    let sums = checksum_fields(&info.meta);
    let mut out = PutObjectOutput {
        expiration: lifecycle::expiration_of(rules.as_ref(), &info),
        e_tag: Some(ETag::Strong(info.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        size: i64::try_from(info.size).ok(),
        version_id: info.version_id,
        ..Default::default()
    };
    echo_into!(out, sealing.echo, with_context);
    Ok(S3Response::new(out))
}
