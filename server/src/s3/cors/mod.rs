//! Cross-origin resource sharing: Put/Get/DeleteBucketCors, and what the guard needs to
//! answer browsers with a bucket's rules.
//!
//! A clinic's web app on another origin uploads and reads with presigned URLs; the browser
//! lets it only if the bucket's rules say so. Two places use the rules:
//!
//! - the unsigned preflight (`OPTIONS`), answered by the guard before authentication
//!   (`guard/preflight.rs`) through [`BucketCors`];
//! - a signed request carrying `Origin`: once the access check has allowed it
//!   ([`note_allowed`]), the guard adds the matching rule's headers to the response.
//!
//! The rules are checked once, on the way in (`rules.rs`), and stored typed (postcard) as
//! the bucket setting `Cors`, never as XML.

mod rules;

use std::sync::{Arc, Mutex};

use coffer_storage::{BucketSetting, Store};
use s3s::dto::{
    DeleteBucketCorsInput, DeleteBucketCorsOutput, GetBucketCorsInput, GetBucketCorsOutput,
    PutBucketCorsInput, PutBucketCorsOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Coffer;
use super::error_map::storage_error;
use super::host::{Domain, DomainHost};
pub(crate) use rules::{Ask, CorsRules};

pub(crate) async fn put_bucket_cors(
    coffer: &Coffer,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let input = req.input;
    let rules = CorsRules::from_dto(input.cors_configuration)?;
    let stored = postcard::to_allocvec(&rules)
        .map_err(|e| s3_error!(InternalError, "could not encode the CORS rules: {e}"))?;
    coffer
        .store
        .set_bucket_setting(&input.bucket, BucketSetting::Cors, Some(stored))
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(crate) async fn get_bucket_cors(
    coffer: &Coffer,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let stored = coffer
        .store
        .bucket_setting(&req.input.bucket, BucketSetting::Cors)
        .await
        .map_err(storage_error)?;
    let Some(stored) = stored else {
        return Err(s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        ));
    };
    let rules: CorsRules = postcard::from_bytes(&stored)
        .map_err(|e| s3_error!(InternalError, "the stored CORS rules do not decode: {e}"))?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(rules.to_dto()),
    }))
}

pub(crate) async fn delete_bucket_cors(
    coffer: &Coffer,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    coffer
        .store
        .set_bucket_setting(&req.input.bucket, BucketSetting::Cors, None)
        .await
        .map_err(storage_error)?;
    // 204, as AWS: s3s answers DeleteBucketCors with the status of its model.
    Ok(S3Response::new(DeleteBucketCorsOutput::default()))
}

/// The bucket a request was allowed on, named by the access check: set on a request that
/// carries `Origin`, so the guard can answer it with the bucket's CORS headers. Left empty
/// when the request was refused, so a refusal never tells a browser (or anyone) whether a
/// bucket has rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedBucket(Arc<Mutex<Option<String>>>);

impl AllowedBucket {
    /// The bucket, if the request was allowed on one.
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut bucket| bucket.take())
    }
}

/// Notes that the request whose `extensions` these are was allowed on `bucket`, if it
/// carries an [`AllowedBucket`] (it has an `Origin`).
pub(crate) fn note_allowed(extensions: &http::Extensions, bucket: Option<&str>) {
    if let (Some(slot), Some(bucket)) = (extensions.get::<AllowedBucket>(), bucket)
        && let Ok(mut named) = slot.0.lock()
    {
        *named = Some(bucket.to_owned());
    }
}

/// Reads buckets' CORS rules for the guard, and finds the bucket a preflight addresses.
#[derive(Clone)]
pub(crate) struct BucketCors {
    store: Store,
    /// Virtual-hosted-style addressing, as s3s is set up (`None`: path-style only).
    host: Option<Arc<DomainHost>>,
}

impl BucketCors {
    /// Rules from `store`; buckets addressed under `domains` as well as path-style.
    pub(crate) fn new(store: Store, domains: &[Domain]) -> BucketCors {
        BucketCors {
            store,
            host: (!domains.is_empty()).then(|| Arc::new(DomainHost::new(domains))),
        }
    }

    /// The bucket an unsigned request addresses, by its `Host` (virtual-hosted style) or
    /// the first segment of its path.
    pub(crate) fn bucket_of(&self, uri: &http::Uri, headers: &http::HeaderMap) -> Option<String> {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(http::uri::Authority::as_str));
        if let (Some(domains), Some(host)) = (&self.host, host)
            && let Some(bucket) = domains.bucket_of_host(host)
        {
            return Some(bucket);
        }
        let first = uri.path().trim_start_matches('/').split('/').next()?;
        (!first.is_empty()).then(|| first.to_owned())
    }

    /// The rules of `bucket`; `None` if it does not exist, has none, or they cannot be read
    /// (each the same to a browser).
    pub(crate) async fn rules(&self, bucket: &str) -> Option<CorsRules> {
        let stored = match self.store.bucket_setting(bucket, BucketSetting::Cors).await {
            Ok(stored) => stored?,
            Err(coffer_storage::Error::NoSuchBucket) => return None,
            Err(error) => {
                tracing::warn!(%error, "could not read a bucket's CORS rules");
                return None;
            }
        };
        match postcard::from_bytes(&stored) {
            Ok(rules) => Some(rules),
            Err(error) => {
                tracing::error!(%error, "a bucket's stored CORS rules no longer decode");
                None
            }
        }
    }
}
