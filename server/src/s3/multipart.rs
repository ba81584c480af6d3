//! Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
//! ListMultipartUploads.
//!
//! Parts stream through the same verified ingest as PutObject (`body.rs`): Content-MD5,
//! `x-amz-checksum-*` headers and trailers, the decoded length — and nothing is committed
//! unless all of it holds. Completion links the parts' sealed chunks into the object in
//! one index transaction (storage), after the object checksum is derived from the parts'
//! (`checksum.rs`).

use super::Coffer;
use super::acl::new_object_grants;
use super::body::{Destination, Expectations, expectations_of, ingest};
use super::bucket_access::{caller, owner, resolve_bucket};
use super::checksum;
use super::conditional::Conditions;
use super::copy::{CopyEnds, resolve_copy};
use super::error_map::storage_error;
use super::lifecycle;
use super::list::{enc, url_encoding};
use super::object_headers::{
    ChecksumFields, RequestHeaders, checksum_fields, checksum_fields_of, meta_from_request,
};
use super::sealing::{self, Caller, KmsUse, echo_into, write_headers_of};
use super::sse_c;
use super::unsupported;
use super::versioning::{lock_of, write_precondition};
use coffer_auth::acl::AclPermission;
use coffer_storage::{
    Checksum, ChecksumAlgorithm, ChecksumType, MAX_PART_SIZE, MAX_PARTS, ObjectMeta, PartInfo,
    UploadListParams,
};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CommonPrefix,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyPartResult,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag, Initiator,
    ListMultipartUploadsInput, ListMultipartUploadsOutput, ListPartsInput, ListPartsOutput,
    MultipartUpload, ObjectCannedACL, Part, StorageClass, StreamingBlob, Timestamp,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::limits::MAX_KEYS as MAX_PAGE;

fn initiator(principal: &str) -> Initiator {
    Initiator {
        display_name: Some(principal.to_owned()),
        id: Some(principal.to_owned()),
    }
}

fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive."
            )
        })
}

fn page_size(requested: Option<i32>, what: &str) -> S3Result<usize> {
    match requested {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("{what} must be a non-negative integer."),
        )),
        Some(n) => Ok(usize::try_from(n.min(MAX_PAGE)).unwrap_or(1000)),
    }
}

pub(crate) async fn create_multipart_upload(
    coffer: &Coffer,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let caller = Caller::of(coffer, &req);
    let input = req.input;
    let lock = lock_of(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    let (bucket, default, _) = sealing::bucket_for_write(coffer, &input.bucket).await?;
    let sealing = sealing::for_write(coffer, &default, &write_headers_of!(input), &caller).await?;
    let algorithm = checksum::algorithm_of(input.checksum_algorithm.as_ref())?;
    let checksum_type = checksum::resolve_type(
        algorithm,
        input
            .checksum_type
            .as_ref()
            .map(s3s::dto::ChecksumType::as_str),
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
    // Kept with the upload; the completed object gets them.
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
    let meta = ObjectMeta { grants, ..meta };
    let upload = coffer
        .store
        .create_upload_with(
            &bucket,
            &input.key,
            meta,
            algorithm,
            checksum_type,
            lock,
            sealing.key.as_ref(),
        )
        .await
        .map_err(storage_error)?;
    let mut out = CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload.upload_id),
        checksum_algorithm: upload.checksum_algorithm.map(checksum::s3_algorithm),
        checksum_type: upload.checksum_type.map(checksum::s3_type),
        ..Default::default()
    };
    echo_into!(out, sealing.echo, with_context);
    Ok(S3Response::new(out))
}

pub(crate) async fn upload_part(
    coffer: &Coffer,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let caller = Caller::of(coffer, &req);
    let customer = sse_c::parse(&sse_c::headers_of!(req.input), caller.client())?;
    let trailers = req.trailing_headers;
    let uri = req.uri;
    let input = req.input;
    let number = part_number(input.part_number)?;
    if input
        .content_length
        .is_some_and(|n| u64::try_from(n).map_or(true, |n| n > MAX_PART_SIZE))
    {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size."
        ));
    }
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    // Refuse before reading the body if there is no such upload.
    let upload = coffer
        .store
        .upload(&bucket, &input.key, &input.upload_id)
        .await
        .map_err(storage_error)?;
    // Compute the upload's algorithm even if the client did not send it, so the object
    // checksum can be derived at completion.
    let algorithm =
        checksum::algorithm_of(input.checksum_algorithm.as_ref())?.or(upload.checksum_algorithm);
    let expect = expectations_of!(input, algorithm, trailers, &uri);
    // A missing or surplus key is refused before the body is read; a different key
    // is found by its MAC when the part is committed.
    sse_c::matches_upload(upload.encryption, customer.as_ref()).map_err(storage_error)?;
    let sealing =
        sealing::for_stored(coffer, upload.encryption, customer, &caller, KmsUse::Seal).await?;
    let ingested = ingest(
        coffer,
        &bucket,
        input.body,
        expect,
        sealing.key.as_ref(),
        Destination::Part,
    )
    .await?;
    if ingested.staged.size() > MAX_PART_SIZE {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size."
        ));
    }
    let part = coffer
        .store
        .commit_part(
            &bucket,
            &input.key,
            &input.upload_id,
            number,
            ingested.staged,
            ingested.checksums,
        )
        .await
        .map_err(storage_error)?;
    let sums = part_sums(&part);
    let mut out = UploadPartOutput {
        e_tag: Some(ETag::Strong(part.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        ..Default::default()
    };
    echo_into!(out, sealing.echo);
    Ok(S3Response::new(out))
}

fn part_sums(part: &PartInfo) -> ChecksumFields {
    checksum_fields_of(&part.checksums)
}

/// `bytes=a-b` (both inclusive, within the source) as a half-open range.
fn copy_range(text: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = text
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    let last: u64 = last.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok(first..last + 1)
}

// One straight line of checks before the copy; splitting it would only scatter them.
#[allow(clippy::too_many_lines)]
pub(crate) async fn upload_part_copy(
    coffer: &Coffer,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let caller = Caller::of(coffer, &req);
    let input = &req.input;
    let (src_bucket, src_key, src_version) = unsupported::copy_source(&input.copy_source)?;
    let customer = sse_c::parse(&sse_c::headers_of!(input), caller.client())?;
    let src_customer = sse_c::parse(&sse_c::copy_source_headers_of!(input), caller.client())?;
    let number = part_number(input.part_number)?;
    let CopyEnds {
        src,
        dest_bucket: bucket,
    } = resolve_copy(
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
    let upload = coffer
        .store
        .upload(&bucket, &input.key, &input.upload_id)
        .await
        .map_err(storage_error)?;
    let range = match &input.copy_source_range {
        Some(r) => copy_range(r, src.size)?,
        None => 0..src.size,
    };
    if range.end - range.start > MAX_PART_SIZE {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size."
        ));
    }
    sse_c::matches_upload(upload.encryption, customer.as_ref()).map_err(storage_error)?;
    sealing::check_customer(coffer, &src, src_customer.as_ref()).await?;
    let source =
        sealing::for_stored(coffer, src.encryption, src_customer, &caller, KmsUse::Open).await?;
    let sealing =
        sealing::for_stored(coffer, upload.encryption, customer, &caller, KmsUse::Seal).await?;
    let reader = coffer
        .store
        .read_object_with(&src, range.clone(), source.key.as_ref());
    let expect = Expectations {
        content_length: i64::try_from(range.end - range.start).ok(),
        algorithm: upload.checksum_algorithm,
        ..Default::default()
    };
    let ingested = ingest(
        coffer,
        &bucket,
        Some(StreamingBlob::wrap(reader)),
        expect,
        sealing.key.as_ref(),
        Destination::Part,
    )
    .await?;
    let part = coffer
        .store
        .commit_part(
            &bucket,
            &input.key,
            &input.upload_id,
            number,
            ingested.staged,
            ingested.checksums,
        )
        .await
        .map_err(storage_error)?;
    let sums = part_sums(&part);
    let mut out = UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag)),
            last_modified: Some(Timestamp::from(part.last_modified)),
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
        }),
        copy_source_version_id: src.version_id.clone(),
        ..Default::default()
    };
    echo_into!(out, sealing.echo);
    Ok(S3Response::new(out))
}

/// A part as the client names it in CompleteMultipartUpload.
struct Wanted {
    number: u32,
    etag: String,
    checksums: Vec<(ChecksumAlgorithm, String)>,
}

fn wanted_parts(input: &mut CompleteMultipartUploadInput) -> S3Result<Vec<Wanted>> {
    let parts = input
        .multipart_upload
        .take()
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if parts.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        ));
    }
    if parts.len() > MAX_PARTS as usize {
        return Err(s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found."
        ));
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let (Some(n), Some(etag)) = (p.part_number, p.e_tag) else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema."
            ));
        };
        let number = u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_PARTS).contains(n))
            .ok_or_else(|| {
                s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found."
                )
            })?;
        let checksums = ChecksumAlgorithm::ALL
            .into_iter()
            .zip([
                p.checksum_crc32,
                p.checksum_crc32c,
                p.checksum_crc64nvme,
                p.checksum_sha1,
                p.checksum_sha256,
            ])
            .filter_map(|(a, v)| v.map(|v| (a, v)))
            .collect();
        out.push(Wanted {
            number,
            etag: etag.into_value().trim_matches('"').to_ascii_lowercase(),
            checksums,
        });
    }
    if out.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        ));
    }
    Ok(out)
}

/// The object checksum from its parts' (COMPOSITE or FULL_OBJECT); `None` when the upload
/// named no algorithm or a part lacks it.
fn object_checksum(
    algorithm: Option<ChecksumAlgorithm>,
    checksum_type: Option<ChecksumType>,
    parts: &[&PartInfo],
) -> Option<Checksum> {
    let alg = algorithm?;
    let values: Vec<&str> = parts
        .iter()
        .map(|p| {
            p.checksums
                .iter()
                .find(|c| c.algorithm == alg)
                .map(|c| c.value.as_str())
        })
        .collect::<Option<_>>()?;
    let value = if checksum_type == Some(ChecksumType::FullObject) {
        let with_sizes: Vec<(&str, u64)> = values
            .iter()
            .zip(parts)
            .map(|(v, p)| (*v, p.size))
            .collect();
        checksum::full_object(alg, &with_sizes)?
    } else {
        checksum::composite(alg, &values)?
    };
    Some(Checksum {
        algorithm: alg,
        value,
    })
}

fn invalid_part() -> S3Error {
    s3_error!(
        InvalidPart,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )
}

pub(crate) async fn complete_multipart_upload(
    coffer: &Coffer,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let mut input = req.input;
    let condition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let (bucket, rules) = lifecycle::bucket_with_lifecycle(coffer, &input.bucket).await?;
    let wanted = wanted_parts(&mut input)?;
    let store = &coffer.store;

    // An upload that is gone may have been completed by an earlier attempt of this very
    // request: storage answers a retry with the object it made.
    let checksums = match store.upload(&bucket, &input.key, &input.upload_id).await {
        Ok(upload) => {
            let page = store
                .list_parts(&bucket, &input.key, &input.upload_id, 0, MAX_PARTS as usize)
                .await
                .map_err(storage_error)?;
            let mut chosen = Vec::with_capacity(wanted.len());
            for w in &wanted {
                let part = page
                    .parts
                    .iter()
                    .find(|p| p.part_number == w.number)
                    .ok_or_else(invalid_part)?;
                if part.etag != w.etag {
                    return Err(invalid_part());
                }
                for (alg, sent) in &w.checksums {
                    let stored = part.checksums.iter().find(|c| c.algorithm == *alg);
                    if stored.is_some_and(|c| c.value != sent.trim()) {
                        return Err(invalid_part());
                    }
                }
                chosen.push(part);
            }
            let sum = object_checksum(upload.checksum_algorithm, upload.checksum_type, &chosen);
            verify_object_checksum(&input, sum.as_ref(), &chosen)?;
            sum.into_iter().collect()
        }
        Err(coffer_storage::Error::NoSuchUpload) => Vec::new(),
        Err(e) => return Err(storage_error(e)),
    };
    let info = store
        .complete_upload(
            &bucket,
            &input.key,
            &input.upload_id,
            wanted.into_iter().map(|w| (w.number, w.etag)).collect(),
            checksums,
            condition,
        )
        .await
        .map_err(storage_error)?;
    let sums = checksum_fields(&info.meta);
    let checksum_type = info
        .meta
        .checksums
        .first()
        .map(|c| checksum::s3_type(checksum::type_of(&c.value)));
    let expiration = lifecycle::expiration_of(rules.as_ref(), &info);
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        e_tag: Some(ETag::Strong(info.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type,
        expiration,
        version_id: info.version_id,
        ..Default::default()
    };
    // No customer key comes with a completion; its headers are the parts' to echo.
    let echo = sealing::echo_of(coffer, info.encryption, None);
    out.server_side_encryption = echo.sse;
    out.ssekms_key_id = echo.kms_key_id;
    out.bucket_key_enabled = echo.bucket_key_enabled;
    Ok(S3Response::new(out))
}

/// A whole-object checksum or size the client sent with the completion must match.
fn verify_object_checksum(
    input: &CompleteMultipartUploadInput,
    ours: Option<&Checksum>,
    parts: &[&PartInfo],
) -> S3Result<()> {
    if let Some(declared) = input.mpu_object_size {
        let total: u64 = parts.iter().map(|p| p.size).sum();
        if u64::try_from(declared).ok() != Some(total) {
            return Err(s3_error!(
                InvalidRequest,
                "The provided MpuObjectSize does not match the size of the object."
            ));
        }
    }
    let sent = [
        (ChecksumAlgorithm::Crc32, &input.checksum_crc32),
        (ChecksumAlgorithm::Crc32c, &input.checksum_crc32c),
        (ChecksumAlgorithm::Crc64Nvme, &input.checksum_crc64nvme),
        (ChecksumAlgorithm::Sha1, &input.checksum_sha1),
        (ChecksumAlgorithm::Sha256, &input.checksum_sha256),
    ];
    for (alg, value) in sent {
        let Some(value) = value else { continue };
        match ours {
            // Clients send composite values with or without the `-N` suffix.
            Some(ours) if ours.algorithm == alg => {
                let bare = |s: &str| s.split('-').next().unwrap_or_default().trim().to_owned();
                if bare(&ours.value) != bare(value) {
                    return Err(S3Error::with_message(
                        S3ErrorCode::BadDigest,
                        format!("The {alg} you specified did not match the calculated checksum."),
                    ));
                }
            }
            _ => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The upload was not created with this checksum algorithm."
                ));
            }
        }
    }
    Ok(())
}

pub(crate) async fn abort_multipart_upload(
    coffer: &Coffer,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    coffer
        .store
        .abort_upload(&bucket, &input.key, &input.upload_id)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(crate) async fn list_parts(
    coffer: &Coffer,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let principal = caller(coffer, &req)?;
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let max = page_size(input.max_parts, "max-parts")?;
    let marker = match input.part_number_marker {
        None => 0,
        Some(m) => u32::try_from(m).map_err(|_| {
            s3_error!(
                InvalidArgument,
                "part-number-marker must be a non-negative integer."
            )
        })?,
    };
    let store = &coffer.store;
    let upload = store
        .upload(&bucket, &input.key, &input.upload_id)
        .await
        .map_err(storage_error)?;
    let page = store
        .list_parts(&bucket, &input.key, &input.upload_id, marker, max)
        .await
        .map_err(storage_error)?;
    let next = page.parts.last().map(|p| p.part_number);
    let parts = page
        .parts
        .iter()
        .map(|p| {
            let sums = part_sums(p);
            Part {
                part_number: i32::try_from(p.part_number).ok(),
                e_tag: Some(ETag::Strong(p.etag.clone())),
                size: i64::try_from(p.size).ok(),
                last_modified: Some(Timestamp::from(p.last_modified)),
                checksum_crc32: sums.crc32,
                checksum_crc32c: sums.crc32c,
                checksum_crc64nvme: sums.crc64nvme,
                checksum_sha1: sums.sha1,
                checksum_sha256: sums.sha256,
            }
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: i32::try_from(max).ok(),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next.and_then(|n| i32::try_from(n).ok()),
        is_truncated: Some(page.is_truncated),
        parts: Some(parts),
        owner: Some(owner(coffer, &bucket.owner)),
        initiator: Some(initiator(&principal)),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: upload.checksum_algorithm.map(checksum::s3_algorithm),
        checksum_type: upload.checksum_type.map(checksum::s3_type),
        ..Default::default()
    }))
}

pub(crate) async fn list_multipart_uploads(
    coffer: &Coffer,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let principal = caller(coffer, &req)?;
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let max = page_size(input.max_uploads, "max-uploads")?;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let page = coffer
        .store
        .list_uploads(
            &bucket,
            UploadListParams {
                prefix: input.prefix.clone().unwrap_or_default(),
                delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
                key_marker: input.key_marker.clone().filter(|k| !k.is_empty()),
                upload_id_marker: input.upload_id_marker.clone().filter(|u| !u.is_empty()),
                max_uploads: max,
            },
        )
        .await
        .map_err(storage_error)?;
    let uploads = page
        .uploads
        .into_iter()
        .map(|u| MultipartUpload {
            key: Some(enc(&u.key, url)),
            upload_id: Some(u.upload_id),
            initiated: Some(Timestamp::from(u.initiated)),
            initiator: Some(initiator(&principal)),
            owner: Some(owner(coffer, &bucket.owner)),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: u.checksum_algorithm.map(checksum::s3_algorithm),
            checksum_type: u.checksum_type.map(checksum::s3_type),
        })
        .collect();
    let common_prefixes = page
        .common_prefixes
        .into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(&p, url)),
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix.map(|p| enc(&p, url)),
        delimiter: input.delimiter.map(|d| enc(&d, url)),
        key_marker: input.key_marker.map(|k| enc(&k, url)),
        upload_id_marker: input.upload_id_marker,
        encoding_type: input.encoding_type,
        max_uploads: i32::try_from(max).ok(),
        is_truncated: Some(page.is_truncated),
        next_key_marker: page.next_key_marker.map(|k| enc(&k, url)),
        next_upload_id_marker: page.next_upload_id_marker,
        uploads: Some(uploads),
        common_prefixes: Some(common_prefixes),
        ..Default::default()
    }))
}

/// Aborts uploads older than `max_age` every so often (a quarter of the age, between one
/// second and one hour), until the store shuts down.
pub(crate) async fn sweep_expired_uploads(
    store: coffer_storage::Store,
    max_age: std::time::Duration,
) {
    let every = (max_age / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_hours(1),
    );
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.abort_expired_uploads(max_age).await {
            // Nothing due, or a standby: its primary sweeps, and the result comes with the
            // index.
            Ok(0) | Err(coffer_storage::Error::NotWriter { .. }) => {}
            Ok(n) => tracing::info!(aborted = n, "aborted expired multipart uploads"),
            Err(coffer_storage::Error::ShuttingDown) => return,
            Err(e) => tracing::warn!(error = %e, "multipart expiry sweep failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_are_inclusive_and_bounded() {
        assert_eq!(copy_range("bytes=0-9", 100).unwrap(), 0..10);
        assert_eq!(copy_range("bytes=10-99", 100).unwrap(), 10..100);
        assert!(copy_range("bytes=10-100", 100).is_err());
        assert!(copy_range("bytes=5-4", 100).is_err());
        assert!(copy_range("0-4", 100).is_err());
    }

    #[test]
    fn part_numbers_are_one_to_ten_thousand() {
        assert!(part_number(0).is_err());
        assert!(part_number(10_001).is_err());
        assert_eq!(part_number(10_000).unwrap(), 10_000);
    }
}
