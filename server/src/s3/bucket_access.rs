//! Who is calling, and the bucket they may act on.
//!
//! Every operation that names a bucket resolves it here, so the ownership
//! rule (a bucket is reachable only by its owner) lives in one place. The
//! access layer has already refused unsigned requests; this is the second,
//! per-bucket half of the decision.

use super::Coffer;
use super::error_map::storage_error;
use coffer_storage::BucketInfo;
use s3s::{S3Request, S3Result, s3_error};

/// The principal behind the request's verified access key.
pub(crate) fn caller<T>(coffer: &Coffer, req: &S3Request<T>) -> S3Result<String> {
    let creds = req
        .credentials
        .as_ref()
        .ok_or_else(|| s3_error!(AccessDenied, "Signature is required."))?;
    coffer
        .auth
        .principal_of(&creds.access_key)
        .ok_or_else(|| s3_error!(AccessDenied, "Access Denied."))
}

/// Looks a bucket up and checks that `caller` owns it.
///
/// A bucket owned by someone else answers `AccessDenied`, as AWS does, so a
/// caller learns nothing about other tenants' buckets beyond existence.
pub(crate) async fn owned_bucket(
    coffer: &Coffer,
    caller: &str,
    name: &str,
) -> S3Result<BucketInfo> {
    let bucket = coffer.store.bucket(name).await.map_err(storage_error)?;
    if bucket.owner != caller {
        return Err(s3_error!(AccessDenied, "Access Denied."));
    }
    Ok(bucket)
}

/// The `Owner` element S3 puts in listings: the principal's id.
pub(crate) fn owner(principal: &str) -> s3s::dto::Owner {
    s3s::dto::Owner {
        display_name: Some(principal.to_owned()),
        id: Some(principal.to_owned()),
    }
}
