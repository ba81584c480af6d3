//! CopyObject: same and cross bucket, metadata directive COPY vs REPLACE, and copy-source
//! conditionals.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::MetadataDirective;

use crate::common::{TestEnv, assert_s3_err, create_bucket, etag_of, get, put, random_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_same_and_cross_bucket_keeps_bytes_and_etag() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "src").await;
    create_bucket(&s3, "dst").await;

    // Multi-chunk source, and a key that needs encoding in x-amz-copy-source.
    let body = random_bytes(9 * 1024 * 1024 + 3);
    let key = "scans/2024/Jane Doe+ü.tiff";
    let etag = put(&s3, "src", key, &body).await;

    let copy_source = |bucket: &str, key: &str| {
        let enc = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .replace("%2F", "/");
        format!("{bucket}/{enc}")
    };

    let out = s3
        .copy_object()
        .bucket("src")
        .key("copy-same")
        .copy_source(copy_source("src", key))
        .send()
        .await
        .unwrap();
    let result = out.copy_object_result().expect("CopyObjectResult");
    assert_eq!(result.e_tag(), Some(etag.as_str()));
    assert!(result.last_modified().is_some());

    s3.copy_object()
        .bucket("dst")
        .key("copy-cross")
        .copy_source(copy_source("src", key))
        .send()
        .await
        .unwrap();

    for (b, k) in [("src", "copy-same"), ("dst", "copy-cross"), ("src", key)] {
        let got = get(&s3, b, k).await;
        assert!(got == body, "{b}/{k} bytes differ");
        let head = s3.head_object().bucket(b).key(k).send().await.unwrap();
        assert_eq!(head.e_tag(), Some(etag_of(&body).as_str()));
    }

    // Deleting the source leaves the copies readable (shared chunks stay referenced).
    s3.delete_object()
        .bucket("src")
        .key(key)
        .send()
        .await
        .unwrap();
    assert!(get(&s3, "src", "copy-same").await == body);
    assert!(get(&s3, "dst", "copy-cross").await == body);

    assert_s3_err(
        s3.copy_object()
            .bucket("dst")
            .key("x")
            .copy_source("src/no-such-key")
            .send()
            .await,
        404,
        Some("NoSuchKey"),
    );
    assert_s3_err(
        s3.copy_object()
            .bucket("dst")
            .key("x")
            .copy_source("no-such-bucket/k")
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_metadata_directive_copy_keeps_and_replace_replaces() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    s3.put_object()
        .bucket("bkt")
        .key("orig")
        .content_type("image/jpeg")
        .cache_control("no-store")
        .metadata("patient", "p-1")
        .body(ByteStream::from_static(b"jpeg bytes"))
        .send()
        .await
        .unwrap();

    // COPY (the default): source metadata and headers carried over; supplied ones ignored.
    s3.copy_object()
        .bucket("bkt")
        .key("copied")
        .copy_source("bkt/orig")
        .metadata_directive(MetadataDirective::Copy)
        .metadata("ignored", "yes")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("copied")
        .send()
        .await
        .unwrap();
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("patient").map(String::as_str), Some("p-1"));
    assert!(
        !meta.contains_key("ignored"),
        "COPY ignores new metadata: {meta:?}"
    );
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.cache_control(), Some("no-store"));

    // REPLACE: only what the copy request says.
    s3.copy_object()
        .bucket("bkt")
        .key("replaced")
        .copy_source("bkt/orig")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("visit", "2")
        .content_type("image/png")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("replaced")
        .send()
        .await
        .unwrap();
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.len(), 1, "{meta:?}");
    assert_eq!(meta.get("visit").map(String::as_str), Some("2"));
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.cache_control(), None);
    assert_eq!(get(&s3, "bkt", "replaced").await, b"jpeg bytes");

    // Copying an object onto itself is only allowed when something changes (REPLACE).
    s3.copy_object()
        .bucket("bkt")
        .key("orig")
        .copy_source("bkt/orig")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("patient", "p-2")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("orig")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("patient"))
            .map(String::as_str),
        Some("p-2")
    );
    assert_s3_err(
        s3.copy_object()
            .bucket("bkt")
            .key("orig")
            .copy_source("bkt/orig")
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_source_conditionals_fail_with_412_and_copy_nothing() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    let etag = put(&s3, "bkt", "src", b"source").await;
    let other = "\"0123456789abcdef0123456789abcdef\"";

    assert_s3_err(
        s3.copy_object()
            .bucket("bkt")
            .key("dst")
            .copy_source("bkt/src")
            .copy_source_if_match(other)
            .send()
            .await,
        412,
        Some("PreconditionFailed"),
    );
    assert_s3_err(
        s3.copy_object()
            .bucket("bkt")
            .key("dst")
            .copy_source("bkt/src")
            .copy_source_if_none_match(&etag)
            .send()
            .await,
        412,
        Some("PreconditionFailed"),
    );
    assert_s3_err(
        s3.get_object().bucket("bkt").key("dst").send().await,
        404,
        Some("NoSuchKey"),
    );

    s3.copy_object()
        .bucket("bkt")
        .key("dst")
        .copy_source("bkt/src")
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "bkt", "dst").await, b"source");
}
