//! Bucket operations: create, list, head, delete, location, and the answers a plain AWS
//! bucket gives about features Coffer has no use for (acceleration, requester pays).

use super::Coffer;
use super::bucket_access::{caller, owner, resolve_bucket};
use super::error_map::storage_error;
use s3s::dto::{
    Bucket, CreateBucketInput, CreateBucketOutput, DeleteBucketInput, DeleteBucketOutput,
    GetBucketAccelerateConfigurationInput, GetBucketAccelerateConfigurationOutput,
    GetBucketLocationInput, GetBucketLocationOutput, GetBucketRequestPaymentInput,
    GetBucketRequestPaymentOutput, HeadBucketInput, HeadBucketOutput, ListBucketsInput,
    ListBucketsOutput, Payer, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The region whose buckets report an empty `LocationConstraint`, as AWS does.
const DEFAULT_REGION: &str = "us-east-1";

pub(crate) async fn list_buckets(
    coffer: &Coffer,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let principal = caller(coffer, &req)?;
    let input = req.input;
    if input.continuation_token.is_some() || input.max_buckets.is_some() {
        // Paging of ListBuckets is rarely used; answer honestly rather than
        // return an unpaged list that claims to be a page.
        return Err(s3_error!(
            NotImplemented,
            "ListBuckets paging is not supported yet."
        ));
    }
    let all = coffer.store.list_buckets().await.map_err(storage_error)?;
    let prefix = input.prefix.unwrap_or_default();
    let buckets = all
        .into_iter()
        .filter(|b| b.owner == principal && b.name.starts_with(&prefix))
        .map(|b| Bucket {
            name: Some(b.name),
            creation_date: Some(Timestamp::from(b.created)),
            bucket_region: Some(coffer.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner(coffer, &principal)),
        prefix: (!prefix.is_empty()).then_some(prefix),
        ..Default::default()
    }))
}

pub(crate) async fn create_bucket(
    coffer: &Coffer,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let principal = caller(coffer, &req)?;
    let input = req.input;
    let object_lock = input.object_lock_enabled_for_bucket == Some(true);
    if let Some(constraint) = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
    {
        let wanted = constraint.as_str();
        let ours = coffer.region.as_str();
        // AWS accepts an empty constraint for us-east-1 only.
        if !(wanted == ours || (wanted.is_empty() && ours == DEFAULT_REGION)) {
            return Err(s3_error!(
                IllegalLocationConstraintException,
                "The location constraint does not match this server's region."
            ));
        }
    }
    let created = if object_lock {
        coffer
            .store
            .create_locked_bucket(&input.bucket, &principal)
            .await
    } else {
        coffer.store.create_bucket(&input.bucket, &principal).await
    };
    match created {
        Ok(_) => {}
        Err(coffer_storage::Error::BucketAlreadyExists { owner }) if owner == principal => {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        Err(e) => return Err(storage_error(e)),
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", input.bucket)),
    }))
}

pub(crate) async fn head_bucket(
    coffer: &Coffer,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    // s3s sends `bucket_region` as the `x-amz-bucket-region` header.
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(coffer.region.clone()),
        ..Default::default()
    }))
}

pub(crate) async fn delete_bucket(
    coffer: &Coffer,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    coffer
        .store
        .delete_bucket(&bucket.name)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

/// Transfer acceleration is never on: AWS answers a bucket that never had it with an empty
/// configuration (no `Status`), which tools read as "not enabled".
pub(crate) async fn get_bucket_accelerate_configuration(
    coffer: &Coffer,
    req: S3Request<GetBucketAccelerateConfigurationInput>,
) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(
        GetBucketAccelerateConfigurationOutput::default(),
    ))
}

/// There is no requester-pays: the bucket owner pays, AWS's default for every bucket.
pub(crate) async fn get_bucket_request_payment(
    coffer: &Coffer,
    req: S3Request<GetBucketRequestPaymentInput>,
) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketRequestPaymentOutput {
        payer: Some(Payer::from_static(Payer::BUCKET_OWNER)),
    }))
}

pub(crate) async fn get_bucket_location(
    coffer: &Coffer,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    resolve_bucket(coffer, &req.input.bucket).await?;
    let location_constraint = (coffer.region != DEFAULT_REGION)
        .then(|| s3s::dto::BucketLocationConstraint::from(coffer.region.clone()));
    // AWS names the region in this header too; tools that read only it (rather than the
    // empty us-east-1 constraint) then find it.
    let mut resp = S3Response::new(GetBucketLocationOutput {
        location_constraint,
    });
    if let Ok(region) = http::HeaderValue::from_str(&coffer.region) {
        resp.headers
            .insert(s3s::header::X_AMZ_BUCKET_REGION, region);
    }
    Ok(resp)
}
