//! Who is calling, and the bucket a request names.
//!
//! The decision whether the caller may act was taken before any handler runs, by
//! coffer-auth through the access hook (`auth_adapter.rs`); handlers only resolve names.

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

/// Looks up the bucket a request names. Whether the caller may act on it was decided
/// before the handler ran (`auth_adapter.rs`, by coffer-auth), so nothing is re-checked here.
pub(crate) async fn resolve_bucket(coffer: &Coffer, name: &str) -> S3Result<BucketInfo> {
    coffer.store.bucket(name).await.map_err(storage_error)
}

/// The `Owner` element S3 puts in listings and ACLs: the principal's stable id (what
/// `x-amz-expected-bucket-owner` names) and its user name.
pub(crate) fn owner(coffer: &Coffer, principal: &str) -> s3s::dto::Owner {
    s3s::dto::Owner {
        display_name: Some(coffer.auth.display_name(principal)),
        id: Some(principal.to_owned()),
    }
}
