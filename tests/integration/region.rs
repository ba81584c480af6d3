//! The region in the signature (issue 19): a request signed for another region than the
//! server's `--region` is refused as AWS refuses it, naming the expected region (clients
//! read it to find the right one), and reaches nothing; bucket answers name the region in
//! `x-amz-bucket-region`.

use std::time::{Duration, SystemTime};

use crate::common::raw::{self, RawResponse};
use crate::common::sign::{self, Payload};
use crate::common::{Server, TestEnv, create_bucket, put};
use crate::public_access::snapshot;

/// Asserts `resp` is AWS's wrong-region answer with `code`, naming `given` and `expected`.
#[track_caller]
fn assert_wrong_region(resp: &RawResponse, code: &str, prefix: &str, given: &str, expected: &str) {
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some(code), "{}", resp.text());
    let message = format!(
        "<Message>{prefix}; the region '{given}' is wrong; expecting '{expected}'</Message>"
    );
    assert!(resp.text().contains(&message), "{}", resp.text());
    assert!(
        resp.text()
            .contains(&format!("<Region>{expected}</Region>")),
        "{}",
        resp.text()
    );
    assert_eq!(resp.header("x-amz-bucket-region"), Some(expected));
}

async fn signed_put_in(server: &Server, region: &str, key: &str, body: &[u8]) -> RawResponse {
    let url = format!("{}/bkt/{key}", server.endpoint);
    let signed = sign::sign_v4_headers_in(
        region,
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[],
        &Payload::Bytes(body),
        SystemTime::now(),
    );
    raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &signed.header_refs(),
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_for_another_region_gets_400_naming_the_servers_region() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    put(&s3, "bkt", "k", b"scan").await;
    let before = snapshot(&server).await;

    // Header signature.
    let resp = signed_put_in(&server, "eu-west-3", "new", b"must not land").await;
    assert_wrong_region(
        &resp,
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed",
        "eu-west-3",
        "us-east-1",
    );

    // Presigned GET and PUT.
    for method in ["GET", "PUT"] {
        let url = format!("{}/bkt/k", server.endpoint);
        let signed = sign::presign_v4_in(
            "eu-west-3",
            &server.access_key,
            &server.secret_key,
            method,
            &url,
            Duration::from_secs(300),
            SystemTime::now(),
        );
        let resp = raw::request(server.addr, method, &signed.path_and_query, &[], b"x").await;
        assert_wrong_region(
            &resp,
            "AuthorizationQueryParametersError",
            "Error parsing the X-Amz-Credential parameter",
            "eu-west-3",
            "us-east-1",
        );
        assert!(!resp.text().contains("scan"));
    }

    // A browser form.
    let fields = sign::post_form_v4_in(
        "eu-west-3",
        &server.access_key,
        &server.secret_key,
        "bkt",
        &[],
        SystemTime::now(),
    );
    let body = sign::form_body("form.txt", &fields, b"must not land");
    let resp = raw::request(
        server.addr,
        "POST",
        "/bkt",
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        &body,
    )
    .await;
    assert_wrong_region(
        &resp,
        "AuthorizationQueryParametersError",
        "Error parsing the X-Amz-Credential parameter",
        "eu-west-3",
        "us-east-1",
    );

    // A region that is not a plain token is not echoed.
    let resp = signed_put_in(&server, "EU_West<3>", "odd", b"x").await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.text().contains(
            "The authorization header is malformed; the region is wrong; expecting 'us-east-1'"
        ),
        "{}",
        resp.text()
    );
    assert!(!resp.text().contains("EU_West"), "{}", resp.text());

    assert_eq!(snapshot(&server).await, before);

    // The same requests scoped to the right region are served.
    let resp = signed_put_in(&server, "us-east-1", "new", b"lands").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_in_another_region_names_it_in_errors_and_bucket_answers() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--region", "eu-west-3"]);
    assert_eq!(server.region, "eu-west-3");
    let s3 = server.client();
    s3.create_bucket()
        .bucket("bkt")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest3)
                .build(),
        )
        .send()
        .await
        .expect("create bucket in eu-west-3");
    let before = snapshot(&server).await;

    // The SDK's default us-east-1 signature is refused, naming eu-west-3.
    let resp = signed_put_in(&server, "us-east-1", "k", b"x").await;
    assert_wrong_region(
        &resp,
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed",
        "us-east-1",
        "eu-west-3",
    );
    assert_eq!(snapshot(&server).await, before);

    // HeadBucket and GetBucketLocation name the region in x-amz-bucket-region.
    for (method, query) in [("HEAD", ""), ("GET", "?location")] {
        let url = format!("{}/bkt{query}", server.endpoint);
        let signed = sign::sign_v4_headers_in(
            "eu-west-3",
            &server.access_key,
            &server.secret_key,
            method,
            &url,
            &[],
            &Payload::Bytes(b""),
            SystemTime::now(),
        );
        let resp = raw::request(
            server.addr,
            method,
            &signed.path_and_query,
            &signed.header_refs(),
            b"",
        )
        .await;
        assert_eq!(resp.status, 200, "{method}: {}", resp.text());
        assert_eq!(
            resp.header("x-amz-bucket-region"),
            Some("eu-west-3"),
            "{method}"
        );
    }
    let location = s3
        .get_bucket_location()
        .bucket("bkt")
        .send()
        .await
        .expect("GetBucketLocation");
    assert_eq!(
        location
            .location_constraint()
            .map(aws_sdk_s3::types::BucketLocationConstraint::as_str),
        Some("eu-west-3")
    );
}
