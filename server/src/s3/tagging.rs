//! Object and bucket tagging: the tag sets, AWS's limits on them, and the operations that
//! read and replace them.
//!
//! Object tags live in the object's metadata (sealed in the index with the rest of it);
//! bucket tags are a bucket setting, stored typed (postcard), never as XML. A tag set is
//! checked here once, whichever way it came: the `x-amz-tagging` header of PutObject,
//! CopyObject and CreateMultipartUpload, or the XML body of Put*Tagging.

use s3s::dto::{
    DeleteBucketTaggingInput, DeleteBucketTaggingOutput, DeleteObjectTaggingInput,
    DeleteObjectTaggingOutput, GetBucketTaggingInput, GetBucketTaggingOutput,
    GetObjectTaggingInput, GetObjectTaggingOutput, PutBucketTaggingInput, PutBucketTaggingOutput,
    PutObjectTaggingInput, PutObjectTaggingOutput, Tag, Tagging,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Coffer;
use super::bucket_access::resolve_bucket;
use super::error_map::storage_error;
use super::versioning::{read_error, version_ref};
use coffer_storage::BucketSetting;

/// A tag set: (key, value) pairs in the order given.
pub(crate) type Tags = Vec<(String, String)>;

/// Most tags on one object (AWS).
const MAX_OBJECT_TAGS: usize = 10;
/// Most tags on one bucket (AWS).
const MAX_BUCKET_TAGS: usize = 50;
/// Longest tag key, in Unicode characters (AWS).
const MAX_KEY_CHARS: usize = 128;
/// Longest tag value, in Unicode characters (AWS).
const MAX_VALUE_CHARS: usize = 256;

/// What a tag set belongs to: the limits differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Object,
    Bucket,
}

/// AWS's `400 BadRequest`, which s3s has no code for.
fn bad_request(message: &str) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom("BadRequest".into()), message.to_owned());
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// Whether `text` uses only what AWS allows in tags: letters, digits, white space and
/// `+ - = . _ : / @`.
fn allowed(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c))
}

/// Checks a tag set against AWS's rules for `owner`.
fn check(tags: &Tags, owner: Owner) -> S3Result<()> {
    let (max, what) = match owner {
        Owner::Object => (MAX_OBJECT_TAGS, "Object tags cannot be greater than 10"),
        Owner::Bucket => (
            MAX_BUCKET_TAGS,
            "Bucket tag count cannot be greater than 50",
        ),
    };
    if tags.len() > max {
        return Err(bad_request(what));
    }
    let mut keys = std::collections::HashSet::new();
    for (key, value) in tags {
        if key.is_empty() || !allowed(key) {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is too long, max 128"
            ));
        }
        if !allowed(value) {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is too long, max 256"
            ));
        }
        // `aws:` keys are AWS's own (set by its services), never a client's.
        if key.starts_with("aws:") {
            return Err(s3_error!(
                InvalidTag,
                "System tags cannot be added/updated by requester"
            ));
        }
        if !keys.insert(key.as_str()) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    Ok(())
}

/// The object tags of an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded), checked.
pub(crate) fn from_header(header: Option<&str>) -> S3Result<Tags> {
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let malformed = || {
        s3_error!(
            InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
        )
    };
    let decode = |text: &str| -> S3Result<String> {
        let spaced = text.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| malformed())
    };
    let mut tags = Vec::new();
    for pair in header.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(key)?, decode(value)?));
    }
    let mut seen = std::collections::HashSet::new();
    if !tags.iter().all(|(k, _)| seen.insert(k.clone())) {
        return Err(malformed());
    }
    check(&tags, Owner::Object)?;
    Ok(tags)
}

/// The tags of an XML `Tagging` body, checked for `owner`.
fn from_body(tagging: Tagging, owner: Owner) -> S3Result<Tags> {
    let tags = tagging
        .tag_set
        .into_iter()
        .map(|tag| {
            let key = tag
                .key
                .ok_or_else(|| s3_error!(MalformedXML, "A Tag has no Key."))?;
            Ok((key, tag.value.unwrap_or_default()))
        })
        .collect::<S3Result<Tags>>()?;
    check(&tags, owner)?;
    Ok(tags)
}

fn to_body(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag {
            key: Some(key.clone()),
            value: Some(value.clone()),
        })
        .collect()
}

/// `x-amz-tagging-count` for a GET: the number of tags, when there are any.
pub(crate) fn count(tags: &Tags) -> Option<i32> {
    (!tags.is_empty()).then(|| i32::try_from(tags.len()).unwrap_or(i32::MAX))
}

pub(crate) async fn put_object_tagging(
    coffer: &Coffer,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let tags = from_body(input.tagging, Owner::Object)?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let info = coffer
        .store
        .set_object_tags(&bucket, &input.key, version, tags)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: info.version_id,
    }))
}

pub(crate) async fn get_object_tagging(
    coffer: &Coffer,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let info = coffer
        .store
        .head_version(&bucket, &input.key, version)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: to_body(&info.meta.tags),
        version_id: info.version_id,
    }))
}

pub(crate) async fn delete_object_tagging(
    coffer: &Coffer,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let info = coffer
        .store
        .set_object_tags(&bucket, &input.key, version, Vec::new())
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    // 204, as AWS: s3s answers with the status of its model (a handler's is ignored).
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: info.version_id,
    }))
}

pub(crate) async fn put_bucket_tagging(
    coffer: &Coffer,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let input = req.input;
    let tags = from_body(input.tagging, Owner::Bucket)?;
    let stored = postcard::to_allocvec(&tags)
        .map_err(|e| s3_error!(InternalError, "could not encode the tags: {e}"))?;
    coffer
        .store
        .set_bucket_setting(&input.bucket, BucketSetting::Tagging, Some(stored))
        .await
        .map_err(storage_error)?;
    // AWS answers 204; s3s 0.14.1 answers with its model's 200 (a handler's status is
    // ignored). SDKs take either as success.
    Ok(S3Response::new(PutBucketTaggingOutput::default()))
}

pub(crate) async fn get_bucket_tagging(
    coffer: &Coffer,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let stored = coffer
        .store
        .bucket_setting(&req.input.bucket, BucketSetting::Tagging)
        .await
        .map_err(storage_error)?;
    let Some(stored) = stored else {
        return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
    };
    let tags: Tags = postcard::from_bytes(&stored)
        .map_err(|e| s3_error!(InternalError, "the stored bucket tags do not decode: {e}"))?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: to_body(&tags),
    }))
}

pub(crate) async fn delete_bucket_tagging(
    coffer: &Coffer,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    coffer
        .store
        .set_bucket_setting(&req.input.bucket, BucketSetting::Tagging, None)
        .await
        .map_err(storage_error)?;
    // 204, as AWS (s3s's model).
    Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_header_decodes_as_a_query_string() {
        assert_eq!(
            from_header(Some("study=x-ray&patient%20id=P%2F17&empty=&flag")).unwrap(),
            tags(&[
                ("study", "x-ray"),
                ("patient id", "P/17"),
                ("empty", ""),
                ("flag", "")
            ])
        );
        assert_eq!(
            from_header(Some("a+b=c+d")).unwrap(),
            tags(&[("a b", "c d")])
        );
        assert!(from_header(None).unwrap().is_empty());
        let dup = from_header(Some("a=1&a=2")).unwrap_err();
        assert_eq!(*dup.code(), S3ErrorCode::InvalidArgument);
        let bad = from_header(Some("a=%ff")).unwrap_err();
        assert_eq!(*bad.code(), S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn aws_limits_hold_for_objects_and_buckets() {
        let eleven: Tags = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        let e = check(&eleven, Owner::Object).unwrap_err();
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
        assert_eq!(e.code().as_str(), "BadRequest");
        check(&eleven, Owner::Bucket).unwrap();
        let fifty_one: Tags = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check(&fifty_one, Owner::Bucket).is_err());
        for bad in [
            tags(&[("", "v")]),
            tags(&[(&"k".repeat(129), "v")]),
            tags(&[("k", &"v".repeat(257))]),
            tags(&[("k<", "v")]),
            tags(&[("k", "v;")]),
            tags(&[("aws:created", "v")]),
            tags(&[("k", "1"), ("k", "2")]),
        ] {
            let e = check(&bad, Owner::Object).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidTag, "{bad:?}");
        }
        check(
            &tags(&[
                (&"k".repeat(128), &"v".repeat(256)),
                ("Größe", "1 + 2 = 3 @ a.b_c:d/e"),
            ]),
            Owner::Object,
        )
        .unwrap();
    }
}
