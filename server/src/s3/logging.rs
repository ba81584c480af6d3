//! PutBucketLogging and GetBucketLogging: where a bucket's server access logs go.
//!
//! The configuration is stored typed ([`LoggingConfig`]), never as the XML sent. The target
//! must exist and have the logged bucket's owner (else `InvalidTargetBucketForLogging`, in
//! AWS's words). Whether the caller may write into the target (`s3:PutObject` on it) was
//! decided by coffer-auth in the access hook, before this handler runs
//! (`auth_adapter.rs`). Delivery is `bucket_logging::delivery`'s.

use std::time::SystemTime;

use super::Coffer;
use super::bucket_access::resolve_bucket;
use super::error_map::{internal, storage_error};
use crate::bucket_logging::{DateSource, KeyFormat, LoggingConfig, MAX_PREFIX_LEN};
use coffer_storage::BucketSetting;
use s3s::dto::{
    GetBucketLoggingInput, GetBucketLoggingOutput, LoggingEnabled, PartitionDateSource,
    PartitionedPrefix, PutBucketLoggingInput, PutBucketLoggingOutput, SimplePrefix,
    TargetObjectKeyFormat,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

pub(crate) async fn put_bucket_logging(
    coffer: &Coffer,
    req: S3Request<PutBucketLoggingInput>,
) -> S3Result<S3Response<PutBucketLoggingOutput>> {
    let input = req.input;
    let source = resolve_bucket(coffer, &input.bucket).await?;
    // An empty BucketLoggingStatus turns logging off.
    let Some(enabled) = input.bucket_logging_status.logging_enabled else {
        coffer
            .store
            .set_bucket_setting(&source.name, BucketSetting::Logging, None)
            .await
            .map_err(storage_error)?;
        return Ok(S3Response::new(PutBucketLoggingOutput {}));
    };
    if !coffer.bucket_logging {
        return Err(s3_error!(
            NotImplemented,
            "Server access logging needs the audit trail, and this server runs without it (--no-audit)."
        ));
    }
    let key_format = key_format(enabled.target_object_key_format.as_ref())?;
    // Log objects are private to the target's owner, like every object; AWS too refuses
    // grants on a target whose ACLs are off (BucketOwnerEnforced). Share them with a
    // bucket policy instead.
    if enabled
        .target_grants
        .as_ref()
        .is_some_and(|g| !g.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "TargetGrants are not supported: log objects belong to the target bucket's owner; grant access with a bucket policy."
        ));
    }
    if enabled.target_prefix.len() > MAX_PREFIX_LEN {
        return Err(s3_error!(
            InvalidArgument,
            "The target prefix is too long: log object keys would exceed 1024 bytes."
        ));
    }
    let target = match coffer.store.bucket(&enabled.target_bucket).await {
        Ok(target) => target,
        Err(coffer_storage::Error::NoSuchBucket) => {
            return Err(s3_error!(
                InvalidTargetBucketForLogging,
                "The target bucket for logging does not exist"
            ));
        }
        Err(error) => return Err(storage_error(error)),
    };
    if target.owner != source.owner {
        return Err(s3_error!(
            InvalidTargetBucketForLogging,
            "The owner for the bucket to be logged and the target bucket must be the same."
        ));
    }
    // Changing where logs go keeps the time logging was turned on: records not yet
    // delivered go to the new target.
    let since_ms = match current(coffer, &source.name).await? {
        Some(old) => old.since_ms,
        None => coffer_audit::unix_ms(SystemTime::now()),
    };
    let config = LoggingConfig {
        target_bucket: target.name,
        target_prefix: enabled.target_prefix,
        key_format,
        since_ms,
    };
    coffer
        .store
        .set_bucket_setting(&source.name, BucketSetting::Logging, Some(config.encode()))
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(PutBucketLoggingOutput {}))
}

pub(crate) async fn get_bucket_logging(
    coffer: &Coffer,
    req: S3Request<GetBucketLoggingInput>,
) -> S3Result<S3Response<GetBucketLoggingOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    let logging_enabled = current(coffer, &bucket.name)
        .await?
        .map(|c| LoggingEnabled {
            target_bucket: c.target_bucket,
            target_prefix: c.target_prefix,
            target_grants: None,
            target_object_key_format: Some(match c.key_format {
                KeyFormat::Simple => TargetObjectKeyFormat {
                    simple_prefix: Some(SimplePrefix {}),
                    partitioned_prefix: None,
                },
                KeyFormat::Partitioned(source) => TargetObjectKeyFormat {
                    simple_prefix: None,
                    partitioned_prefix: Some(PartitionedPrefix {
                        partition_date_source: Some(PartitionDateSource::from_static(
                            match source {
                                DateSource::EventTime => PartitionDateSource::EVENT_TIME,
                                DateSource::DeliveryTime => PartitionDateSource::DELIVERY_TIME,
                            },
                        )),
                    }),
                },
            }),
        });
    Ok(S3Response::new(GetBucketLoggingOutput { logging_enabled }))
}

/// The logging configuration of bucket `name`, if logging is on.
async fn current(coffer: &Coffer, name: &str) -> S3Result<Option<LoggingConfig>> {
    let stored = coffer
        .store
        .bucket_setting(name, BucketSetting::Logging)
        .await
        .map_err(storage_error)?;
    stored
        .map(|bytes| LoggingConfig::decode(&bytes).map_err(internal))
        .transpose()
}

/// `TargetObjectKeyFormat` as stored: simple unless partitioned (AWS's default), the
/// partition date the event's unless it says otherwise.
fn key_format(format: Option<&TargetObjectKeyFormat>) -> S3Result<KeyFormat> {
    let Some(format) = format else {
        return Ok(KeyFormat::Simple);
    };
    match (&format.simple_prefix, &format.partitioned_prefix) {
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidArgument,
            "Only one of SimplePrefix and PartitionedPrefix may be given."
        )),
        (_, None) => Ok(KeyFormat::Simple),
        (None, Some(p)) => match p
            .partition_date_source
            .as_ref()
            .map(PartitionDateSource::as_str)
        {
            None | Some(PartitionDateSource::EVENT_TIME) => {
                Ok(KeyFormat::Partitioned(DateSource::EventTime))
            }
            Some(PartitionDateSource::DELIVERY_TIME) => {
                Ok(KeyFormat::Partitioned(DateSource::DeliveryTime))
            }
            Some(_) => Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema."
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats_are_read_as_aws_defines_them() {
        assert_eq!(key_format(None).unwrap(), KeyFormat::Simple);
        let simple = TargetObjectKeyFormat {
            simple_prefix: Some(SimplePrefix {}),
            partitioned_prefix: None,
        };
        assert_eq!(key_format(Some(&simple)).unwrap(), KeyFormat::Simple);
        let partitioned = |source: Option<&str>| TargetObjectKeyFormat {
            simple_prefix: None,
            partitioned_prefix: Some(PartitionedPrefix {
                partition_date_source: source.map(|s| PartitionDateSource::from(s.to_owned())),
            }),
        };
        assert_eq!(
            key_format(Some(&partitioned(None))).unwrap(),
            KeyFormat::Partitioned(DateSource::EventTime)
        );
        assert_eq!(
            key_format(Some(&partitioned(Some("DeliveryTime")))).unwrap(),
            KeyFormat::Partitioned(DateSource::DeliveryTime)
        );
        assert!(key_format(Some(&partitioned(Some("Yesterday")))).is_err());
        let both = TargetObjectKeyFormat {
            simple_prefix: Some(SimplePrefix {}),
            ..partitioned(None)
        };
        assert!(key_format(Some(&both)).is_err());
    }
}
