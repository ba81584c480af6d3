//! ListObjects (v1) and ListObjectsV2, in byte order of keys.
//!
//! Storage does the ordered scan and the delimiter folding; this module maps
//! S3's two paging dialects (v1 `marker`/`NextMarker`, v2 opaque
//! continuation tokens, sealed by `continuation.rs`) onto it and applies
//! `encoding-type=url`, which s3s echoes but does not apply (s3s notes §8.7).

use super::Coffer;
use super::bucket_access::{owner, resolve_bucket};
use super::continuation::{self, Listing};
use super::error_map::storage_error;
use coffer_storage::{ListEntry, ListPage, ListParams};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::{
    CommonPrefix, ETag, EncodingType, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, Object, ObjectStorageClass, Owner, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::limits::MAX_KEYS;

/// What `encoding-type=url` leaves as is: RFC 3986 unreserved characters and
/// `/`. Everything else, `+` and space included, is percent-encoded, so both
/// `unquote` and `unquote_plus` decoders get the key back.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "max-keys must be a non-negative integer."
        )),
        Some(n) => Ok(usize::try_from(n.min(MAX_KEYS)).unwrap_or(1000)),
    }
}

pub(super) fn url_encoding(requested: Option<&EncodingType>) -> S3Result<bool> {
    match requested.map(EncodingType::as_str) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

/// Encodes a key-like value when the client asked for `encoding-type=url`.
pub(super) fn enc(value: &str, url: bool) -> String {
    if url {
        utf8_percent_encode(value, URL_KEEP).to_string()
    } else {
        value.to_owned()
    }
}

/// Contents and common prefixes of a page, encoded as asked.
fn split_page(
    page: ListPage,
    url: bool,
    owner: Option<&Owner>,
) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for entry in page.entries {
        match entry {
            ListEntry::Object(o) => contents.push(Object {
                key: Some(enc(&o.key, url)),
                size: i64::try_from(o.size).ok(),
                e_tag: Some(ETag::Strong(o.etag)),
                last_modified: Some(Timestamp::from(o.last_modified)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                owner: owner.cloned(),
                ..Default::default()
            }),
            ListEntry::CommonPrefix(p) => {
                prefixes.push(CommonPrefix {
                    prefix: Some(enc(&p, url)),
                });
            }
        }
    }
    (contents, prefixes)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

pub(crate) async fn list_objects_v2(
    coffer: &Coffer,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.clone());
    let listing = Listing::Keys {
        bucket: &input.bucket,
    };
    let resume = match input.continuation_token.as_deref() {
        Some(token) => Some(continuation::decode(&coffer.store, &listing, token)?),
        None => non_empty(input.start_after.clone()),
    };
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let page = coffer
        .store
        .list_objects(
            &bucket,
            ListParams {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                start_after: resume,
                max_keys: max,
            },
        )
        .await
        .map_err(storage_error)?;

    let is_truncated = page.is_truncated;
    let next = match page.last.as_deref() {
        Some(last) if is_truncated => Some(continuation::encode(&coffer.store, &listing, last)?),
        _ => None,
    };
    let owner = (input.fetch_owner == Some(true)).then(|| owner(coffer, &bucket.owner));
    let (contents, prefixes) = split_page(page, url, owner.as_ref());
    let key_count = i32::try_from(contents.len() + prefixes.len()).unwrap_or(MAX_KEYS);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(enc(&prefix, url)),
        delimiter: delimiter.map(|d| enc(&d, url)),
        max_keys: input.max_keys.or(Some(MAX_KEYS)),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        start_after: input.start_after.map(|s| enc(&s, url)),
        is_truncated: Some(is_truncated),
        next_continuation_token: next,
        contents: Some(contents),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

pub(crate) async fn list_objects(
    coffer: &Coffer,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.clone());
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let page = coffer
        .store
        .list_objects(
            &bucket,
            ListParams {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                start_after: non_empty(input.marker.clone()),
                max_keys: max,
            },
        )
        .await
        .map_err(storage_error)?;

    let is_truncated = page.is_truncated;
    // AWS returns NextMarker only when a delimiter was given; without one,
    // clients continue from the last key they received.
    let next_marker = if is_truncated && delimiter.is_some() {
        page.last.clone()
    } else {
        None
    };
    let owner = owner(coffer, &bucket.owner);
    let (contents, prefixes) = split_page(page, url, Some(&owner));
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(&prefix, url)),
        marker: Some(input.marker.map(|m| enc(&m, url)).unwrap_or_default()),
        delimiter: delimiter.map(|d| enc(&d, url)),
        max_keys: input.max_keys.or(Some(MAX_KEYS)),
        is_truncated: Some(is_truncated),
        next_marker: next_marker.map(|m| enc(&m, url)),
        contents: Some(contents),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_matches_aws() {
        assert_eq!(enc("a b+c%/d~e", true), "a%20b%2Bc%25/d~e");
        assert_eq!(enc("é", true), "%C3%A9");
        assert_eq!(enc("a b", false), "a b");
    }

    #[test]
    fn max_keys_is_bounded() {
        assert_eq!(max_keys(None).unwrap(), 1000);
        assert_eq!(max_keys(Some(5000)).unwrap(), 1000);
        assert_eq!(max_keys(Some(0)).unwrap(), 0);
        assert!(max_keys(Some(-1)).is_err());
    }
}
