//! GetObjectAttributes: what HeadObject and ListParts would say of an object, in one answer.
//!
//! AWS's rules (GetObjectAttributes API reference, and the answers AWS gave in LocalStack's
//! AWS-validated snapshots of `test_get_object_attributes*` and the multipart checksum tests):
//! - `x-amz-object-attributes` lists the fields wanted, comma-separated, spaces allowed. None
//!   is 400 `InvalidRequest`, an unknown name 400 `InvalidArgument`, both before the object
//!   is looked up. Only the fields asked for are returned; `Last-Modified` and
//!   `x-amz-version-id` always are.
//! - `ETag` is unquoted in this body, unlike every other S3 response ([`unquote_etag`]).
//! - `Checksum` is the object's checksum with its type; a COMPOSITE value loses its `-N`.
//! - `ObjectParts` only for a multipart object: `TotalPartsCount`, and the parts themselves
//!   (paged by `MaxParts`, default 1000, and `PartNumberMarker`) only when the object has a
//!   COMPOSITE checksum, since AWS returns parts only for objects with additional checksums
//!   and, in its answers, only for composite ones.
//! - `StorageClass` is always `STANDARD` (Coffer has no other).
//! - The object is read as HEAD reads it: a delete marker answers 404 `NoSuchKey` (405 when
//!   named by version id) with `x-amz-delete-marker`, an SSE-C object needs its key.
//!
//! Access (both `s3:GetObject` and `s3:GetObjectAttributes`, or their `…Version…` twins) is
//! decided by coffer-auth before this runs (`auth_adapter.rs`).

use super::Coffer;
use super::bucket_access::resolve_bucket;
use super::checksum::{s3_type, type_of};
use super::error_map::storage_error;
use super::object_headers::{ChecksumFields, checksum_fields_of};
use super::sealing;
use super::sse_c;
use super::versioning::{read_error, version_ref};
use crate::client::Client;
use coffer_storage::{Checksum as StoredChecksum, ChecksumType, ObjectInfo, ObjectPart};
use s3s::dto::{
    Checksum, ETag, GetObjectAttributesInput, GetObjectAttributesOutput, GetObjectAttributesParts,
    ObjectAttributes, StorageClass, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The most parts one answer lists, and the default (`MaxParts`), as for ListParts.
const MAX_PARTS_PER_PAGE: i32 = 1000;

/// A field `x-amz-object-attributes` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ETag,
    Checksum,
    ObjectParts,
    StorageClass,
    ObjectSize,
}

impl Field {
    /// The field named `name`, spelled exactly as the API enumerates it.
    fn named(name: &str) -> Option<Field> {
        Some(match name {
            ObjectAttributes::ETAG => Field::ETag,
            ObjectAttributes::CHECKSUM => Field::Checksum,
            ObjectAttributes::OBJECT_PARTS => Field::ObjectParts,
            ObjectAttributes::STORAGE_CLASS => Field::StorageClass,
            ObjectAttributes::OBJECT_SIZE => Field::ObjectSize,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The fields a request asks for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Wanted(u8);

impl Wanted {
    fn has(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }
}

/// Reads `x-amz-object-attributes`. s3s hands over one entry per header line, each of which
/// may list several names (SDKs send a line per name, or one line `ETag, ObjectSize`).
fn wanted(list: &[ObjectAttributes]) -> S3Result<Wanted> {
    let mut wanted = Wanted::default();
    let names = list
        .iter()
        .flat_map(|entry| entry.as_str().split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty());
    for name in names {
        // AWS's text; the name itself stays out of the message (no client input in errors).
        let field = Field::named(name)
            .ok_or_else(|| s3_error!(InvalidArgument, "Invalid attribute name specified."))?;
        wanted.0 |= field.bit();
    }
    if wanted == Wanted::default() {
        return Err(s3_error!(
            InvalidRequest,
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty"
        ));
    }
    Ok(wanted)
}

/// Which page of parts to list: at most `max` after part `marker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Paging {
    max: i32,
    marker: i32,
}

impl Paging {
    /// From `x-amz-max-parts` and `x-amz-part-number-marker`. A page size below 1 is taken
    /// as the default and one above 1000 as 1000, as ListParts pages; a negative marker as 0.
    fn of(max_parts: Option<i32>, marker: Option<i32>) -> Paging {
        let max = max_parts
            .filter(|n| *n > 0)
            .map_or(MAX_PARTS_PER_PAGE, |n| n.min(MAX_PARTS_PER_PAGE));
        Paging {
            max,
            marker: marker.unwrap_or(0).max(0),
        }
    }
}

pub(crate) async fn get_object_attributes(
    coffer: &Coffer,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let input = &req.input;
    let wanted = wanted(&input.object_attributes)?;
    // As HEAD: the SSE-C headers checked, the version named, the object's key required.
    let customer = sse_c::parse(&sse_c::headers_of!(input), req.extensions.get::<Client>())?;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let obj = coffer
        .store
        .head_version(&bucket, &input.key, version)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    sealing::check_customer(coffer, &obj, customer.as_ref()).await?;

    let object_parts = if wanted.has(Field::ObjectParts) {
        let paging = Paging::of(input.max_parts, input.part_number_marker);
        parts_of(coffer, &obj, paging).await?
    } else {
        None
    };
    let object_size = if wanted.has(Field::ObjectSize) {
        Some(
            i64::try_from(obj.size)
                .map_err(|_| s3_error!(InternalError, "Object size out of range."))?,
        )
    } else {
        None
    };
    let output = GetObjectAttributesOutput {
        e_tag: wanted
            .has(Field::ETag)
            .then(|| ETag::Strong(obj.etag.clone())),
        checksum: if wanted.has(Field::Checksum) {
            checksum_of(&obj.meta.checksums)
        } else {
            None
        },
        object_parts,
        object_size,
        storage_class: wanted
            .has(Field::StorageClass)
            .then(|| StorageClass::from_static(StorageClass::STANDARD)),
        last_modified: Some(Timestamp::from(obj.last_modified)),
        version_id: obj.version_id.clone(),
        ..Default::default()
    };
    let mut resp = S3Response::new(output);
    if wanted.has(Field::ETag) {
        resp.extensions.insert(UnquotedEtag(obj.etag));
    }
    Ok(resp)
}

/// The object's checksum as this API writes it: the value without a composite `-N`, and
/// its type.
fn checksum_of(stored: &[StoredChecksum]) -> Option<Checksum> {
    let first = stored.first()?;
    let bare = |value: Option<String>| {
        value.map(|v| match v.split_once('-') {
            Some((value, _parts)) => value.to_owned(),
            None => v,
        })
    };
    let ChecksumFields {
        crc32,
        crc32c,
        crc64nvme,
        sha1,
        sha256,
    } = checksum_fields_of(stored);
    Some(Checksum {
        checksum_crc32: bare(crc32),
        checksum_crc32c: bare(crc32c),
        checksum_crc64nvme: bare(crc64nvme),
        checksum_sha1: bare(sha1),
        checksum_sha256: bare(sha256),
        checksum_type: Some(s3_type(type_of(&first.value))),
    })
}

/// `ObjectParts` of a multipart object; `None` for a single-part one.
async fn parts_of(
    coffer: &Coffer,
    obj: &ObjectInfo,
    paging: Paging,
) -> S3Result<Option<GetObjectAttributesParts>> {
    // Only a multipart ETag (`md5-N`) can have parts; a single-part object has no layout.
    let Some(count) = etag_part_count(&obj.etag) else {
        return Ok(None);
    };
    let composite = obj
        .meta
        .checksums
        .first()
        .is_some_and(|c| type_of(&c.value) == ChecksumType::Composite);
    let layout = if composite {
        coffer
            .store
            .object_parts(obj)
            .await
            .map_err(storage_error)?
    } else {
        None
    };
    Ok(Some(match layout {
        Some(parts) => page(&parts, &obj.meta.checksums, paging),
        // No composite checksum, or a version whose layout went when the key was
        // overwritten: the count alone, which the ETag carries.
        None => GetObjectAttributesParts {
            total_parts_count: Some(count),
            ..Default::default()
        },
    }))
}

/// `N` of a multipart ETag `md5-N`.
fn etag_part_count(etag: &str) -> Option<i32> {
    let (_, count) = etag.rsplit_once('-')?;
    count.parse().ok().filter(|n| *n > 0)
}

/// One page of `parts` (numbered from 1, as `partNumber` reads number them), each with its
/// checksum in the object's algorithm(s).
fn page(
    parts: &[ObjectPart],
    object: &[StoredChecksum],
    paging: Paging,
) -> GetObjectAttributesParts {
    let skip = usize::try_from(paging.marker).unwrap_or(usize::MAX);
    let take = usize::try_from(paging.max).unwrap_or(0);
    let listed: Vec<s3s::dto::ObjectPart> = parts
        .iter()
        .enumerate()
        .skip(skip)
        .take(take)
        .map(|(i, part)| {
            let sums: Vec<StoredChecksum> = part
                .checksums
                .iter()
                .filter(|c| object.iter().any(|o| o.algorithm == c.algorithm))
                .cloned()
                .collect();
            let sums = checksum_fields_of(&sums);
            s3s::dto::ObjectPart {
                part_number: i32::try_from(i + 1).ok(),
                size: i64::try_from(part.range.end - part.range.start).ok(),
                checksum_crc32: sums.crc32,
                checksum_crc32c: sums.crc32c,
                checksum_crc64nvme: sums.crc64nvme,
                checksum_sha1: sums.sha1,
                checksum_sha256: sums.sha256,
            }
        })
        .collect();
    let next = listed.last().and_then(|p| p.part_number).unwrap_or(0);
    let is_truncated = skip.saturating_add(listed.len()) < parts.len();
    GetObjectAttributesParts {
        is_truncated: Some(is_truncated),
        max_parts: Some(paging.max),
        next_part_number_marker: Some(next),
        part_number_marker: Some(paging.marker),
        parts: (!listed.is_empty()).then_some(listed),
        total_parts_count: i32::try_from(parts.len()).ok(),
    }
}

/// Marks a GetObjectAttributes response whose body carries the object's ETag.
///
/// s3s 0.14.1 writes every XML `ETag` in quotes, right for every other S3 response, but
/// AWS answers GetObjectAttributes with the bare value (s3s-project/s3s#629), and clients
/// compare it with the unquoted MD5. The handler cannot shape the body, so it leaves this
/// mark, and [`unquote_etag`] takes the quotes off on the way out.
#[derive(Debug, Clone)]
pub(crate) struct UnquotedEtag(String);

/// Takes the quotes off the ETag of a GetObjectAttributes body (see [`UnquotedEtag`]);
/// every other response passes unchanged.
pub(crate) fn unquote_etag(resp: http::Response<s3s::Body>) -> http::Response<s3s::Body> {
    let Some(UnquotedEtag(etag)) = resp.extensions().get::<UnquotedEtag>().cloned() else {
        return resp;
    };
    let (mut parts, body) = resp.into_parts();
    parts.extensions.remove::<UnquotedEtag>();
    // An XML body s3s built is held whole in memory.
    let Some(bytes) = body.bytes() else {
        return http::Response::from_parts(parts, body);
    };
    let quoted = format!("<ETag>\"{etag}\"</ETag>");
    let Some(at) = find(&bytes, quoted.as_bytes()) else {
        return http::Response::from_parts(parts, body);
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..at]);
    out.extend_from_slice(format!("<ETag>{etag}</ETag>").as_bytes());
    out.extend_from_slice(&bytes[at + quoted.len()..]);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    http::Response::from_parts(parts, s3s::Body::from(out))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_storage::ChecksumAlgorithm;

    fn names(list: &[&str]) -> Vec<ObjectAttributes> {
        list.iter()
            .map(|s| ObjectAttributes::from((*s).to_owned()))
            .collect()
    }

    #[test]
    fn attribute_names_are_read_from_lists_with_or_without_spaces() {
        let every = [
            Field::ETag,
            Field::Checksum,
            Field::ObjectParts,
            Field::StorageClass,
            Field::ObjectSize,
        ];
        let spaced = names(&["ETag, Checksum, ObjectParts, StorageClass, ObjectSize"]);
        let lines = names(&["ETag,Checksum", "ObjectParts", "StorageClass,,ObjectSize"]);
        for list in [spaced, lines] {
            let got = wanted(&list).unwrap();
            assert!(every.iter().all(|f| got.has(*f)), "{list:?}");
        }
        let one = wanted(&names(&["ObjectSize"])).unwrap();
        assert!(one.has(Field::ObjectSize) && !one.has(Field::ETag));
    }

    #[test]
    fn no_attribute_is_invalid_request_and_an_unknown_one_invalid_argument() {
        for empty in [names(&[]), names(&[""]), names(&[" , "])] {
            let e = wanted(&empty).unwrap_err();
            assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidRequest);
        }
        for bad in [&["ETags"][..], &["ETag,Dummy"], &["etag"]] {
            let e = wanted(&names(bad)).unwrap_err();
            assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            Paging::of(None, None),
            Paging {
                max: 1000,
                marker: 0
            }
        );
        assert_eq!(Paging::of(Some(2), Some(3)), Paging { max: 2, marker: 3 });
        assert_eq!(
            Paging::of(Some(0), Some(-1)),
            Paging {
                max: 1000,
                marker: 0
            }
        );
        assert_eq!(Paging::of(Some(5000), None).max, 1000);
    }

    fn sum(algorithm: ChecksumAlgorithm, value: &str) -> StoredChecksum {
        StoredChecksum {
            algorithm,
            value: value.to_owned(),
        }
    }

    fn parts(n: u64) -> Vec<ObjectPart> {
        (0..n)
            .map(|i| ObjectPart {
                range: i * 10..(i + 1) * 10,
                checksums: vec![
                    sum(ChecksumAlgorithm::Crc32, &format!("part{i}")),
                    sum(ChecksumAlgorithm::Sha1, "other"),
                ],
            })
            .collect()
    }

    #[test]
    fn parts_page_after_the_marker_with_the_objects_checksum() {
        let object = [sum(ChecksumAlgorithm::Crc32, "whole==-3")];
        let all = parts(3);
        let first = page(&all, &object, Paging { max: 1, marker: 0 });
        assert_eq!(first.is_truncated, Some(true));
        assert_eq!(first.next_part_number_marker, Some(1));
        assert_eq!(first.total_parts_count, Some(3));
        let listed = first.parts.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].part_number, Some(1));
        assert_eq!(listed[0].size, Some(10));
        assert_eq!(listed[0].checksum_crc32.as_deref(), Some("part0"));
        assert_eq!(listed[0].checksum_sha1, None);

        let rest = page(
            &all,
            &object,
            Paging {
                max: 1000,
                marker: 1,
            },
        );
        assert_eq!(rest.is_truncated, Some(false));
        assert_eq!(rest.part_number_marker, Some(1));
        assert_eq!(rest.next_part_number_marker, Some(3));
        let numbers: Vec<_> = rest.parts.unwrap().iter().map(|p| p.part_number).collect();
        assert_eq!(numbers, [Some(2), Some(3)]);

        let past = page(
            &all,
            &object,
            Paging {
                max: 1000,
                marker: 7,
            },
        );
        assert_eq!(past.is_truncated, Some(false));
        assert!(past.parts.is_none());
        assert_eq!(past.total_parts_count, Some(3));
    }

    #[test]
    fn checksum_drops_the_composite_part_count() {
        let c = checksum_of(&[sum(ChecksumAlgorithm::Sha256, "abc+/=-2")]).unwrap();
        assert_eq!(c.checksum_sha256.as_deref(), Some("abc+/="));
        assert_eq!(c.checksum_type.unwrap().as_str(), "COMPOSITE");
        let c = checksum_of(&[sum(ChecksumAlgorithm::Crc64Nvme, "xyz=")]).unwrap();
        assert_eq!(c.checksum_crc64nvme.as_deref(), Some("xyz="));
        assert_eq!(c.checksum_type.unwrap().as_str(), "FULL_OBJECT");
        assert!(checksum_of(&[]).is_none());
    }

    #[test]
    fn multipart_etags_carry_their_part_count() {
        assert_eq!(etag_part_count("0123abcd-12"), Some(12));
        assert_eq!(etag_part_count("0123abcd"), None);
        assert_eq!(etag_part_count("0123abcd-0"), None);
    }

    #[test]
    fn only_a_marked_response_loses_its_etag_quotes() {
        let body = "<R><ETag>\"abc-2\"</ETag><ObjectSize>3</ObjectSize></R>";
        let plain = http::Response::new(s3s::Body::from(body.to_owned()));
        let plain = unquote_etag(plain);
        assert_eq!(plain.body().bytes().unwrap(), body.as_bytes());

        let mut marked = http::Response::new(s3s::Body::from(body.to_owned()));
        marked
            .extensions_mut()
            .insert(UnquotedEtag("abc-2".to_owned()));
        let marked = unquote_etag(marked);
        assert_eq!(
            marked.body().bytes().unwrap(),
            "<R><ETag>abc-2</ETag><ObjectSize>3</ObjectSize></R>".as_bytes()
        );
        assert!(marked.extensions().get::<UnquotedEtag>().is_none());
    }
}
