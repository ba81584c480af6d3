//! Bucket policies and the Public Access Block: answered as a locked-down AWS account
//! answers them, so scanners and tools see "private" and nothing can open a door (P2).
//!
//! - GetPublicAccessBlock reports all four flags on; PutPublicAccessBlock with all four on
//!   is a no-op success; turning any flag off, or DeletePublicAccessBlock, is refused.
//! - GetBucketPolicyStatus reports `IsPublic=false`: no stored policy can be public.
//! - PutBucketPolicy: coffer-auth parses the document (AWS's language); a malformed one →
//!   `MalformedPolicy` with the reason; one that could grant everyone access (wildcard
//!   principal, `NotPrincipal` in an Allow…) → `AccessDenied` (P2). Otherwise it is stored
//!   sealed, as a setting of the bucket, and the access decision applies it from the next
//!   request on. Get and Delete work on that stored text.

use super::Coffer;
use super::acl::PUBLIC_REFUSED;
use super::bucket_access::resolve_bucket;
use super::error_map::storage_error;
use coffer_auth::policy::{Policy, PolicyError, PolicyKind};
use coffer_storage::BucketSetting;
use s3s::dto::{
    DeleteBucketPolicyInput, DeleteBucketPolicyOutput, DeletePublicAccessBlockInput,
    DeletePublicAccessBlockOutput, GetBucketPolicyInput, GetBucketPolicyOutput,
    GetBucketPolicyStatusInput, GetBucketPolicyStatusOutput, GetPublicAccessBlockInput,
    GetPublicAccessBlockOutput, PolicyStatus, PublicAccessBlockConfiguration, PutBucketPolicyInput,
    PutBucketPolicyOutput, PutPublicAccessBlockInput, PutPublicAccessBlockOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The only Public Access Block configuration Coffer has.
fn all_blocked() -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration {
        block_public_acls: Some(true),
        block_public_policy: Some(true),
        ignore_public_acls: Some(true),
        restrict_public_buckets: Some(true),
    }
}

pub(crate) async fn get_public_access_block(
    coffer: &Coffer,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(all_blocked()),
    }))
}

pub(crate) async fn put_public_access_block(
    coffer: &Coffer,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    // A flag left out means "off" in AWS, so it is refused like an explicit false.
    if req.input.public_access_block_configuration != all_blocked() {
        return Err(s3_error!(AccessDenied, "{PUBLIC_REFUSED}"));
    }
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

pub(crate) async fn delete_public_access_block(
    coffer: &Coffer,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Err(s3_error!(AccessDenied, "{PUBLIC_REFUSED}"))
}

pub(crate) async fn get_bucket_policy_status(
    coffer: &Coffer,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(false),
        }),
    }))
}

pub(crate) async fn get_bucket_policy(
    coffer: &Coffer,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let stored = coffer
        .store
        .bucket_setting(&req.input.bucket, BucketSetting::Policy)
        .await
        .map_err(storage_error)?;
    let Some(bytes) = stored else {
        return Err(s3_error!(
            NoSuchBucketPolicy,
            "The bucket policy does not exist."
        ));
    };
    let policy = String::from_utf8(bytes).map_err(|_| s3_error!(InternalError))?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

pub(crate) async fn delete_bucket_policy(
    coffer: &Coffer,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    // AWS answers 204 when there was none, too.
    coffer
        .store
        .set_bucket_setting(&req.input.bucket, BucketSetting::Policy, None)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub(crate) async fn put_bucket_policy(
    coffer: &Coffer,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let input = req.input;
    resolve_bucket(coffer, &input.bucket).await?;
    check_bucket_policy(&input.policy, &input.bucket)?;
    coffer
        .store
        .set_bucket_setting(
            &input.bucket,
            BucketSetting::Policy,
            Some(input.policy.into_bytes()),
        )
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

/// Parses a bucket policy for `bucket`, with S3's errors.
fn check_bucket_policy(text: &str, bucket: &str) -> S3Result<()> {
    match Policy::parse(text, PolicyKind::Bucket { bucket }) {
        Ok(_) => Ok(()),
        Err(PolicyError::Public(_)) => Err(s3_error!(AccessDenied, "{PUBLIC_REFUSED}")),
        Err(PolicyError::TooLarge) => Err(s3_error!(
            MalformedPolicy,
            "Policies must be no larger than 20 KB."
        )),
        Err(reason) => Err(s3_error!(MalformedPolicy, "{reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2_wildcard_principals_are_refused_as_public() {
        for principal in [
            r#""*""#,
            r#"{"AWS":"*"}"#,
            r#"{"AWS":["arn:aws:iam::111122223333:root","*"]}"#,
            r#"{"CanonicalUser":"*"}"#,
            r#"{"AWS":"arn:aws:iam::*:root"}"#,
        ] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}]}}"#
            );
            let err = check_bucket_policy(&doc, "b").unwrap_err();
            assert_eq!(*err.code(), s3s::S3ErrorCode::AccessDenied, "{principal}");
        }
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert!(check_bucket_policy(deny, "b").is_ok());
        let other_bucket = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::c/*"}]}"#;
        let err = check_bucket_policy(other_bucket, "b").unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::MalformedPolicy);
    }

    #[test]
    fn only_all_four_flags_on_is_the_configuration() {
        let mut c = all_blocked();
        assert_eq!(c, all_blocked());
        c.ignore_public_acls = None;
        assert_ne!(c, all_blocked());
        c.ignore_public_acls = Some(false);
        assert_ne!(c, all_blocked());
    }
}
