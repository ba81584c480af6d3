//! Static website hosting, which Coffer never offers: a website endpoint serves anonymous
//! reads, and Coffer serves none (P2).
//!
//! PutBucketWebsite is refused in the access check (`coffer_auth::refused_operation`) with
//! `AccessDenied` and `coffer_auth::WEBSITE_REFUSED`, before its body is read. Not
//! `NotImplemented`: that would promise the feature later, and this is a policy. Not
//! `InvalidRequest`: nothing in the request can be fixed. `AccessDenied` is what AWS itself
//! answers when a policy forbids a call (Block Public Access, an SCP); SDKs do not retry it,
//! and tools print its message, which says why.
//!
//! The reads answer as AWS does for a bucket that has no website configuration, which is
//! every Coffer bucket: GetBucketWebsite gives `NoSuchWebsiteConfiguration` (404), and
//! DeleteBucketWebsite succeeds (AWS documents success when there is none to delete; s3s
//! sends the 204 of the API model), so cleanup scripts and tools that check for websites
//! before they act work unchanged.

use s3s::dto::{
    DeleteBucketWebsiteInput, DeleteBucketWebsiteOutput, GetBucketWebsiteInput,
    GetBucketWebsiteOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Coffer;
use super::bucket_access::resolve_bucket;

pub(crate) async fn get_bucket_website(
    coffer: &Coffer,
    req: S3Request<GetBucketWebsiteInput>,
) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Err(s3_error!(
        NoSuchWebsiteConfiguration,
        "The specified bucket does not have a website configuration"
    ))
}

pub(crate) async fn delete_bucket_website(
    coffer: &Coffer,
    req: S3Request<DeleteBucketWebsiteInput>,
) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(DeleteBucketWebsiteOutput {}))
}
