//! Put/Get/DeleteBucketEncryption: a bucket's default encryption for new objects.
//!
//! Coffer seals every object whatever a bucket says, so `AES256` (SSE-S3) is what every
//! bucket has without a configuration, and what GetBucketEncryption reports for one — as
//! AWS does since it encrypts every bucket by default. An `aws:kms` default puts every
//! write that asks for no encryption of its own under that KMS key (or Coffer's `aws/s3`
//! key when it names none); `sealing.rs` applies it. The configuration is stored typed
//! ([`DefaultEncryption`]), never as the XML sent.

use coffer_storage::BucketSetting;
use s3s::dto::{
    DeleteBucketEncryptionInput, DeleteBucketEncryptionOutput, GetBucketEncryptionInput,
    GetBucketEncryptionOutput, PutBucketEncryptionInput, PutBucketEncryptionOutput,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::Coffer;
use super::bucket_access::resolve_bucket;
use super::error_map::{internal, storage_error};

/// The version byte of the stored encoding.
const FORMAT_V1: u8 = 1;

/// A bucket's default encryption, as stored. Stored as its variant index: never reorder,
/// only append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DefaultEncryption {
    /// SSE-S3 (`AES256`); `BucketKeyEnabled` as given, reported back.
    Aes256 { bucket_key_enabled: bool },
    /// SSE-KMS under `key` (an id, ARN or alias, as given: an alias is resolved at each
    /// write, as AWS does), or under `aws/s3` without one.
    Kms {
        key: Option<String>,
        bucket_key_enabled: bool,
    },
}

impl DefaultEncryption {
    /// A bucket's default from its stored setting (none: SSE-S3).
    ///
    /// # Errors
    /// `InternalError` for bytes that do not decode.
    pub(crate) fn from_stored(stored: Option<&[u8]>) -> S3Result<DefaultEncryption> {
        match stored {
            Some(bytes) => DefaultEncryption::decode(bytes),
            // Never plaintext: a bucket without a configuration has SSE-S3.
            None => Ok(DefaultEncryption::Aes256 {
                bucket_key_enabled: false,
            }),
        }
    }

    fn encode(&self) -> S3Result<Vec<u8>> {
        let mut out = vec![FORMAT_V1];
        out.extend(postcard::to_stdvec(self).map_err(internal)?);
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> S3Result<DefaultEncryption> {
        match bytes.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest).map_err(internal),
            _ => Err(internal(std::io::Error::other(
                "unknown default-encryption encoding",
            ))),
        }
    }

    fn rule(self) -> ServerSideEncryptionRule {
        let (algorithm, key, bucket_key_enabled) = match self {
            DefaultEncryption::Aes256 { bucket_key_enabled } => {
                (ServerSideEncryption::AES256, None, bucket_key_enabled)
            }
            DefaultEncryption::Kms {
                key,
                bucket_key_enabled,
            } => (ServerSideEncryption::AWS_KMS, key, bucket_key_enabled),
        };
        ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: key,
                sse_algorithm: ServerSideEncryption::from_static(algorithm),
            }),
            bucket_key_enabled: Some(bucket_key_enabled),
        }
    }
}

/// The one rule S3 takes, read as a [`DefaultEncryption`].
fn parse(config: &ServerSideEncryptionConfiguration) -> S3Result<DefaultEncryption> {
    let [rule] = config.rules.as_slice() else {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    };
    let Some(default) = &rule.apply_server_side_encryption_by_default else {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    };
    match default.sse_algorithm.as_str() {
        ServerSideEncryption::AES256 => {
            if default.kms_master_key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse"
                ));
            }
            Ok(DefaultEncryption::Aes256 {
                bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
            })
        }
        ServerSideEncryption::AWS_KMS => Ok(DefaultEncryption::Kms {
            key: default.kms_master_key_id.clone(),
            bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
        }),
        "aws:kms:dsse" => Err(s3_error!(
            NotImplemented,
            "Dual-layer SSE-KMS (aws:kms:dsse) is not supported: use aws:kms."
        )),
        _ => Err(s3_error!(
            InvalidArgument,
            "The encryption method specified is not supported"
        )),
    }
}

pub(crate) async fn put_bucket_encryption(
    coffer: &Coffer,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let config = parse(&input.server_side_encryption_configuration)?;
    // A key that cannot name a key here is refused now, not at every write; whether it
    // exists and is enabled is checked at each write, as keys come and go.
    if let DefaultEncryption::Kms { key: Some(key), .. } = &config
        && coffer.kms.parse(key).is_err()
    {
        return Err(s3_error!(
            InvalidArgument,
            "The KMSMasterKeyID is not a key id, key ARN or alias of this server."
        ));
    }
    coffer
        .store
        .set_bucket_setting(
            &bucket.name,
            BucketSetting::Encryption,
            Some(config.encode()?),
        )
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(PutBucketEncryptionOutput {}))
}

pub(crate) async fn get_bucket_encryption(
    coffer: &Coffer,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    let stored = coffer
        .store
        .bucket_setting(&bucket.name, BucketSetting::Encryption)
        .await
        .map_err(storage_error)?;
    let config = DefaultEncryption::from_stored(stored.as_deref())?;
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![config.rule()],
        }),
    }))
}

pub(crate) async fn delete_bucket_encryption(
    coffer: &Coffer,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    coffer
        .store
        .set_bucket_setting(&bucket.name, BucketSetting::Encryption, None)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(DeleteBucketEncryptionOutput {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(algorithm: &str, key: Option<&str>) -> ServerSideEncryptionConfiguration {
        ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    kms_master_key_id: key.map(str::to_owned),
                    sse_algorithm: ServerSideEncryption::from(algorithm.to_owned()),
                }),
                bucket_key_enabled: Some(true),
            }],
        }
    }

    #[test]
    fn aes256_round_trips_and_the_stored_bytes_are_stable() {
        let parsed = parse(&config("AES256", None)).unwrap();
        assert_eq!(
            parsed,
            DefaultEncryption::Aes256 {
                bucket_key_enabled: true
            }
        );
        let bytes = parsed.encode().unwrap();
        // Written to disk: the encoding must not drift.
        assert_eq!(bytes, [1, 0, 1]);
        assert_eq!(DefaultEncryption::decode(&bytes).unwrap(), parsed);
    }

    #[test]
    fn kms_round_trips_with_or_without_a_key() {
        for key in [Some("alias/study-7"), None] {
            let parsed = parse(&config("aws:kms", key)).unwrap();
            assert_eq!(
                parsed,
                DefaultEncryption::Kms {
                    key: key.map(str::to_owned),
                    bucket_key_enabled: true
                }
            );
            let bytes = parsed.encode().unwrap();
            assert_eq!(DefaultEncryption::decode(&bytes).unwrap(), parsed);
            let rule = parsed.rule();
            let default = rule.apply_server_side_encryption_by_default.unwrap();
            assert_eq!(default.sse_algorithm.as_str(), "aws:kms");
            assert_eq!(default.kms_master_key_id.as_deref(), key);
        }
    }

    #[test]
    fn dsse_is_not_implemented_and_nonsense_is_refused() {
        let code = |c: &ServerSideEncryptionConfiguration| parse(c).unwrap_err().code().clone();
        assert_eq!(
            code(&config("aws:kms:dsse", Some("k"))),
            s3s::S3ErrorCode::NotImplemented
        );
        assert_eq!(
            code(&config("AES256", Some("k"))),
            s3s::S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(&config("rot13", None)),
            s3s::S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(&ServerSideEncryptionConfiguration { rules: vec![] }),
            s3s::S3ErrorCode::MalformedXML
        );
    }
}
