//! Object operations with AWS semantics: round trips of every size class, ETags, ranges,
//! conditional requests, HEAD, deletes, metadata and stored headers, and awkward keys.

use std::time::Duration;

use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::common::{
    TestEnv, assert_s3_err, create_bucket, etag_of, get, list_all_keys, put, put_many,
    random_bytes, status_of,
};

const B: &str = "objects";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_round_trip_every_size_class_with_md5_etag() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;

    // 0 and 1 byte, a few MiB, and more than one chunk with an odd tail.
    let sizes = [0usize, 1, 3 * 1024 * 1024 + 7, 9 * 1024 * 1024 + 17];
    for size in sizes {
        let body = random_bytes(size);
        let key = format!("size-{size}");
        let etag = put(&s3, B, &key, &body).await;
        assert_eq!(etag, etag_of(&body), "PUT ETag of {size} bytes");

        let out = s3.get_object().bucket(B).key(&key).send().await.unwrap();
        assert_eq!(out.e_tag(), Some(etag.as_str()), "GET ETag of {size} bytes");
        assert_eq!(out.content_length(), Some(size as i64));
        assert!(out.last_modified().is_some());
        let got = out.body.collect().await.unwrap().to_vec();
        assert_eq!(got.len(), size);
        assert!(got == body, "GET returned other bytes for {size} bytes");
    }

    // Overwrite replaces the whole object.
    let new = b"replaced".to_vec();
    let etag = put(&s3, B, "size-1", &new).await;
    assert_eq!(etag, etag_of(&new));
    assert_eq!(get(&s3, B, "size-1").await, new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_requests_return_206_slices_and_416_beyond_end() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;

    // Spans a chunk boundary so a range may need two chunks.
    let len = 9 * 1024 * 1024 + 5;
    let body = random_bytes(len);
    put(&s3, B, "big", &body).await;
    let small = b"0123456789".to_vec();
    put(&s3, B, "small", &small).await;

    let cases: Vec<(&str, String, std::ops::Range<usize>)> = vec![
        ("small", "bytes=2-5".into(), 2..6),
        ("small", "bytes=7-".into(), 7..10),
        ("small", "bytes=-3".into(), 7..10),
        ("small", "bytes=0-0".into(), 0..1),
        ("small", "bytes=5-999".into(), 5..10), // last clamped to the end
        ("small", "bytes=-50".into(), 0..10),   // suffix longer than object
        (
            "big",
            format!("bytes={}-{}", 8 * 1024 * 1024 - 10, 8 * 1024 * 1024 + 10),
            8 * 1024 * 1024 - 10..8 * 1024 * 1024 + 11,
        ),
        ("big", "bytes=-100".into(), len - 100..len),
        ("big", format!("bytes={}-", len - 1), len - 1..len),
    ];
    for (key, range, want) in cases {
        let full = if key == "big" { &body } else { &small };
        let out = s3
            .get_object()
            .bucket(B)
            .key(key)
            .range(&range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} {range}: {e:?}"));
        let expect_cr = format!("bytes {}-{}/{}", want.start, want.end - 1, full.len());
        assert_eq!(
            out.content_range(),
            Some(expect_cr.as_str()),
            "{key} {range}"
        );
        assert_eq!(
            out.content_length(),
            Some(want.len() as i64),
            "{key} {range}"
        );
        assert_eq!(
            out.e_tag(),
            Some(etag_of(full).as_str()),
            "ETag is the whole object's"
        );
        let got = out.body.collect().await.unwrap().to_vec();
        assert!(got == full[want.clone()], "{key} {range}: wrong bytes");
    }

    // A raw presigned GET shows the status code itself: 206.
    let presigned = s3
        .get_object()
        .bucket(B)
        .key("small")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let pq = crate::common::raw::path_and_query(presigned.uri());
    let resp =
        crate::common::raw::request(server.addr, "GET", &pq, &[("Range", "bytes=1-2")], b"").await;
    assert_eq!(resp.status, 206, "{}", resp.text());
    assert_eq!(resp.body, b"12");

    for range in ["bytes=10-20", "bytes=10-", "bytes=100-200"] {
        let res = s3
            .get_object()
            .bucket(B)
            .key("small")
            .range(range)
            .send()
            .await;
        assert_s3_err(res, 416, Some("InvalidRange"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_get_and_head_give_412_and_304() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let body = b"conditional body".to_vec();
    let etag = put(&s3, B, "c", &body).await;
    let head = s3.head_object().bucket(B).key("c").send().await.unwrap();
    let lm = *head.last_modified().expect("Last-Modified");
    let hour_before = DateTime::from_secs(lm.secs() - 3600);
    let hour_after = DateTime::from_secs(lm.secs() + 3600);
    let other = "\"0123456789abcdef0123456789abcdef\"";

    let get = || s3.get_object().bucket(B).key("c");
    // Matching conditions → 200 with the body.
    for req in [
        get().if_match(&etag),
        get().if_none_match(other),
        get().if_modified_since(hour_before),
        get().if_unmodified_since(hour_after),
    ] {
        let out = req.send().await.unwrap();
        assert_eq!(out.body.collect().await.unwrap().to_vec(), body);
    }
    // Failing conditions.
    assert_s3_err(
        get().if_match(other).send().await,
        412,
        Some("PreconditionFailed"),
    );
    assert_s3_err(
        get().if_unmodified_since(hour_before).send().await,
        412,
        Some("PreconditionFailed"),
    );
    assert_s3_err(get().if_none_match(&etag).send().await, 304, None);
    assert_s3_err(get().if_modified_since(hour_after).send().await, 304, None);
    // RFC 7232 precedence: If-Match passing wins over a failing If-Unmodified-Since.
    let out = get()
        .if_match(&etag)
        .if_unmodified_since(hour_before)
        .send()
        .await
        .unwrap();
    assert_eq!(out.body.collect().await.unwrap().to_vec(), body);

    // HEAD evaluates the same conditions.
    let h = || s3.head_object().bucket(B).key("c");
    assert_eq!(
        status_of(&h().if_match(other).send().await.unwrap_err()),
        412
    );
    assert_eq!(
        status_of(&h().if_none_match(&etag).send().await.unwrap_err()),
        304
    );
    h().if_match(&etag).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_object_reports_fields_and_404_without_body() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let body = random_bytes(12345);
    s3.put_object()
        .bucket(B)
        .key("h.bin")
        .content_type("application/x-test")
        .metadata("patient-ref", "p-42")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();

    let head = s3
        .head_object()
        .bucket(B)
        .key("h.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(12345));
    assert_eq!(head.e_tag(), Some(etag_of(&body).as_str()));
    assert_eq!(head.content_type(), Some("application/x-test"));
    assert!(head.last_modified().is_some());
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("patient-ref"))
            .map(String::as_str),
        Some("p-42")
    );

    let err = s3
        .head_object()
        .bucket(B)
        .key("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 404);
    let raw = err.raw_response().expect("a response");
    assert!(
        raw.body().bytes().is_none_or(<[u8]>::is_empty),
        "HEAD 404 must have no body"
    );
    assert_s3_err(
        s3.get_object().bucket(B).key("missing").send().await,
        404,
        Some("NoSuchKey"),
    );

    // Raw view: HEAD 404 has an empty body on the wire too.
    let presigned = s3
        .head_object()
        .bucket(B)
        .key("missing")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let pq = crate::common::raw::path_and_query(presigned.uri());
    let resp = crate::common::raw::request(server.addr, "HEAD", &pq, &[], b"").await;
    assert_eq!(resp.status, 404);
    assert!(resp.body.is_empty(), "HEAD 404 body: {:?}", resp.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_object_is_idempotent_204() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    put(&s3, B, "gone", b"bye").await;

    s3.delete_object()
        .bucket(B)
        .key("gone")
        .send()
        .await
        .unwrap();
    assert_s3_err(
        s3.get_object().bucket(B).key("gone").send().await,
        404,
        Some("NoSuchKey"),
    );
    // Again, and a key that never existed: still success.
    s3.delete_object()
        .bucket(B)
        .key("gone")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(B)
        .key("never")
        .send()
        .await
        .unwrap();

    // The status on the wire is 204 for both.
    for key in ["gone", "never"] {
        let presigned = s3
            .delete_object()
            .bucket(B)
            .key(key)
            .presigned(
                aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300))
                    .unwrap(),
            )
            .await
            .unwrap();
        let pq = crate::common::raw::path_and_query(presigned.uri());
        let resp = crate::common::raw::request(server.addr, "DELETE", &pq, &[], b"").await;
        assert_eq!(resp.status, 204, "DELETE {key}: {}", resp.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_handles_1000_keys_quiet_and_verbose() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;

    let keys: Vec<String> = (0..1000).map(|i| format!("bulk/{i:04}")).collect();
    put_many(&s3, B, &keys, 32).await;
    put(&s3, B, "survivor", b"stays").await;
    assert_eq!(list_all_keys(&s3, B).await.len(), 1001);

    let ids = |keys: &[String]| -> Vec<ObjectIdentifier> {
        keys.iter()
            .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
            .collect()
    };

    // 1001 identifiers exceed the limit: refused, nothing deleted.
    let mut too_many = keys.clone();
    too_many.push("survivor".into());
    let res = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&too_many)))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(status_of(&res.unwrap_err()), 400, "1001 keys refused");
    assert_eq!(list_all_keys(&s3, B).await.len(), 1001);

    // Exactly 1000 in quiet mode: an empty result, all gone.
    let out = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&keys)))
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty(), "quiet mode lists no deleted keys");
    assert!(out.errors().is_empty(), "errors: {:?}", out.errors());
    assert_eq!(list_all_keys(&s3, B).await, ["survivor"]);

    // Verbose mode lists every key, including ones that did not exist.
    let some: Vec<String> = vec!["survivor".into(), "bulk/0001".into(), "never/was".into()];
    let out = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&some)))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["bulk/0001", "never/was", "survivor"]);
    assert!(out.errors().is_empty());
    assert!(list_all_keys(&s3, B).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_metadata_round_trips_and_over_2kb_is_metadata_too_large() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;

    let long = "v".repeat(1500);
    s3.put_object()
        .bucket(B)
        .key("m")
        .metadata("patient", "Jane Doe")
        .metadata("visit-date", "2024-05-01")
        .metadata("long", &long)
        .body(ByteStream::from_static(b"with metadata"))
        .send()
        .await
        .unwrap();
    for meta in [
        s3.head_object()
            .bucket(B)
            .key("m")
            .send()
            .await
            .unwrap()
            .metadata()
            .cloned(),
        s3.get_object()
            .bucket(B)
            .key("m")
            .send()
            .await
            .unwrap()
            .metadata()
            .cloned(),
    ] {
        let meta = meta.expect("metadata returned");
        assert_eq!(meta.len(), 3, "{meta:?}");
        assert_eq!(meta["patient"], "Jane Doe");
        assert_eq!(meta["visit-date"], "2024-05-01");
        assert_eq!(meta["long"], long);
    }

    put(&s3, B, "big-meta", b"previous").await;
    let res = s3
        .put_object()
        .bucket(B)
        .key("big-meta")
        .metadata("a", "x".repeat(1100))
        .metadata("b", "y".repeat(1100))
        .body(ByteStream::from_static(b"new"))
        .send()
        .await;
    assert_s3_err(res, 400, Some("MetadataTooLarge"));
    assert_eq!(
        get(&s3, B, "big-meta").await,
        b"previous",
        "old version intact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_headers_are_stored_and_returned() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let expires = DateTime::from_secs(1_900_000_000);

    s3.put_object()
        .bucket(B)
        .key("consent.pdf")
        .content_type("application/pdf")
        .content_encoding("gzip")
        .content_disposition("attachment; filename=\"consent.pdf\"")
        .content_language("de-CH")
        .cache_control("private, max-age=60")
        .expires(expires)
        .body(ByteStream::from_static(b"%PDF-1.7 pretend"))
        .send()
        .await
        .unwrap();

    let head = s3
        .head_object()
        .bucket(B)
        .key("consent.pdf")
        .send()
        .await
        .unwrap();
    let get = s3
        .get_object()
        .bucket(B)
        .key("consent.pdf")
        .send()
        .await
        .unwrap();
    for (ct, ce, cd, cl, cc, ex) in [
        (
            head.content_type(),
            head.content_encoding(),
            head.content_disposition(),
            head.content_language(),
            head.cache_control(),
            head.expires_string(),
        ),
        (
            get.content_type(),
            get.content_encoding(),
            get.content_disposition(),
            get.content_language(),
            get.cache_control(),
            get.expires_string(),
        ),
    ] {
        assert_eq!(ct, Some("application/pdf"));
        assert_eq!(ce, Some("gzip"));
        assert_eq!(cd, Some("attachment; filename=\"consent.pdf\""));
        assert_eq!(cl, Some("de-CH"));
        assert_eq!(cc, Some("private, max-age=60"));
        let ex = ex.expect("Expires returned");
        let parsed = DateTime::from_str(ex, DateTimeFormat::HttpDate)
            .unwrap_or_else(|e| panic!("Expires {ex:?} is not an HTTP date: {e}"));
        assert_eq!(parsed.secs(), expires.secs());
    }

    // The Rust SDK sends `application/octet-stream` when no type is set; it
    // is stored as sent (the `binary/octet-stream` default is for requests
    // with no Content-Type at all, covered by a unit test).
    put(&s3, B, "plain", b"x").await;
    let head = s3
        .head_object()
        .bucket(B)
        .key("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/octet-stream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_keys_round_trip_and_1025_bytes_is_key_too_long() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;

    let mut keys: Vec<String> = [
        "with space.jpg",
        "plus+sign",
        "percent%20literal",
        "percent%",
        "a//double//slash",
        "folder/",
        "ünïcödé/写真.jpg",
        "emoji 🦷.png",
        "question?mark",
        "hash#tag",
        "amp&and=eq",
        "tilde~star*quote'paren()",
        "semi;colon,comma:colon@at$dollar",
        "lt<gt>&amp;",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    keys.push("k".repeat(1024));
    keys.push("é".repeat(512)); // 1024 bytes of two-byte characters
    for key in &keys {
        put(&s3, B, key, key.as_bytes()).await;
        assert_eq!(
            get(&s3, B, key).await,
            key.as_bytes(),
            "round trip of {key:?}"
        );
        s3.head_object()
            .bucket(B)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("HEAD {key:?}: {e:?}"));
    }
    let mut want = keys.clone();
    want.sort();
    assert_eq!(
        list_all_keys(&s3, B).await,
        want,
        "keys listed exactly, in byte order"
    );

    for key in ["k".repeat(1025), format!("{}x", "é".repeat(512))] {
        let res = s3
            .put_object()
            .bucket(B)
            .key(&key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_s3_err(res, 400, Some("KeyTooLongError"));
    }
    assert_eq!(list_all_keys(&s3, B).await.len(), keys.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_md5_is_bad_digest_and_keeps_previous_object() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;

    let old = random_bytes(4096);
    let old_etag = put(&s3, B, "scan.tiff", &old).await;

    for new in [b"tiny".to_vec(), random_bytes(9 * 1024 * 1024)] {
        let res = s3
            .put_object()
            .bucket(B)
            .key("scan.tiff")
            .content_md5(crate::common::md5_base64(b"something else"))
            .body(ByteStream::from(new.clone()))
            .send()
            .await;
        assert_s3_err(res, 400, Some("BadDigest"));
        let head = s3
            .head_object()
            .bucket(B)
            .key("scan.tiff")
            .send()
            .await
            .unwrap();
        assert_eq!(head.e_tag(), Some(old_etag.as_str()));
        assert_eq!(
            get(&s3, B, "scan.tiff").await,
            old,
            "previous object intact"
        );

        // And at a new key, nothing appears.
        let res = s3
            .put_object()
            .bucket(B)
            .key("fresh")
            .content_md5(crate::common::md5_base64(b"something else"))
            .body(ByteStream::from(new.clone()))
            .send()
            .await;
        assert_s3_err(res, 400, Some("BadDigest"));
        assert_eq!(list_all_keys(&s3, B).await, ["scan.tiff"]);
    }

    // The right Content-MD5 is accepted.
    let new = b"correct digest".to_vec();
    s3.put_object()
        .bucket(B)
        .key("scan.tiff")
        .content_md5(crate::common::md5_base64(&new))
        .body(ByteStream::from(new.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, B, "scan.tiff").await, new);
}
