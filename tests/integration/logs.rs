//! P6 in the logs: bucket names and object keys never reach the server's output at the
//! default level (nor at `debug` without naming s3s), secrets never at any level, and every
//! response carries an `x-amz-request-id` that matches its log line.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use crate::common::raw::{self, RawResponse};
use crate::common::sign::{self, Payload};
use crate::common::{Expect, Server, TestEnv, create_bucket, put};

/// Appears in every bucket name, key, metadata value and body the tests send.
const MARKER: &str = "zq7marker";

/// A header-signed request for `path`.
async fn signed(server: &Server, method: &str, path: &str, secret: &str) -> RawResponse {
    let s = sign::sign_v4_headers(
        &server.access_key,
        secret,
        method,
        &format!("{}{path}", server.endpoint),
        &[],
        &Payload::Bytes(b""),
        SystemTime::now(),
    );
    raw::request(
        server.addr,
        method,
        &s.path_and_query,
        &s.header_refs(),
        b"",
    )
    .await
}

/// Everything a client might do with names that carry the marker, including failures.
async fn exercise(server: &Server) -> Vec<RawResponse> {
    let s3 = server.client();
    let bucket = format!("{MARKER}-bucket");
    let key = format!("patients/{MARKER}-jane doe.jpg");
    create_bucket(&s3, &bucket).await;
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .metadata("patient", MARKER)
        .content_type(format!("image/{MARKER}"))
        .body(ByteStream::from(MARKER.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
    put(&s3, &bucket, &format!("{key}.copy-source"), b"x").await;
    s3.copy_object()
        .bucket(&bucket)
        .key(format!("{key}.copy"))
        .copy_source(format!("{bucket}/{key}"))
        .send()
        .await
        .unwrap();
    s3.list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("patients/{MARKER}"))
        .send()
        .await
        .unwrap();
    s3.head_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    // Failures: missing key, missing bucket, bad digest, public ACL.
    assert!(
        s3.get_object()
            .bucket(&bucket)
            .key(format!("{MARKER}-missing"))
            .send()
            .await
            .is_err()
    );
    assert!(
        s3.get_object()
            .bucket(format!("{MARKER}-nobucket"))
            .key(&key)
            .send()
            .await
            .is_err()
    );
    assert!(
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .content_md5("AAAAAAAAAAAAAAAAAAAAAA==")
            .body(ByteStream::from_static(b"mismatch"))
            .send()
            .await
            .is_err()
    );
    assert!(
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .body(ByteStream::from_static(b"public"))
            .send()
            .await
            .is_err()
    );
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();

    let encoded_key = format!("patients/{MARKER}-jane%20doe.jpg");
    let mut responses = vec![
        raw::request(
            server.addr,
            "GET",
            &raw::path_and_query(url.uri()),
            &[],
            b"",
        )
        .await,
        signed(
            server,
            "GET",
            &format!("/{bucket}/{encoded_key}"),
            &server.secret_key,
        )
        .await,
        signed(
            server,
            "GET",
            &format!("/{bucket}/{MARKER}-absent"),
            &server.secret_key,
        )
        .await,
        signed(
            server,
            "GET",
            &format!("/{bucket}/{encoded_key}"),
            "a-wrong-secret-that-is-long-enough",
        )
        .await,
        raw::request(
            server.addr,
            "GET",
            &format!("/{bucket}/{encoded_key}"),
            &[],
            b"",
        )
        .await,
    ];
    // Refused by the guard before s3s (SigV2).
    responses.push(
        raw::request(
            server.addr,
            "GET",
            &format!("/{bucket}/{encoded_key}?AWSAccessKeyId=x&Signature=y&Expires=1"),
            &[],
            b"",
        )
        .await,
    );
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[1].status, 200);
    assert_eq!(responses[2].status, 404);
    assert_eq!(responses[3].status, 403);
    assert_eq!(responses[4].status, 403);
    assert_eq!(responses[5].status, 403);
    responses
}

fn assert_clean(log: &str, server: &Server) {
    let lower = log.to_ascii_lowercase();
    assert!(
        !lower.contains(MARKER),
        "a bucket name, key or value reached the log:\n{log}"
    );
    assert!(
        !log.contains(&server.secret_key),
        "the secret key reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_keys_and_bucket_names_not_in_default_logs_and_ids_match() {
    let env = TestEnv::new();
    let mut server = env.start_ephemeral();
    let responses = exercise(&server).await;

    let ids: Vec<String> = responses
        .iter()
        .map(|r| {
            let id = r
                .header("x-amz-request-id")
                .unwrap_or_else(|| panic!("no x-amz-request-id on a {} response", r.status));
            assert!(!id.is_empty());
            id.to_owned()
        })
        .collect();
    let log_path = server.log.clone();
    server.stop();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_clean(&log, &server);
    for (id, resp) in ids.iter().zip(&responses) {
        let line = log
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no log line for request {id}:\n{log}"));
        assert!(
            line.contains(&format!("status={}", resp.status)),
            "log line for {id} does not carry its status {}: {line}",
            resp.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_debug_logs_carry_no_names_and_trace_logs_no_secrets() {
    for level in ["debug", "trace"] {
        let env = TestEnv::new();
        let mut server = env.start(
            &["serve", "--ephemeral", "--listen", "127.0.0.1:0"],
            &[("COFFER_LOG", level)],
            &Expect::PrintedCredentials,
        );
        exercise(&server).await;
        let log_path = server.log.clone();
        server.stop();
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert!(!log.is_empty(), "{level}: empty log");
        if level == "debug" {
            assert_clean(&log, &server);
        } else {
            assert!(
                !log.contains(&server.secret_key),
                "{level}: the secret key reached the log"
            );
        }
    }
}
