//! DeleteObject and DeleteObjects (idempotent, as in S3).

use super::Coffer;
use super::bucket_access::resolve_bucket;
use super::error_map::storage_error;
use crate::limits::MAX_DELETE_KEYS;
use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

pub(crate) async fn delete_object(
    coffer: &Coffer,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    if input.version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(s3_error!(
            NoSuchVersion,
            "Versioning is not enabled on this server."
        ));
    }
    if input.if_match.is_some()
        || input.if_match_size.is_some()
        || input.if_match_last_modified_time.is_some()
    {
        return Err(s3_error!(
            NotImplemented,
            "Conditional deletes are not supported yet."
        ));
    }
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    // Deleting what is not there succeeds: S3 deletes are idempotent.
    coffer
        .store
        .delete_object(&bucket, &input.key)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub(crate) async fn delete_objects(
    coffer: &Coffer,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        ));
    }
    if objects
        .iter()
        .any(|o| o.version_id.as_deref().is_some_and(|v| v != "null"))
    {
        return Err(s3_error!(
            NoSuchVersion,
            "Versioning is not enabled on this server."
        ));
    }
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let keys: Vec<String> = objects.into_iter().map(|o| o.key).collect();
    let quiet = input.delete.quiet.unwrap_or(false);
    let deleted = (!quiet).then(|| {
        keys.iter()
            .map(|k| DeletedObject {
                key: Some(k.clone()),
                ..Default::default()
            })
            .collect()
    });
    coffer
        .store
        .delete_objects(&bucket, keys)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted,
        ..Default::default()
    }))
}
