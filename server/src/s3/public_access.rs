//! Bucket policies and the Public Access Block: answered as a locked-down AWS account
//! answers them, so scanners and tools see "private" and nothing can open a door (P2).
//!
//! - GetPublicAccessBlock reports all four flags on; PutPublicAccessBlock with all four on
//!   is a no-op success; turning any flag off, or DeletePublicAccessBlock, is refused.
//! - GetBucketPolicyStatus reports `IsPublic=false`. GetBucketPolicy finds none.
//! - PutBucketPolicy: malformed JSON → `MalformedPolicy`; a statement allowing a wildcard
//!   principal → `AccessDenied`; any other policy → `NotImplemented` (there are no
//!   per-user grants yet, and a policy must never be silently accepted).

use super::Coffer;
use super::acl::PUBLIC_REFUSED;
use super::bucket_access::resolve_bucket;
use s3s::dto::{
    DeleteBucketPolicyInput, DeleteBucketPolicyOutput, DeletePublicAccessBlockInput,
    DeletePublicAccessBlockOutput, GetBucketPolicyInput, GetBucketPolicyOutput,
    GetBucketPolicyStatusInput, GetBucketPolicyStatusOutput, GetPublicAccessBlockInput,
    GetPublicAccessBlockOutput, PolicyStatus, PublicAccessBlockConfiguration, PutBucketPolicyInput,
    PutBucketPolicyOutput, PutPublicAccessBlockInput, PutPublicAccessBlockOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde_json::Value;

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
    resolve_bucket(coffer, &req.input.bucket).await?;
    Err(s3_error!(
        NoSuchBucketPolicy,
        "The bucket policy does not exist."
    ))
}

pub(crate) async fn delete_bucket_policy(
    coffer: &Coffer,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    // There is never a policy to delete; AWS answers 204 in that case too.
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub(crate) async fn put_bucket_policy(
    coffer: &Coffer,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    match classify_policy(&req.input.policy) {
        PolicyVerdict::Malformed => Err(s3_error!(
            MalformedPolicy,
            "Policies must be valid JSON with a Statement."
        )),
        PolicyVerdict::Public => Err(s3_error!(AccessDenied, "{PUBLIC_REFUSED}")),
        PolicyVerdict::Unsupported => Err(s3_error!(
            NotImplemented,
            "Bucket policies are not supported yet; buckets are private to their owner."
        )),
    }
}

/// What a bucket policy document would do.
#[derive(Debug, PartialEq, Eq)]
enum PolicyVerdict {
    /// Not JSON, or not a policy.
    Malformed,
    /// A statement allows a wildcard principal (or everyone but someone).
    Public,
    /// Well-formed and not public, but policies are not supported.
    Unsupported,
}

fn classify_policy(text: &str) -> PolicyVerdict {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) else {
        return PolicyVerdict::Malformed;
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return PolicyVerdict::Malformed,
    };
    for statement in statements {
        let Value::Object(statement) = statement else {
            return PolicyVerdict::Malformed;
        };
        let allows = match statement.get("Effect") {
            Some(Value::String(e)) if e == "Allow" => true,
            Some(Value::String(e)) if e == "Deny" => false,
            _ => return PolicyVerdict::Malformed,
        };
        // "NotPrincipal" with Allow grants everyone except the listed principals.
        let public = statement.get("Principal").is_some_and(has_wildcard)
            || statement.contains_key("NotPrincipal");
        if allows && public {
            return PolicyVerdict::Public;
        }
    }
    PolicyVerdict::Unsupported
}

/// `"*"`, `{"AWS": "*"}`, `{"AWS": ["arn…", "*"]}`, or a wildcard inside an ARN.
fn has_wildcard(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s.contains('*'),
        Value::Array(items) => items.iter().any(has_wildcard),
        Value::Object(map) => map.values().any(has_wildcard),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2_wildcard_principals_are_public() {
        for principal in [
            r#""*""#,
            r#"{"AWS":"*"}"#,
            r#"{"AWS":["arn:aws:iam::1:root","*"]}"#,
            r#"{"CanonicalUser":"*"}"#,
            r#"{"AWS":"arn:aws:iam::*:root"}"#,
        ] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}]}}"#
            );
            assert_eq!(classify_policy(&doc), PolicyVerdict::Public, "{principal}");
        }
        let single = r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"s3:*","Resource":"*"}}"#;
        assert_eq!(classify_policy(single), PolicyVerdict::Public);
    }

    #[test]
    fn other_policies_are_unsupported_or_malformed() {
        let deny =
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(classify_policy(deny), PolicyVerdict::Unsupported);
        let user = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:user/a"},"Action":"s3:GetObject","Resource":"*"}]}"#;
        assert_eq!(classify_policy(user), PolicyVerdict::Unsupported);
        for bad in [
            "",
            "not json",
            "{",
            "[]",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Principal":"*"}]}"#,
            r#"{"Statement":["x"]}"#,
        ] {
            assert_eq!(classify_policy(bad), PolicyVerdict::Malformed, "{bad}");
        }
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
