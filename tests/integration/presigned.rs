//! Presigned URLs open exactly what they were signed for: one method on one key, for at
//! most 7 days, until they expire. A URL for one key used for another, a PUT URL used as a
//! GET, an expired URL and one valid for more than 7 days are all refused (403), and
//! nothing changes.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::raw;
use crate::common::sign;
use crate::common::{TestEnv, create_bucket, put};
use crate::public_access::{assert_still_private, snapshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_open_only_their_own_method_and_key() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "alice.jpg", b"alice's scan").await;
    put(&s3, "clinic", "bob.jpg", b"bob's scan").await;
    let before = snapshot(&server).await;

    // The SDK's own presigned GET works for its key...
    let url = s3
        .get_object()
        .bucket("clinic")
        .key("alice.jpg")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let alice = raw::path_and_query(url.uri());
    let resp = raw::request(server.addr, "GET", &alice, &[], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, b"alice's scan");

    // ...and not for another key, with the same query string.
    let (_, query) = alice.split_once('?').unwrap();
    let bob = format!("/clinic/bob.jpg?{query}");
    let resp = raw::request(server.addr, "GET", &bob, &[], b"").await;
    assert_eq!(resp.status, 403, "URL for alice.jpg used for bob.jpg");
    assert_eq!(resp.s3_code().as_deref(), Some("SignatureDoesNotMatch"));
    // Nor for the bucket listing.
    let resp = raw::request(server.addr, "GET", &format!("/clinic?{query}"), &[], b"").await;
    assert_eq!(
        resp.status, 403,
        "URL for alice.jpg used to list the bucket"
    );

    // A presigned PUT is not a GET (nor a DELETE) of the same key.
    let put_url = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &format!("{}/clinic/alice.jpg", server.endpoint),
        Duration::from_secs(300),
        SystemTime::now(),
    );
    for method in ["GET", "HEAD", "DELETE"] {
        let resp = raw::request(server.addr, method, &put_url.path_and_query, &[], b"").await;
        assert_eq!(
            resp.status,
            403,
            "PUT URL used as {method}: {}",
            resp.text()
        );
    }
    // And a GET URL does not upload.
    let resp = raw::request(server.addr, "PUT", &alice, &[], b"overwritten").await;
    assert_eq!(resp.status, 403, "GET URL used as PUT: {}", resp.text());

    // Expired, even by a second.
    let expired = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &format!("{}/clinic/alice.jpg", server.endpoint),
        Duration::from_secs(60),
        SystemTime::now() - Duration::from_secs(120),
    );
    let resp = raw::request(server.addr, "GET", &expired.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 403, "expired URL: {}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("AccessDenied"));

    // Longer than 7 days: refused even though the signature is valid.
    let too_long = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &format!("{}/clinic/alice.jpg", server.endpoint),
        Duration::from_secs(604_801),
        SystemTime::now(),
    );
    let resp = raw::request(server.addr, "GET", &too_long.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 403, "8-day URL: {}", resp.text());

    // Signed with another secret.
    let forged = sign::presign_v4(
        &server.access_key,
        "not-the-secret-key-of-this-server",
        "GET",
        &format!("{}/clinic/alice.jpg", server.endpoint),
        Duration::from_secs(60),
        SystemTime::now(),
    );
    let resp = raw::request(server.addr, "GET", &forged.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 403, "wrong secret: {}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("SignatureDoesNotMatch"));

    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "clinic", "alice.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presigned_expiry_cap_can_be_lowered() {
    let env = TestEnv::new();
    let server = env.start(
        &[
            "serve",
            "--ephemeral",
            "--listen",
            "127.0.0.1:0",
            "--presigned-max-expiry",
            "3600",
        ],
        &[],
        &crate::common::Expect::PrintedCredentials,
    );
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"scan").await;
    let url = format!("{}/clinic/scan.jpg", server.endpoint);
    for (secs, status) in [(3600, 200), (3601, 403)] {
        let signed = sign::presign_v4(
            &server.access_key,
            &server.secret_key,
            "GET",
            &url,
            Duration::from_secs(secs),
            SystemTime::now(),
        );
        let resp = raw::request(server.addr, "GET", &signed.path_and_query, &[], b"").await;
        assert_eq!(resp.status, status, "X-Amz-Expires={secs}: {}", resp.text());
    }
}
