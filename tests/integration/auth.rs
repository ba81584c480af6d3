//! P1: no anonymous request is served. Unsigned, SigV2, wrongly signed, partly signed,
//! expired-too-long and clock-skewed requests all get 403 before storage is touched.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::raw::{self, RawResponse};
use crate::common::sign::{self, Payload};
use crate::common::{
    Server, TestEnv, assert_s3_err, bucket_names, create_bucket, get, list_all_keys, put,
};

/// A snapshot of everything visible through signed requests.
async fn state(server: &Server) -> Vec<(String, Vec<(String, Vec<u8>)>)> {
    let s3 = server.client();
    let mut buckets = bucket_names(&s3).await;
    buckets.sort();
    let mut out = Vec::new();
    for b in buckets {
        let mut objs = Vec::new();
        for k in list_all_keys(&s3, &b).await {
            let body = get(&s3, &b, &k).await;
            objs.push((k, body));
        }
        out.push((b, objs));
    }
    out
}

async fn seed(server: &Server) {
    let s3 = server.client();
    create_bucket(&s3, "kept").await;
    create_bucket(&s3, "empty").await;
    put(&s3, "kept", "obj", b"original body").await;
    put(&s3, "kept", "other", b"other body").await;
}

#[track_caller]
fn assert_denied(what: &str, resp: &RawResponse, head: bool) {
    assert_eq!(resp.status, 403, "{what}: {} {}", resp.status, resp.text());
    if head {
        assert!(resp.body.is_empty(), "{what}: HEAD 403 must have no body");
    } else {
        let code = resp.s3_code();
        assert!(
            matches!(
                code.as_deref(),
                Some("AccessDenied" | "SignatureDoesNotMatch" | "InvalidAccessKeyId")
            ),
            "{what}: code {code:?} body {}",
            resp.text()
        );
    }
}

/// (what, method, path and query, headers, body)
type RawOp = (
    &'static str,
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
);

/// Every operation of the slice, unsigned.
fn unsigned_ops() -> Vec<RawOp> {
    let delete_xml =
        b"<Delete><Object><Key>obj</Key></Object><Object><Key>other</Key></Object></Delete>"
            .to_vec();
    vec![
        ("ListBuckets", "GET", "/".into(), vec![], vec![]),
        ("CreateBucket", "PUT", "/intruder".into(), vec![], vec![]),
        ("HeadBucket", "HEAD", "/kept".into(), vec![], vec![]),
        ("DeleteBucket", "DELETE", "/empty".into(), vec![], vec![]),
        (
            "GetBucketLocation",
            "GET",
            "/kept?location".into(),
            vec![],
            vec![],
        ),
        ("ListObjects", "GET", "/kept".into(), vec![], vec![]),
        (
            "ListObjectsV2",
            "GET",
            "/kept?list-type=2".into(),
            vec![],
            vec![],
        ),
        (
            "PutObject new",
            "PUT",
            "/kept/new".into(),
            vec![],
            b"intruder".to_vec(),
        ),
        (
            "PutObject overwrite",
            "PUT",
            "/kept/obj".into(),
            vec![],
            b"overwritten".to_vec(),
        ),
        (
            "PutObject with meta",
            "PUT",
            "/kept/meta".into(),
            vec![
                ("x-amz-meta-a", "b"),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ],
            b"x".to_vec(),
        ),
        ("GetObject", "GET", "/kept/obj".into(), vec![], vec![]),
        (
            "GetObject range",
            "GET",
            "/kept/obj".into(),
            vec![("Range", "bytes=0-3")],
            vec![],
        ),
        ("HeadObject", "HEAD", "/kept/obj".into(), vec![], vec![]),
        (
            "HeadObject missing",
            "HEAD",
            "/kept/missing".into(),
            vec![],
            vec![],
        ),
        ("DeleteObject", "DELETE", "/kept/obj".into(), vec![], vec![]),
        (
            "DeleteObjects",
            "POST",
            "/kept?delete".into(),
            vec![("Content-Type", "application/xml")],
            delete_xml,
        ),
        (
            "CopyObject",
            "PUT",
            "/kept/copy".into(),
            vec![("x-amz-copy-source", "/kept/obj")],
            vec![],
        ),
        (
            "CopyObject cross",
            "PUT",
            "/empty/copy".into(),
            vec![("x-amz-copy-source", "kept/obj")],
            vec![],
        ),
        (
            "GetObject missing bucket",
            "GET",
            "/no-such/obj".into(),
            vec![],
            vec![],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_every_unsigned_operation_gets_403_and_changes_nothing() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    seed(&server).await;
    let before = state(&server).await;

    for (what, method, path, headers, body) in unsigned_ops() {
        let resp = raw::request(server.addr, method, &path, &headers, &body).await;
        assert_denied(what, &resp, method == "HEAD");
        // Nothing about the stored data leaks in a refusal.
        assert!(
            !resp.text().contains("original body") && resp.header("etag").is_none(),
            "{what} leaked object data"
        );
    }
    // Unsigned but with a made-up SigV4-looking header or query: still refused.
    let bogus_auth = "AWS4-HMAC-SHA256 Credential=nobody/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
    let resp = raw::request(
        server.addr,
        "GET",
        "/kept/obj",
        &[("Authorization", bogus_auth)],
        b"",
    )
    .await;
    assert_denied("bogus SigV4 header", &resp, false);
    let resp = raw::request(
        server.addr,
        "GET",
        "/kept/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00",
        &[],
        b"",
    )
    .await;
    assert_eq!(
        resp.status / 100,
        4,
        "half a presigned query: {}",
        resp.status
    );
    assert_ne!(resp.status, 404);

    assert_eq!(
        state(&server).await,
        before,
        "an unsigned request changed state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_sigv2_with_a_valid_signature_is_refused() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    seed(&server).await;
    let before = state(&server).await;

    for (method, path) in [
        ("GET", "/kept/obj"),
        ("HEAD", "/kept/obj"),
        ("DELETE", "/kept/obj"),
        ("GET", "/"),
    ] {
        let headers = sign::sign_v2_header(&server.access_key, &server.secret_key, method, path);
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = raw::request(server.addr, method, path, &refs, b"").await;
        assert_eq!(
            resp.status,
            403,
            "SigV2 header {method} {path}: {}",
            resp.text()
        );
        if method == "HEAD" {
            assert!(resp.body.is_empty());
        }

        let pq = sign::presign_v2_query(&server.access_key, &server.secret_key, method, path);
        let resp = raw::request(server.addr, method, &pq, &[], b"").await;
        assert_eq!(
            resp.status,
            403,
            "SigV2 query {method} {path}: {}",
            resp.text()
        );
    }
    // A SigV2 PUT: refused and nothing stored.
    let headers =
        sign::sign_v2_header(&server.access_key, &server.secret_key, "PUT", "/kept/v2put");
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = raw::request(server.addr, "PUT", "/kept/v2put", &refs, b"").await;
    assert_eq!(resp.status, 403, "SigV2 PUT: {}", resp.text());

    assert_eq!(state(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_wrong_secret_gets_signature_does_not_match() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    seed(&server).await;
    let before = state(&server).await;

    let wrong = server.client_with_secret("this-is-not-the-secret-key-at-all");
    assert_s3_err(
        wrong.list_buckets().send().await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    assert_s3_err(
        wrong.get_object().bucket("kept").key("obj").send().await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    assert_s3_err(
        wrong
            .put_object()
            .bucket("kept")
            .key("obj")
            .body(b"evil".to_vec().into())
            .send()
            .await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    assert_s3_err(
        wrong.delete_bucket().bucket("empty").send().await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    let head = wrong.head_object().bucket("kept").key("obj").send().await;
    assert_eq!(crate::common::status_of(&head.unwrap_err()), 403);

    // An unknown access key is refused too.
    let stranger = crate::common::s3_client(
        &server.endpoint,
        "AKIDUNKNOWN000000000",
        "whatever-secret-1234",
        None,
    );
    let res = stranger.list_buckets().send().await;
    assert_eq!(crate::common::status_of(&res.unwrap_err()), 403);

    assert_eq!(state(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_unsigned_x_amz_header_added_to_signed_request_is_refused() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    seed(&server).await;
    let before = state(&server).await;
    let s3 = server.client();

    // Presigned PUT, then an x-amz-meta header the signature does not cover.
    let presigned = s3
        .put_object()
        .bucket("kept")
        .key("smuggled")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let pq = raw::path_and_query(presigned.uri());
    let mut headers: Vec<(&str, &str)> = presigned
        .headers()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .collect();
    headers.push(("x-amz-meta-injected", "yes"));
    let resp = raw::request(server.addr, "PUT", &pq, &headers, b"payload").await;
    assert_eq!(
        resp.status,
        403,
        "presigned + unsigned x-amz-meta: {}",
        resp.text()
    );

    // Header-signed GET, then an unsigned x-amz-meta header appended.
    let url = format!("{}/kept/obj", server.endpoint);
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        &[],
        &Payload::Bytes(b""),
        SystemTime::now(),
    );
    let ok = raw::request(
        server.addr,
        "GET",
        &signed.path_and_query,
        &signed.header_refs(),
        b"",
    )
    .await;
    assert_eq!(
        ok.status,
        200,
        "control: hand-signed GET works: {}",
        ok.text()
    );
    let mut extra = signed.header_refs();
    extra.push(("x-amz-meta-injected", "yes"));
    let resp = raw::request(server.addr, "GET", &signed.path_and_query, &extra, b"").await;
    assert_eq!(
        resp.status,
        403,
        "header-signed + unsigned x-amz-meta: {}",
        resp.text()
    );

    // Header-signed PUT with an unsigned x-amz-copy-source: must not turn into a copy.
    let url = format!("{}/kept/copied", server.endpoint);
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[],
        &Payload::Bytes(b""),
        SystemTime::now(),
    );
    let mut extra = signed.header_refs();
    extra.push(("x-amz-copy-source", "/kept/obj"));
    let resp = raw::request(server.addr, "PUT", &signed.path_and_query, &extra, b"").await;
    assert_eq!(
        resp.status,
        403,
        "unsigned x-amz-copy-source: {}",
        resp.text()
    );

    assert_eq!(state(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_get_and_put_work_and_over_7_days_is_refused() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    seed(&server).await;
    let s3 = server.client();

    let presigned = s3
        .get_object()
        .bucket("kept")
        .key("obj")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let pq = raw::path_and_query(presigned.uri());
    let resp = raw::request(server.addr, "GET", &pq, &[], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, b"original body");

    // A presigned PUT (UNSIGNED-PAYLOAD) stores the body.
    let url = format!("{}/kept/presigned-put", server.endpoint);
    let signed = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        Duration::from_secs(600),
        SystemTime::now(),
    );
    let resp = raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &[],
        b"via presigned put",
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        get(&s3, "kept", "presigned-put").await,
        b"via presigned put"
    );

    // Exactly 7 days is the maximum; one second more is refused.
    let url = format!("{}/kept/obj", server.endpoint);
    let week = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        Duration::from_secs(604_800),
        SystemTime::now(),
    );
    let resp = raw::request(server.addr, "GET", &week.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 200, "7-day URL: {}", resp.text());
    let too_long = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        Duration::from_secs(604_801),
        SystemTime::now(),
    );
    assert!(too_long.path_and_query.contains("X-Amz-Expires=604801"));
    let resp = raw::request(server.addr, "GET", &too_long.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 403, "X-Amz-Expires=604801: {}", resp.text());
    assert!(resp.text().contains("<Code>"), "an S3 error body");

    // An expired URL is refused.
    let expired = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        Duration::from_secs(60),
        SystemTime::now() - Duration::from_secs(3600),
    );
    let resp = raw::request(server.addr, "GET", &expired.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 403, "expired URL: {}", resp.text());

    // A presigned GET URL does not authorise a DELETE of the same object.
    let resp = raw::request(server.addr, "DELETE", &pq, &[], b"").await;
    assert_eq!(resp.status, 403, "GET URL used for DELETE: {}", resp.text());
    assert_eq!(get(&s3, "kept", "obj").await, b"original body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_request_dated_20_minutes_off_is_request_time_too_skewed() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    seed(&server).await;
    let before = state(&server).await;

    for offset in [-1200i64, 1200] {
        let t = if offset < 0 {
            SystemTime::now() - Duration::from_secs(offset.unsigned_abs())
        } else {
            SystemTime::now() + Duration::from_secs(offset.unsigned_abs())
        };
        // A fresh client per call: the SDK learns the server's clock from a
        // skew error and would sign the next request with corrected time.
        assert_s3_err(
            server.client_at(t).list_buckets().send().await,
            403,
            Some("RequestTimeTooSkewed"),
        );
        assert_s3_err(
            server
                .client_at(t)
                .put_object()
                .bucket("kept")
                .key("obj")
                .body(b"late".to_vec().into())
                .send()
                .await,
            403,
            Some("RequestTimeTooSkewed"),
        );
        assert_s3_err(
            server
                .client_at(t)
                .delete_object()
                .bucket("kept")
                .key("obj")
                .send()
                .await,
            403,
            Some("RequestTimeTooSkewed"),
        );
    }
    // Within the window (5 minutes off) is fine.
    let slightly = server.client_at(SystemTime::now() - Duration::from_secs(300));
    slightly.list_buckets().send().await.unwrap();

    assert_eq!(state(&server).await, before);
}
