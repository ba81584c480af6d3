//! Bucket operations: create, list (with AWS's paging), head, delete, location, and the
//! answers a plain AWS bucket gives about features Coffer has no use for (acceleration,
//! requester pays).

use super::Coffer;
use super::bucket_access::{caller, owner, resolve_bucket};
use super::continuation::{self, Listing};
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

/// The most buckets one ListBuckets page holds (`max-buckets` is 1..=10000), and the page
/// size of a request that pages without `max-buckets`, as AWS documents.
const MAX_BUCKETS: i32 = 10_000;

/// ListBuckets: the caller's buckets in name (byte) order. A request with none of
/// `max-buckets`, `continuation-token`, `prefix` and `bucket-region` gets every bucket, as
/// AWS answers accounts within its default quota; one with any of them gets pages of
/// `max-buckets` (10,000 without it) and a sealed `ContinuationToken` while more remain.
pub(crate) async fn list_buckets(
    coffer: &Coffer,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let principal = caller(coffer, &req)?;
    let input = req.input;
    let paged = input.max_buckets.is_some()
        || input.continuation_token.is_some()
        || input.prefix.is_some()
        || input.bucket_region.is_some();
    let page_size = match input.max_buckets {
        Some(n) if (1..=MAX_BUCKETS).contains(&n) => usize::try_from(n).unwrap_or(1),
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "Argument max-buckets must be an integer between 1 and 10000."
            ));
        }
        None if paged => usize::try_from(MAX_BUCKETS).unwrap_or(1),
        None => usize::MAX,
    };
    if let Some(region) = input.bucket_region.as_deref()
        && !region.eq_ignore_ascii_case(&coffer.region)
    {
        // Every bucket is in this server's region. AWS refuses rather than answer an empty
        // list when the region is not the endpoint's (the region is not echoed: it is the
        // client's text).
        return Err(s3_error!(
            InvalidArgument,
            "Requests with bucket-region specified must be made to the corresponding regional endpoint"
        ));
    }
    let listing = Listing::Buckets { owner: &principal };
    let after = input
        .continuation_token
        .as_deref()
        .map(|token| continuation::decode(&coffer.store, &listing, token))
        .transpose()?;
    let prefix = input.prefix.as_deref().unwrap_or_default();
    // Sorted by name already (storage lists in byte order).
    let all = coffer.store.list_buckets().await.map_err(storage_error)?;
    let mut owned = all.into_iter().filter(|b| {
        b.owner == principal
            && b.name.starts_with(prefix)
            && after.as_deref().is_none_or(|after| b.name.as_str() > after)
    });
    let page: Vec<_> = owned.by_ref().take(page_size).collect();
    let next = match page.last() {
        Some(last) if owned.next().is_some() => {
            Some(continuation::encode(&coffer.store, &listing, &last.name)?)
        }
        _ => None,
    };
    let buckets = page
        .into_iter()
        .map(|b| Bucket {
            name: Some(b.name),
            creation_date: Some(Timestamp::from(b.created)),
            bucket_region: Some(coffer.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner(coffer, &principal)),
        // AWS echoes the prefix when the request sent one.
        prefix: input.prefix,
        continuation_token: next,
    }))
}

pub(crate) async fn create_bucket(
    coffer: &Coffer,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let principal = caller(coffer, &req)?;
    let input = req.input;
    super::ownership::check_create_header(input.object_ownership.as_ref())?;
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
