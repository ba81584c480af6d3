//! Conditional writes (issue 10): `If-None-Match: *` makes a PUT create-only, race-free
//! (one winner among concurrent writers); `If-Match` makes PutObject,
//! CompleteMultipartUpload and DeleteObject compare-and-swap on the ETag.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::versions::{all_versions, delete_to_marker, versioned_bucket};
use crate::common::{
    TestEnv, assert_s3_err, create_bucket, etag_of, get, put, random_bytes, status_of,
};

const B: &str = "cond";

async fn put_if(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: &[u8],
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<
    aws_sdk_s3::operation::put_object::PutObjectOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::put_object::PutObjectError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .set_if_match(if_match.map(str::to_owned))
        .set_if_none_match(if_none_match.map(str::to_owned))
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
}

/// 16 writers race to create `key` with `If-None-Match: *`: one wins, 15 get 412, and
/// the stored object is the winner's.
async fn race(s3: &Client, bucket: &str, key: &str) {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s3 = s3.clone();
            let (bucket, key) = (bucket.to_owned(), key.to_owned());
            tokio::spawn(async move {
                // Bodies big enough that the uploads overlap, not just their headers.
                let mut body = format!("writer {i}").into_bytes();
                body.extend_from_slice(&random_bytes(256 * 1024));
                let res = put_if(&s3, &bucket, &key, &body, None, Some("*")).await;
                (body, res.map_err(|e| status_of(&e)))
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (body, Ok(_)) => winners.push(body),
            (_, Err(412)) => refused += 1,
            (_, Err(other)) => panic!("a racing create answered {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins");
    assert_eq!(refused, 15);
    assert_eq!(get(s3, bucket, key).await, winners[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_create_only_puts_have_exactly_one_winner() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    race(&s3, B, "lease").await;
    // Versioned: one version, not sixteen.
    versioned_bucket(&s3, "cond-versioned").await;
    race(&s3, "cond-versioned", "lease").await;
    assert_eq!(all_versions(&s3, "cond-versioned").await.len(), 1);
    // A delete marker counts as absent: the key may be created again, once.
    let etag = s3
        .head_object()
        .bucket("cond-versioned")
        .key("lease")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    delete_to_marker(&s3, "cond-versioned", "lease").await;
    // ...and If-Match finds nothing to match.
    assert_s3_err(
        put_if(&s3, "cond-versioned", "lease", b"x", Some(&etag), None).await,
        404,
        Some("NoSuchKey"),
    );
    assert_s3_err(
        put_if(&s3, "cond-versioned", "lease", b"x", Some("*"), None).await,
        404,
        Some("NoSuchKey"),
    );
    race(&s3, "cond-versioned", "lease").await;
    assert_eq!(all_versions(&s3, "cond-versioned").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_on_put_is_compare_and_swap() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let etag = put(&s3, B, "doc", b"v1").await;

    assert_s3_err(
        put_if(&s3, B, "doc", b"nope", Some(&etag_of(b"other")), None).await,
        412,
        Some("PreconditionFailed"),
    );
    assert_eq!(get(&s3, B, "doc").await, b"v1");
    let out = put_if(&s3, B, "doc", b"v2", Some(&etag), None)
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(etag_of(b"v2").as_str()));
    assert_eq!(get(&s3, B, "doc").await, b"v2");
    // The old ETag no longer matches.
    assert_s3_err(
        put_if(&s3, B, "doc", b"v3", Some(&etag), None).await,
        412,
        Some("PreconditionFailed"),
    );
    // `*`: any current object.
    put_if(&s3, B, "doc", b"v3", Some("*"), None).await.unwrap();
    assert_eq!(get(&s3, B, "doc").await, b"v3");
    // Absent key: 404, nothing created.
    assert_s3_err(
        put_if(&s3, B, "absent", b"x", Some(&etag), None).await,
        404,
        Some("NoSuchKey"),
    );
    assert_s3_err(
        s3.head_object().bucket(B).key("absent").send().await,
        404,
        None,
    );
    // If-None-Match: * on an existing key.
    assert_s3_err(
        put_if(&s3, B, "doc", b"x", None, Some("*")).await,
        412,
        Some("PreconditionFailed"),
    );
    assert_eq!(get(&s3, B, "doc").await, b"v3");
}

async fn multipart(
    s3: &Client,
    key: &str,
    body: &[u8],
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<String, u16> {
    let up = s3
        .create_multipart_upload()
        .bucket(B)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(B)
        .key(key)
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    let res = s3
        .complete_multipart_upload()
        .bucket(B)
        .key(key)
        .upload_id(id)
        .set_if_match(if_match.map(str::to_owned))
        .set_if_none_match(if_none_match.map(str::to_owned))
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await;
    match res {
        Ok(out) => Ok(out.e_tag().unwrap().to_owned()),
        Err(e) => {
            let status = status_of(&e);
            if status == 412 {
                assert_eq!(
                    crate::common::code_of(&e).as_deref(),
                    Some("PreconditionFailed")
                );
            }
            Err(status)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_multipart_upload_honours_if_none_match_and_if_match() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    // Create-only: the first completes, the second is refused and changes nothing.
    let etag = multipart(&s3, "mp", b"first", None, Some("*"))
        .await
        .expect("create-only on an absent key");
    assert_eq!(
        multipart(&s3, "mp", b"second", None, Some("*")).await,
        Err(412)
    );
    assert_eq!(get(&s3, B, "mp").await, b"first");
    // If-Match: the current ETag wins, a stale one is refused, an absent key is 404.
    assert_eq!(
        multipart(&s3, "mp", b"stale", Some(&etag_of(b"x")), None).await,
        Err(412)
    );
    multipart(&s3, "mp", b"third", Some(&etag), None)
        .await
        .expect("If-Match with the current ETag");
    assert_eq!(get(&s3, B, "mp").await, b"third");
    assert_eq!(
        multipart(&s3, "none", b"x", Some(&etag), None).await,
        Err(404)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_on_delete_refuses_a_stale_etag() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let etag = put(&s3, B, "doc", b"v1").await;
    let res = s3
        .delete_object()
        .bucket(B)
        .key("doc")
        .if_match(etag_of(b"v0"))
        .send()
        .await;
    assert_s3_err(res, 412, Some("PreconditionFailed"));
    assert_eq!(get(&s3, B, "doc").await, b"v1");
    s3.delete_object()
        .bucket(B)
        .key("doc")
        .if_match(&etag)
        .send()
        .await
        .expect("If-Match with the current ETag deletes");
    assert_s3_err(
        s3.head_object().bucket(B).key("doc").send().await,
        404,
        None,
    );
    // Versioned: a matching If-Match makes the delete marker; a stale one does not.
    versioned_bucket(&s3, "cond-v").await;
    let etag = put(&s3, "cond-v", "doc", b"v1").await;
    let res = s3
        .delete_object()
        .bucket("cond-v")
        .key("doc")
        .if_match(etag_of(b"v0"))
        .send()
        .await;
    assert_s3_err(res, 412, Some("PreconditionFailed"));
    assert_eq!(all_versions(&s3, "cond-v").await.len(), 1);
    let out = s3
        .delete_object()
        .bucket("cond-v")
        .key("doc")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(out.delete_marker(), Some(true));
    assert_eq!(all_versions(&s3, "cond-v").await.len(), 2);
}

/// DeleteObjects takes an ETag per key (AWS's conditional delete in a batch): a stale
/// one refuses that key alone with PreconditionFailed; it is never silently ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_honours_each_keys_etag() {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};

    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let fresh = put(&s3, B, "fresh", b"fresh").await;
    put(&s3, B, "stale", b"stale").await;
    put(&s3, B, "plain", b"plain").await;
    let out = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("fresh")
                        .e_tag(&fresh)
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("stale")
                        .e_tag(etag_of(b"older"))
                        .build()
                        .unwrap(),
                )
                .objects(ObjectIdentifier::builder().key("plain").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().map(|d| d.key().unwrap()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["fresh", "plain"]);
    assert_eq!(out.errors().len(), 1, "{:?}", out.errors());
    assert_eq!(out.errors()[0].key(), Some("stale"));
    assert_eq!(out.errors()[0].code(), Some("PreconditionFailed"));
    assert_eq!(get(&s3, B, "stale").await, b"stale");
    assert_eq!(crate::common::list_all_keys(&s3, B).await, ["stale"]);

    // Size and modification-time conditions are refused, not ignored.
    let res = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("stale")
                        .size(1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_s3_err(res, 501, Some("NotImplemented"));
    assert_eq!(get(&s3, B, "stale").await, b"stale");
}
