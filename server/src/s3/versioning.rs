//! Versions, Object Lock and conditional writes at the S3 edge: parsing what a request
//! asks for (version ids, lock headers, `If-Match`/`If-None-Match` on writes) into
//! storage's types, and the bucket and object operations that are only about them.
//!
//! The rules themselves (which version becomes current, what a lock forbids, whether a
//! condition holds) are storage's, applied inside one index transaction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Coffer;
use super::bucket_access::{owner, resolve_bucket};
use super::error_map::storage_error;
use super::list::{enc, url_encoding};
use crate::limits::MAX_KEYS;
use coffer_storage::{
    DefaultRetention, LockMode, ObjectInfo, ObjectLock, ObjectLockConfig, Precondition, Retention,
    RetentionPeriod, VersionListEntry, VersionListParams, VersionRef, Versioning,
};
use s3s::dto::{
    BucketVersioningStatus, CommonPrefix, DeleteMarkerEntry, ETag, ETagCondition,
    GetBucketVersioningInput, GetBucketVersioningOutput, GetObjectLegalHoldInput,
    GetObjectLegalHoldOutput, GetObjectLockConfigurationInput, GetObjectLockConfigurationOutput,
    GetObjectRetentionInput, GetObjectRetentionOutput, ListObjectVersionsInput,
    ListObjectVersionsOutput, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
    ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, ObjectVersion,
    ObjectVersionStorageClass, PutBucketVersioningInput, PutBucketVersioningOutput,
    PutObjectLegalHoldInput, PutObjectLegalHoldOutput, PutObjectLockConfigurationInput,
    PutObjectLockConfigurationOutput, PutObjectRetentionInput, PutObjectRetentionOutput, Timestamp,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

/// The longest retention accepted, as AWS: 100 years.
const MAX_RETENTION_DAYS: i32 = 36_500;
const MAX_RETENTION_YEARS: i32 = 100;

/// A client's `versionId`, if it named one.
pub(crate) fn version_ref(text: Option<&str>) -> S3Result<Option<VersionRef>> {
    text.map(|t| {
        VersionRef::parse(t).map_err(|_| s3_error!(InvalidArgument, "Invalid version id specified"))
    })
    .transpose()
}

/// `If-Match` / `If-None-Match` on a write (PutObject, CompleteMultipartUpload).
///
/// # Errors
/// `NotImplemented` for `If-None-Match` with anything but `*` (AWS too), or both at once.
pub(crate) fn write_precondition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<Option<Precondition>> {
    match (if_match, if_none_match) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(s3_error!(
            NotImplemented,
            "If-Match and If-None-Match together are not supported on writes."
        )),
        (Some(cond), None) => Ok(Some(match_condition(cond))),
        (None, Some(ETagCondition::Any)) => Ok(Some(Precondition::IfNoneMatch)),
        (None, Some(ETagCondition::ETag(_))) => Err(s3_error!(
            NotImplemented,
            "A header you provided implies functionality that is not implemented: If-None-Match takes only *."
        )),
    }
}

/// `If-Match` as a storage precondition (`*`: any current object).
pub(crate) fn match_condition(cond: &ETagCondition) -> Precondition {
    match cond {
        ETagCondition::Any => Precondition::IfMatch("*".to_owned()),
        ETagCondition::ETag(e) => Precondition::IfMatch(e.value().to_owned()),
    }
}

fn ms_of(ts: &Timestamp) -> S3Result<u64> {
    let at = time::OffsetDateTime::from(ts.clone());
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| s3_error!(InvalidArgument, "The retain until date is invalid."))
}

fn timestamp_of(ms: u64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn lock_mode(mode: &str) -> S3Result<LockMode> {
    match mode {
        ObjectLockMode::GOVERNANCE => Ok(LockMode::Governance),
        ObjectLockMode::COMPLIANCE => Ok(LockMode::Compliance),
        _ => Err(s3_error!(InvalidArgument, "Unknown wormMode directive.")),
    }
}

fn mode_name(mode: LockMode) -> &'static str {
    match mode {
        LockMode::Governance => ObjectLockMode::GOVERNANCE,
        LockMode::Compliance => ObjectLockMode::COMPLIANCE,
    }
}

fn retention_of(mode: &str, until: &Timestamp) -> S3Result<Retention> {
    let mode = lock_mode(mode)?;
    let until_ms = ms_of(until)?;
    if until_ms <= now_ms() {
        return Err(s3_error!(
            InvalidArgument,
            "The retain until date must be in the future!"
        ));
    }
    Ok(Retention { mode, until_ms })
}

/// The Object Lock headers of a write (PutObject, CopyObject, CreateMultipartUpload).
///
/// # Errors
/// `InvalidArgument` for a mode without a date (or the reverse), an unknown mode or
/// status, or a date not in the future.
pub(crate) fn lock_of(
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<ObjectLock> {
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(mode), Some(until)) => Some(retention_of(mode.as_str(), until)?),
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    let legal_hold = match hold.map(ObjectLockLegalHoldStatus::as_str) {
        None | Some(ObjectLockLegalHoldStatus::OFF) => false,
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "Legal Hold must be either of 'ON' or 'OFF'"
            ));
        }
    };
    Ok(ObjectLock {
        retention,
        legal_hold,
    })
}

/// AWS's rule for writes that set Object Lock: they carry `Content-MD5` or a checksum, so
/// a body kept for years is known to be the one sent.
pub(crate) fn require_integrity(lock: &ObjectLock, has_md5_or_checksum: bool) -> S3Result<()> {
    if lock.is_set() && !has_md5_or_checksum {
        return Err(s3_error!(
            InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
        ));
    }
    Ok(())
}

/// The Object Lock response headers of a version (GET, HEAD).
pub(crate) struct LockHeaders {
    pub mode: Option<ObjectLockMode>,
    pub until: Option<Timestamp>,
    pub legal_hold: Option<ObjectLockLegalHoldStatus>,
}

pub(crate) fn lock_headers(obj: &ObjectInfo) -> LockHeaders {
    let retention = obj.lock.retention;
    LockHeaders {
        mode: retention.map(|r| ObjectLockMode::from_static(mode_name(r.mode))),
        until: retention.map(|r| timestamp_of(r.until_ms)),
        legal_hold: obj
            .lock
            .legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    }
}

/// The delete-marker answer to a read: 404 `NoSuchKey` for the key's latest, 405
/// `MethodNotAllowed` for a marker named by version id; both say it is a marker.
pub(crate) fn delete_marker_error(version_id: &str, named: bool) -> S3Error {
    let mut err = if named {
        let mut e = s3_error!(
            MethodNotAllowed,
            "The specified method is not allowed against this resource."
        );
        e.set_status_code(http::StatusCode::METHOD_NOT_ALLOWED);
        e
    } else {
        s3_error!(NoSuchKey, "The specified key does not exist.")
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(v) = http::HeaderValue::from_str(version_id) {
        headers.insert("x-amz-version-id", v);
    }
    err.set_headers(headers);
    err
}

/// A storage error of a read that names `version`: a delete marker answers as AWS does.
pub(crate) fn read_error(err: coffer_storage::Error, named: bool) -> S3Error {
    match err {
        coffer_storage::Error::DeleteMarker { version_id } => {
            delete_marker_error(&version_id, named)
        }
        other => storage_error(other),
    }
}

// ---- Bucket versioning ----

pub(crate) async fn get_bucket_versioning(
    coffer: &Coffer,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    let state = coffer
        .store
        .versioning(&bucket)
        .await
        .map_err(storage_error)?;
    let status = match state {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::ENABLED),
        Versioning::Suspended => Some(BucketVersioningStatus::SUSPENDED),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: status.map(BucketVersioningStatus::from_static),
        mfa_delete: None,
    }))
}

pub(crate) async fn put_bucket_versioning(
    coffer: &Coffer,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let input = req.input;
    let config = input.versioning_configuration;
    if input.mfa.is_some()
        || config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == "Enabled")
    {
        return Err(s3_error!(NotImplemented, "MFA delete is not supported."));
    }
    let state = match config.status.as_ref().map(BucketVersioningStatus::as_str) {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        // No status changes nothing (AWS).
        None => {
            resolve_bucket(coffer, &input.bucket).await?;
            return Ok(S3Response::new(PutBucketVersioningOutput {}));
        }
        Some(_) => {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema."
            ));
        }
    };
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    coffer
        .store
        .set_versioning(&bucket.name, state)
        .await
        .map_err(|e| match e {
            coffer_storage::Error::InvalidBucketState => s3_error!(
                InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            ),
            other => storage_error(other),
        })?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

// ---- ListObjectVersions ----

pub(crate) async fn list_object_versions(
    coffer: &Coffer,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max_keys = match input.max_keys {
        None => 1000,
        Some(n) if n < 0 => {
            return Err(s3_error!(
                InvalidArgument,
                "max-keys must be a non-negative integer."
            ));
        }
        Some(n) => n.min(MAX_KEYS),
    };
    if input.version_id_marker.is_some() && input.key_marker.is_none() {
        return Err(s3_error!(
            InvalidArgument,
            "A version-id marker cannot be specified without a key marker."
        ));
    }
    if let Some(marker) = input.version_id_marker.as_deref() {
        version_ref(Some(marker))?;
    }
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let mut output = ListObjectVersionsOutput {
        name: Some(bucket.name.clone()),
        prefix: Some(enc(&prefix, url)),
        delimiter: delimiter.as_deref().map(|d| enc(d, url)),
        key_marker: Some(enc(input.key_marker.as_deref().unwrap_or_default(), url)),
        version_id_marker: Some(input.version_id_marker.clone().unwrap_or_default()),
        max_keys: Some(max_keys),
        encoding_type: input.encoding_type.clone(),
        is_truncated: Some(false),
        ..Default::default()
    };
    if max_keys == 0 {
        return Ok(S3Response::new(output));
    }
    let page = coffer
        .store
        .list_object_versions(
            &bucket,
            VersionListParams {
                prefix,
                delimiter,
                key_marker: input.key_marker,
                version_id_marker: input.version_id_marker,
                max_keys: usize::try_from(max_keys).unwrap_or(1000),
            },
        )
        .await
        .map_err(storage_error)?;
    let who = owner(coffer, &bucket.owner);
    let (mut versions, mut markers, mut prefixes) = (Vec::new(), Vec::new(), Vec::new());
    for entry in page.entries {
        match entry {
            VersionListEntry::CommonPrefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(enc(&p, url)),
            }),
            VersionListEntry::Version(v) if v.delete_marker => markers.push(DeleteMarkerEntry {
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key, url)),
                last_modified: Some(Timestamp::from(v.last_modified)),
                owner: Some(who.clone()),
                version_id: Some(v.version_id),
            }),
            VersionListEntry::Version(v) => versions.push(ObjectVersion {
                e_tag: Some(ETag::Strong(v.etag)),
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key, url)),
                last_modified: Some(Timestamp::from(v.last_modified)),
                owner: Some(who.clone()),
                size: i64::try_from(v.size).ok(),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some(v.version_id),
                ..Default::default()
            }),
        }
    }
    output.is_truncated = Some(page.is_truncated);
    output.next_key_marker = page.next_key_marker.map(|k| enc(&k, url));
    output.next_version_id_marker = page.next_version_id_marker;
    output.versions = (!versions.is_empty()).then_some(versions);
    output.delete_markers = (!markers.is_empty()).then_some(markers);
    output.common_prefixes = (!prefixes.is_empty()).then_some(prefixes);
    Ok(S3Response::new(output))
}

// ---- Object Lock: bucket configuration ----

pub(crate) async fn get_object_lock_configuration(
    coffer: &Coffer,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    let config = coffer
        .store
        .object_lock_config(&bucket)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            s3_error!(
                ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket"
            )
        })?;
    let rule = config.default_retention.map(|d| {
        let (days, years) = match d.period {
            RetentionPeriod::Days(n) => (i32::try_from(n).ok(), None),
            RetentionPeriod::Years(n) => (None, i32::try_from(n).ok()),
        };
        ObjectLockRule {
            default_retention: Some(s3s::dto::DefaultRetention {
                days,
                years,
                mode: Some(ObjectLockRetentionMode::from_static(mode_name(d.mode))),
            }),
        }
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(s3s::dto::ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

fn malformed() -> S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema."
    )
}

/// The Object Lock configuration document, checked as AWS checks it.
fn lock_config_of(doc: Option<s3s::dto::ObjectLockConfiguration>) -> S3Result<ObjectLockConfig> {
    let doc = doc.ok_or_else(malformed)?;
    if doc
        .object_lock_enabled
        .as_ref()
        .map(ObjectLockEnabled::as_str)
        != Some(ObjectLockEnabled::ENABLED)
    {
        return Err(malformed());
    }
    let Some(default) = doc.rule.and_then(|r| r.default_retention) else {
        return Ok(ObjectLockConfig::default());
    };
    let mode = default.mode.as_ref().ok_or_else(malformed)?;
    let mode = lock_mode(mode.as_str()).map_err(|_| malformed())?;
    let period = match (default.days, default.years) {
        (Some(d), None) if (1..=MAX_RETENTION_DAYS).contains(&d) => {
            RetentionPeriod::Days(d.unsigned_abs())
        }
        (None, Some(y)) if (1..=MAX_RETENTION_YEARS).contains(&y) => {
            RetentionPeriod::Years(y.unsigned_abs())
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(s3_error!(
                InvalidArgument,
                "Default retention period must be a positive integer value."
            ));
        }
        _ => return Err(malformed()),
    };
    Ok(ObjectLockConfig {
        default_retention: Some(DefaultRetention { mode, period }),
    })
}

pub(crate) async fn put_object_lock_configuration(
    coffer: &Coffer,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let input = req.input;
    if input.token.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Object Lock tokens are not supported."
        ));
    }
    let config = lock_config_of(input.object_lock_configuration)?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    coffer
        .store
        .set_object_lock_config(&bucket.name, config)
        .await
        .map_err(|e| match e {
            coffer_storage::Error::InvalidBucketState => s3_error!(
                InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            ),
            other => storage_error(other),
        })?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

// ---- Object Lock: one version ----

/// The version a lock operation acts on: it must be an object, not a delete marker.
async fn locked_version(
    coffer: &Coffer,
    bucket: &coffer_storage::BucketInfo,
    key: &str,
    version: Option<VersionRef>,
) -> S3Result<ObjectInfo> {
    coffer
        .store
        .head_version(bucket, key, version)
        .await
        .map_err(|e| read_error(e, version.is_some()))
}

async fn require_lock(coffer: &Coffer, bucket: &coffer_storage::BucketInfo) -> S3Result<()> {
    match coffer.store.object_lock_config(bucket).await {
        Ok(Some(_)) => Ok(()),
        // Worded once, in error_map.
        Ok(None) => Err(storage_error(coffer_storage::Error::ObjectLockNotEnabled)),
        Err(e) => Err(storage_error(e)),
    }
}

pub(crate) async fn get_object_retention(
    coffer: &Coffer,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    require_lock(coffer, &bucket).await?;
    let obj = locked_version(coffer, &bucket, &input.key, version).await?;
    let retention = obj.lock.retention.ok_or_else(|| {
        s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        )
    })?;
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from_static(mode_name(
                retention.mode,
            ))),
            retain_until_date: Some(timestamp_of(retention.until_ms)),
        }),
    }))
}

pub(crate) async fn put_object_retention(
    coffer: &Coffer,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    // An empty <Retention/> removes it (GOVERNANCE with bypass only).
    let retention = match input.retention {
        None
        | Some(ObjectLockRetention {
            mode: None,
            retain_until_date: None,
        }) => None,
        Some(ObjectLockRetention {
            mode: Some(mode),
            retain_until_date: Some(until),
        }) => Some(retention_of(mode.as_str(), &until)?),
        Some(_) => return Err(malformed()),
    };
    // The access layer refused the bypass header to callers without
    // s3:BypassGovernanceRetention, so here it is the caller's right.
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    coffer
        .store
        .set_retention(&bucket, &input.key, version, retention, bypass)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub(crate) async fn get_object_legal_hold(
    coffer: &Coffer,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    require_lock(coffer, &bucket).await?;
    let obj = locked_version(coffer, &bucket, &input.key, version).await?;
    let status = if obj.lock.legal_hold {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(status)),
        }),
    }))
}

pub(crate) async fn put_object_legal_hold(
    coffer: &Coffer,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let on = match input
        .legal_hold
        .and_then(|h| h.status)
        .as_ref()
        .map(ObjectLockLegalHoldStatus::as_str)
    {
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(ObjectLockLegalHoldStatus::OFF) => false,
        _ => return Err(malformed()),
    };
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    coffer
        .store
        .set_legal_hold(&bucket, &input.key, version, on)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_headers_need_mode_and_date_together() {
        let future = Timestamp::from(SystemTime::now() + Duration::from_hours(1));
        let past = Timestamp::from(SystemTime::now() - Duration::from_hours(1));
        let gov = ObjectLockMode::from_static(ObjectLockMode::GOVERNANCE);
        assert!(lock_of(Some(&gov), None, None).is_err());
        assert!(lock_of(None, Some(&future), None).is_err());
        assert!(lock_of(Some(&gov), Some(&past), None).is_err());
        let bad = ObjectLockMode::from("FOREVER".to_owned());
        assert!(lock_of(Some(&bad), Some(&future), None).is_err());
        let lock = lock_of(Some(&gov), Some(&future), None).unwrap();
        assert_eq!(lock.retention.unwrap().mode, LockMode::Governance);
        let on = ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON);
        assert!(lock_of(None, None, Some(&on)).unwrap().legal_hold);
        assert!(!lock_of(None, None, None).unwrap().is_set());
    }

    #[test]
    fn lock_configuration_documents() {
        let doc = |days: Option<i32>, years: Option<i32>, mode: Option<&'static str>| {
            Some(s3s::dto::ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(
                    ObjectLockEnabled::ENABLED,
                )),
                rule: Some(ObjectLockRule {
                    default_retention: Some(s3s::dto::DefaultRetention {
                        days,
                        years,
                        mode: mode.map(ObjectLockRetentionMode::from_static),
                    }),
                }),
            })
        };
        let ok = lock_config_of(doc(Some(3), None, Some("COMPLIANCE"))).unwrap();
        assert_eq!(
            ok.default_retention,
            Some(DefaultRetention {
                mode: LockMode::Compliance,
                period: RetentionPeriod::Days(3)
            })
        );
        assert!(lock_config_of(doc(Some(3), Some(1), Some("COMPLIANCE"))).is_err());
        assert!(lock_config_of(doc(Some(0), None, Some("COMPLIANCE"))).is_err());
        assert!(lock_config_of(doc(Some(3), None, None)).is_err());
        assert!(lock_config_of(None).is_err());
    }

    #[test]
    fn write_preconditions() {
        let any = ETagCondition::Any;
        let tag = ETagCondition::ETag(ETag::Strong("abc".into()));
        assert_eq!(
            write_precondition(None, Some(&any)).unwrap(),
            Some(Precondition::IfNoneMatch)
        );
        assert_eq!(
            write_precondition(Some(&tag), None).unwrap(),
            Some(Precondition::IfMatch("abc".into()))
        );
        assert!(write_precondition(None, Some(&tag)).is_err());
        assert!(write_precondition(Some(&tag), Some(&any)).is_err());
    }
}
