//! CopyObject: same bucket links chunks; across buckets, or with an outside key (SSE-C,
//! SSE-KMS) on either end, storage reads and reseals. The copy's encryption is the
//! request's (or the destination bucket's default), never the source's, as in AWS.

use super::Coffer;
use super::acl::new_object_grants;
use super::bucket_access::resolve_bucket;
use super::conditional::{Conditions, check_copy_source};
use super::error_map::storage_error;
use super::lifecycle;
use super::object_headers::{RequestHeaders, meta_from_request};
use super::sealing::{self, Caller, KmsUse, echo_into, write_headers_of};
use super::sse_c;
use super::tagging;
use super::unsupported;
use super::versioning::{lock_of, read_error};
use crate::limits::MAX_COPY_SOURCE;
use coffer_auth::acl::AclPermission;
use coffer_storage::{BucketInfo, ObjectInfo, VersionRef, WriteOptions};
use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, ETag, MetadataDirective, ObjectCannedACL,
    TaggingDirective, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

// One straight line of checks before the copy; splitting it would only scatter them.
#[allow(clippy::too_many_lines)]
pub(crate) async fn copy_object(
    coffer: &Coffer,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let caller = Caller::of(coffer, &req);
    let input = req.input;
    let (src_bucket, src_key, src_version) = unsupported::copy_source(&input.copy_source)?;
    let src_customer = sse_c::parse(&sse_c::copy_source_headers_of!(input), caller.client())?;

    let lock = lock_of(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    let CopyEnds { src, dest_bucket } = resolve_copy(
        coffer,
        (src_bucket, src_key, src_version),
        &input.bucket,
        &Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        },
    )
    .await?;
    if src.size > MAX_COPY_SOURCE {
        return Err(s3_error!(
            InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
        ));
    }

    let replace = match input
        .metadata_directive
        .as_ref()
        .map(MetadataDirective::as_str)
    {
        None | Some(MetadataDirective::COPY) => false,
        Some(MetadataDirective::REPLACE) => true,
        Some(_) => {
            return Err(s3_error!(InvalidArgument, "Unknown metadata directive."));
        }
    };
    // The source's keys first: a copy its caller may not read fails before anything else.
    sealing::check_customer(coffer, &src, src_customer.as_ref()).await?;
    let src_md5 = src_customer.as_ref().map(|c| c.key_md5.clone());
    let source =
        sealing::for_stored(coffer, src.encryption, src_customer, &caller, KmsUse::Open).await?;
    // The destination's settings, in one read: its default encryption and the lifecycle
    // rules for `x-amz-expiration`.
    let (_, default, rules) = sealing::bucket_for_write(coffer, &dest_bucket.name).await?;
    let sealing = sealing::for_write(coffer, &default, &write_headers_of!(input), &caller).await?;
    // Copying an old version over its key restores it (a new version); only copying the
    // current object onto itself with nothing changed is refused. Asking for encryption
    // (to encrypt an object in place) or a change of customer key is a change of encryption
    // attributes, as in AWS.
    let same_keys = sealing.echo.customer_key_md5 == src_md5;
    if !replace
        && same_keys
        && input.server_side_encryption.is_none()
        && src.is_current
        && src_bucket == input.bucket.as_str()
        && src_key == input.key.as_str()
    {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    // The copy's ACL is the request's (none: private), never the source's, as in AWS.
    let grants = new_object_grants(
        &coffer.auth,
        &dest_bucket.owner,
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
    let meta = if replace {
        let fresh = meta_from_request(RequestHeaders {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            metadata: input.metadata,
            tagging: None,
        })?;
        // The bytes are the source's, so its verified checksums still hold.
        coffer_storage::ObjectMeta {
            checksums: src.meta.checksums.clone(),
            ..fresh
        }
    } else {
        src.meta.clone()
    };
    // Tags follow their own directive: the source's (COPY, the default) or the request's.
    let tags = match input
        .tagging_directive
        .as_ref()
        .map(TaggingDirective::as_str)
    {
        None | Some(TaggingDirective::COPY) => src.meta.tags.clone(),
        Some(TaggingDirective::REPLACE) => tagging::from_header(input.tagging.as_deref())?,
        Some(_) => return Err(s3_error!(InvalidArgument, "Unknown tagging directive.")),
    };
    let meta = coffer_storage::ObjectMeta {
        grants,
        tags,
        ..meta
    };

    let info = coffer
        .store
        .copy_object_with(
            &src,
            source.key.as_ref(),
            &dest_bucket,
            &input.key,
            meta,
            WriteOptions {
                condition: None,
                lock,
            },
            sealing.key.as_ref(),
        )
        .await
        .map_err(storage_error)?;
    let expiration = lifecycle::expiration_of(rules.as_ref(), &info);
    let mut out = CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(ETag::Strong(info.etag)),
            last_modified: Some(Timestamp::from(info.last_modified)),
            ..Default::default()
        }),
        expiration,
        version_id: info.version_id,
        copy_source_version_id: src.version_id,
        ..Default::default()
    };
    echo_into!(out, sealing.echo, with_context);
    Ok(S3Response::new(out))
}

/// The source object of a copy and the bucket it goes to.
pub(super) struct CopyEnds {
    pub src: ObjectInfo,
    pub dest_bucket: BucketInfo,
}

/// Resolves both ends of a copy (CopyObject, UploadPartCopy): the access layer decided
/// both (read on the source, write on the destination). The source must exist and meet
/// the copy-source conditions; a source named by version id may not be a delete marker.
pub(super) async fn resolve_copy(
    coffer: &Coffer,
    (src_bucket, src_key, src_version): (&str, &str, Option<VersionRef>),
    dest_bucket: &str,
    conditions: &Conditions<'_>,
) -> S3Result<CopyEnds> {
    let source_bucket = resolve_bucket(coffer, src_bucket).await?;
    let dest_bucket = if src_bucket == dest_bucket {
        source_bucket.clone()
    } else {
        resolve_bucket(coffer, dest_bucket).await?
    };
    let src = coffer
        .store
        .head_version(&source_bucket, src_key, src_version)
        .await
        .map_err(|e| match e {
            coffer_storage::Error::DeleteMarker { .. } if src_version.is_some() => s3_error!(
                InvalidRequest,
                "The source of a copy request may not specifically refer to a delete marker by version id."
            ),
            other => read_error(other, false),
        })?;
    check_copy_source(conditions, &src)?;
    Ok(CopyEnds { src, dest_bucket })
}
