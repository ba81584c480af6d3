//! Object Ownership: Get/PutBucketOwnershipControls, and CreateBucket's
//! `x-amz-object-ownership`.
//!
//! Every Coffer bucket is `BucketOwnerEnforced`: its owner owns every object in it, whoever
//! wrote it, and no setting hands objects to their writers. Since April 2023 that is also
//! what AWS gives every new bucket, and GetBucketOwnershipControls reports it ("By default,
//! Amazon S3 sets OwnershipControls for all newly created buckets"), so a bucket answers it
//! whether or not PutBucketOwnershipControls was called. Nothing is stored.
//!
//! PutBucketOwnershipControls accepts `BucketOwnerEnforced` (a no-op that tools such as
//! Terraform send). `BucketOwnerPreferred` and `ObjectWriter` are AWS settings Coffer does
//! not offer: they are refused, like every other request that would loosen a bucket (P2),
//! with `AccessDenied` and [`OWNERSHIP_REFUSED`] — a refusal by policy, as AWS's own
//! policy refusals are (Block Public Access, SCPs), which SDKs do not retry and tools show
//! with its message; `InvalidRequest` would say the request could be fixed. Anything else
//! (no rule, several rules, an unknown value) is what AWS answers with `MalformedXML`.
//!
//! DeleteBucketOwnershipControls is refused in the access check
//! (`coffer_auth::refused_operation`): on AWS it takes a bucket back to ACL-era ownership
//! (objects owned by their writers), which Coffer cannot do, and answering 204 while
//! GetBucketOwnershipControls still said `BucketOwnerEnforced` would be a lie.
//!
//! One difference remains, and is by design: `BucketOwnerEnforced` on AWS also disables
//! ACLs, whereas Coffer still honours ACL grants to other Coffer users (never public ones;
//! see `acl.rs`). What the setting says about who owns objects holds exactly.

use coffer_auth::OWNERSHIP_REFUSED;
use s3s::dto::{
    GetBucketOwnershipControlsInput, GetBucketOwnershipControlsOutput, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PutBucketOwnershipControlsInput,
    PutBucketOwnershipControlsOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Coffer;
use super::bucket_access::resolve_bucket;

/// What a requested ownership setting is to Coffer.
#[derive(Debug, PartialEq, Eq)]
enum Requested {
    /// `BucketOwnerEnforced`: what every bucket has.
    Enforced,
    /// `BucketOwnerPreferred` or `ObjectWriter`: valid on AWS, refused here.
    Loosened,
    /// Not an AWS setting.
    Unknown,
}

fn requested(value: &ObjectOwnership) -> Requested {
    match value.as_str() {
        ObjectOwnership::BUCKET_OWNER_ENFORCED => Requested::Enforced,
        ObjectOwnership::BUCKET_OWNER_PREFERRED | ObjectOwnership::OBJECT_WRITER => {
            Requested::Loosened
        }
        _ => Requested::Unknown,
    }
}

fn refused() -> s3s::S3Error {
    s3_error!(AccessDenied, "{OWNERSHIP_REFUSED}")
}

/// CreateBucket's `x-amz-object-ownership`, checked before the bucket is created.
///
/// # Errors
/// `InvalidArgument` for a value AWS does not know; `AccessDenied` for one Coffer refuses.
pub(crate) fn check_create_header(value: Option<&ObjectOwnership>) -> S3Result<()> {
    match value.map(requested) {
        None | Some(Requested::Enforced) => Ok(()),
        Some(Requested::Loosened) => Err(refused()),
        Some(Requested::Unknown) => Err(s3_error!(
            InvalidArgument,
            "Invalid x-amz-object-ownership header"
        )),
    }
}

/// What [`put_bucket_ownership_controls`] makes of a configuration, the bucket aside.
fn check_controls(controls: &OwnershipControls) -> S3Result<()> {
    let [rule] = controls.rules.as_slice() else {
        return Err(s3_error!(MalformedXML));
    };
    match requested(&rule.object_ownership) {
        Requested::Enforced => Ok(()),
        Requested::Loosened => Err(refused()),
        Requested::Unknown => Err(s3_error!(MalformedXML)),
    }
}

pub(crate) async fn get_bucket_ownership_controls(
    coffer: &Coffer,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(
                    ObjectOwnership::BUCKET_OWNER_ENFORCED,
                ),
            }],
        }),
    }))
}

pub(crate) async fn put_bucket_ownership_controls(
    coffer: &Coffer,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    check_controls(&req.input.ownership_controls)?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;

    fn controls(values: &[&str]) -> OwnershipControls {
        OwnershipControls {
            rules: values
                .iter()
                .map(|v| OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from((*v).to_owned()),
                })
                .collect(),
        }
    }

    fn code(result: S3Result<()>) -> Option<S3ErrorCode> {
        result.err().map(|e| e.code().clone())
    }

    #[test]
    fn only_bucket_owner_enforced_is_accepted() {
        assert_eq!(
            code(check_controls(&controls(&["BucketOwnerEnforced"]))),
            None
        );
        for loosened in ["BucketOwnerPreferred", "ObjectWriter"] {
            let err = check_controls(&controls(&[loosened])).unwrap_err();
            assert_eq!(*err.code(), S3ErrorCode::AccessDenied);
            assert_eq!(err.message(), Some(OWNERSHIP_REFUSED));
        }
    }

    #[test]
    fn what_aws_does_not_know_is_malformed_xml() {
        for bad in [
            &[][..],
            &["bucketownerenforced"],
            &["Private"],
            &[""],
            &["BucketOwnerEnforced", "BucketOwnerEnforced"],
        ] {
            assert_eq!(
                code(check_controls(&controls(bad))),
                Some(S3ErrorCode::MalformedXML),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn create_header_follows_the_same_rule() {
        let of = |v: &str| ObjectOwnership::from(v.to_owned());
        assert_eq!(code(check_create_header(None)), None);
        assert_eq!(
            code(check_create_header(Some(&of("BucketOwnerEnforced")))),
            None
        );
        assert_eq!(
            code(check_create_header(Some(&of("ObjectWriter")))),
            Some(S3ErrorCode::AccessDenied)
        );
        assert_eq!(
            code(check_create_header(Some(&of("Owner")))),
            Some(S3ErrorCode::InvalidArgument)
        );
    }
}
