//! Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration.
//!
//! The rules are checked once, on the way in (`rules.rs`), and stored typed (postcard) as
//! the bucket setting `Lifecycle`, never as XML. They act through the background sweep
//! (`sweep.rs`) and show in object responses as `x-amz-expiration` (`expiry.rs`).

mod expiry;
mod rules;
mod sweep;

use s3s::dto::{
    DeleteBucketLifecycleInput, DeleteBucketLifecycleOutput, GetBucketLifecycleConfigurationInput,
    GetBucketLifecycleConfigurationOutput, PutBucketLifecycleConfigurationInput,
    PutBucketLifecycleConfigurationOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Coffer;
use super::error_map::storage_error;
use coffer_storage::BucketSetting;
pub(crate) use expiry::{bucket_with_lifecycle, decode_stored, expiration_of};
pub(crate) use rules::Lifecycle;
pub(crate) use sweep::sweep_lifecycle;

pub(crate) async fn put_bucket_lifecycle_configuration(
    coffer: &Coffer,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let input = req.input;
    // A PUT with no body at all: AWS answers MalformedXML too.
    let config = input.lifecycle_configuration.ok_or_else(|| {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    })?;
    let config = Lifecycle::from_dto(config)?;
    let stored = postcard::to_allocvec(&config)
        .map_err(|e| s3_error!(InternalError, "could not encode the lifecycle rules: {e}"))?;
    coffer
        .store
        .set_bucket_setting(&input.bucket, BucketSetting::Lifecycle, Some(stored))
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub(crate) async fn get_bucket_lifecycle_configuration(
    coffer: &Coffer,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let stored = coffer
        .store
        .bucket_setting(&req.input.bucket, BucketSetting::Lifecycle)
        .await
        .map_err(storage_error)?;
    let Some(stored) = stored else {
        return Err(s3_error!(
            NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist"
        ));
    };
    let config: Lifecycle = postcard::from_bytes(&stored).map_err(|e| {
        s3_error!(
            InternalError,
            "the stored lifecycle rules do not decode: {e}"
        )
    })?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(config.to_dto()),
        ..GetBucketLifecycleConfigurationOutput::default()
    }))
}

pub(crate) async fn delete_bucket_lifecycle(
    coffer: &Coffer,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    coffer
        .store
        .set_bucket_setting(&req.input.bucket, BucketSetting::Lifecycle, None)
        .await
        .map_err(storage_error)?;
    let mut response = S3Response::new(DeleteBucketLifecycleOutput::default());
    // AWS answers 204.
    response.status = Some(http::StatusCode::NO_CONTENT);
    Ok(response)
}
