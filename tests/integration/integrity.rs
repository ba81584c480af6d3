//! Integrity of uploads is ours: a body shorter than its `Content-Length`, or an aws-chunked
//! body whose decoded length differs from `x-amz-decoded-content-length`, stores nothing and
//! leaves the previous object intact.

use std::time::SystemTime;

use crate::common::raw::{self, RawOutcome};
use crate::common::sign::{self, Payload};
use crate::common::{Server, TestEnv, assert_s3_err, create_bucket, get, put, random_bytes};

/// Send a signed PUT head declaring `declared_len` bytes, then only `body`, then close our
/// write half. Returns what came back (if anything).
async fn put_truncated(
    server: &Server,
    key: &str,
    declared_len: usize,
    body: &[u8],
    payload: &Payload<'_>,
) -> RawOutcome {
    let url = format!("{}/bkt/{key}", server.endpoint);
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[],
        payload,
        SystemTime::now(),
    );
    let len = declared_len.to_string();
    let mut headers = signed.header_refs();
    headers.push(("Content-Length", &len));
    headers.push(("Connection", "close"));
    let mut bytes = raw::request_head(server.addr, "PUT", &signed.path_and_query, &headers);
    bytes.extend_from_slice(body);
    // A truncated body ends with our half-close, as a client that gave up
    // would; a complete one waits for the answer (hyper drops a connection
    // whose client half-closed before the response was written).
    let truncated = body.len() < declared_len;
    raw::exchange(server.addr, &bytes, truncated, false).await
}

#[track_caller]
fn assert_not_success(what: &str, outcome: &RawOutcome) {
    if let RawOutcome::Response(r) = outcome {
        assert!(
            !(200..300).contains(&r.status),
            "{what}: a truncated body was acknowledged: {} {}",
            r.status,
            r.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_shorter_than_content_length_stores_nothing() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    let old = b"the previous version".to_vec();
    put(&s3, "bkt", "existing", &old).await;

    let full = random_bytes(3 * 1024 * 1024);
    let sent = &full[..1024 * 1024 + 3];
    for (what, payload) in [
        ("UNSIGNED-PAYLOAD", Payload::Unsigned),
        ("signed payload hash", Payload::Bytes(&full)),
    ] {
        for key in ["fresh", "existing"] {
            let outcome = put_truncated(&server, key, full.len(), sent, &payload).await;
            assert_not_success(what, &outcome);
        }
        assert_s3_err(
            s3.head_object().bucket("bkt").key("fresh").send().await,
            404,
            None,
        );
        assert_eq!(
            get(&s3, "bkt", "existing").await,
            old,
            "{what}: previous intact"
        );
    }

    // Control: the same signed request with the whole body is stored.
    let outcome = put_truncated(&server, "fresh", full.len(), &full, &Payload::Unsigned).await;
    match outcome {
        RawOutcome::Response(r) => assert_eq!(r.status, 200, "{}", r.text()),
        RawOutcome::Closed { .. } => panic!("complete PUT got no response"),
    }
    assert!(get(&s3, "bkt", "fresh").await == full);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_decoded_length_mismatch_is_incomplete_body() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    let old = b"the previous version".to_vec();
    put(&s3, "bkt", "existing", &old).await;

    let data = b"hello, world!"; // 13 bytes
    let body = sign::aws_chunked_body(data);
    let body_len = body.len().to_string();
    // Control first: the honest declaration is stored (so the harness speaks aws-chunked).
    for (declared, key, expect_ok) in [
        ("13", "honest", true),
        ("100", "fresh", false),
        ("100", "existing", false),
        ("10", "existing", false),
    ] {
        let url = format!("{}/bkt/{key}", server.endpoint);
        let headers = [
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", declared),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ];
        let signed = sign::sign_v4_headers(
            &server.access_key,
            &server.secret_key,
            "PUT",
            &url,
            &headers,
            &Payload::StreamingUnsignedTrailer,
            SystemTime::now(),
        );
        let mut h = signed.header_refs();
        h.push(("Content-Length", &body_len));
        let resp = raw::request(server.addr, "PUT", &signed.path_and_query, &h, &body).await;
        if expect_ok {
            assert_eq!(resp.status, 200, "honest aws-chunked PUT: {}", resp.text());
            assert_eq!(get(&s3, "bkt", key).await, data);
            let head = s3
                .head_object()
                .bucket("bkt")
                .key(key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                head.content_encoding(),
                None,
                "aws-chunked is a transfer detail, not stored"
            );
        } else {
            assert_eq!(
                resp.status,
                400,
                "declared {declared}, sent 13: {}",
                resp.text()
            );
            assert_eq!(resp.s3_code().as_deref(), Some("IncompleteBody"));
        }
    }
    assert_s3_err(
        s3.head_object().bucket("bkt").key("fresh").send().await,
        404,
        None,
    );
    assert_eq!(get(&s3, "bkt", "existing").await, old);

    // A wrong trailer checksum is refused too.
    let mut bad = sign::aws_chunked_body(data);
    let good_crc = sign::crc32_b64(data);
    let wrong_crc = sign::crc32_b64(b"something else");
    let pos = bad
        .windows(good_crc.len())
        .position(|w| w == good_crc.as_bytes())
        .unwrap();
    bad[pos..pos + wrong_crc.len()].copy_from_slice(wrong_crc.as_bytes());
    let url = format!("{}/bkt/existing", server.endpoint);
    let headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "13"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &headers,
        &Payload::StreamingUnsignedTrailer,
        SystemTime::now(),
    );
    let mut h = signed.header_refs();
    let bad_len = bad.len().to_string();
    h.push(("Content-Length", &bad_len));
    let resp = raw::request(server.addr, "PUT", &signed.path_and_query, &h, &bad).await;
    assert_eq!(resp.status, 400, "wrong trailer CRC32: {}", resp.text());
    assert_eq!(get(&s3, "bkt", "existing").await, old);
}
