//! `Expect: 100-continue` (issue 19): a request refused from its headers (signature, size,
//! policy) gets its final answer before the client sends the body, and the connection is
//! then either still usable or closed cleanly — never a client left waiting for a
//! `100 Continue` that does not come, on this request or the next.

use std::time::{Duration, SystemTime};

use crate::common::raw::{Conn, Next, RawResponse, keep_alive_head};
use crate::common::sign::{self, Payload};
use crate::common::{Server, TestEnv, create_bucket};
use crate::public_access::snapshot;

/// Longest a refusal may take to arrive (curl, for one, sends the body anyway after 1 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A signed `GET /` (ListBuckets) head for a keep-alive connection.
fn list_buckets_head(server: &Server) -> Vec<u8> {
    let s = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "GET",
        &format!("{}/", server.endpoint),
        &[],
        &Payload::Bytes(b""),
        SystemTime::now(),
    );
    keep_alive_head(server.addr, "GET", &s.path_and_query, &s.header_refs())
}

/// Sends `head` (which says `Expect: 100-continue`) and no body; the final answer must
/// come without the body, and the connection must then serve a next request or be closed
/// cleanly. Returns the answer.
async fn refused_without_the_body(server: &Server, head: &[u8], is_head: bool) -> RawResponse {
    let mut conn = Conn::open(server.addr).await;
    conn.send(head).await.expect("send the head");
    let answer = match conn.next(ANSWER_WITHIN, is_head).await {
        Some(Next::Response(r)) => r,
        other => panic!("no final answer before the body was sent: {other:?}"),
    };
    assert!(
        answer.status >= 400,
        "expected a refusal without a 100 Continue first, got {} {}",
        answer.status,
        answer.text()
    );
    let closing = answer
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));

    // The client never sends the body. The next request on the connection is served, or
    // the server says it closes and does.
    let sent = conn.send(&list_buckets_head(server)).await;
    match conn.next(ANSWER_WITHIN, false).await {
        Some(Next::Response(next)) => {
            assert!(!closing, "served a request after announcing close");
            assert_eq!(next.status, 200, "next request: {}", next.text());
            assert!(
                next.text().contains("<ListAllMyBucketsResult"),
                "{}",
                next.text()
            );
        }
        Some(Next::Closed | Next::Reset) if closing => {}
        Some(Next::Closed) if sent.is_err() => {}
        other => panic!(
            "after the refusal (Connection: {:?}) the connection neither served the next request nor closed: {other:?}",
            answer.header("connection")
        ),
    }
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_from_headers_come_before_the_body_and_leave_the_connection_usable() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "bkt").await;
    let before = snapshot(&server).await;
    let url = format!("{}/bkt/k", server.endpoint);
    let expect = [("Expect", "100-continue"), ("Content-Length", "1048576")];

    // A wrong secret: s3s refuses the signature without touching the body.
    let s = sign::sign_v4_headers(
        &server.access_key,
        "not-the-secret-key-at-all-0123456789",
        "PUT",
        &url,
        &expect,
        &Payload::Unsigned,
        SystemTime::now(),
    );
    let head = keep_alive_head(server.addr, "PUT", &s.path_and_query, &s.header_refs());
    let resp = refused_without_the_body(&server, &head, false).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("SignatureDoesNotMatch"));

    // No signature at all: refused by the access layer.
    let head = keep_alive_head(server.addr, "PUT", "/bkt/k", &expect);
    let resp = refused_without_the_body(&server, &head, false).await;
    assert_eq!(resp.status, 403, "{}", resp.text());

    // Too large for a PUT: refused by the guard from Content-Length.
    let too_large = [("Expect", "100-continue"), ("Content-Length", "6442450944")];
    let s = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &too_large,
        &Payload::Unsigned,
        SystemTime::now(),
    );
    let head = keep_alive_head(server.addr, "PUT", &s.path_and_query, &s.header_refs());
    let resp = refused_without_the_body(&server, &head, false).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("EntityTooLarge"));

    // A public ACL (P2): refused by the access layer from the header.
    let public = [
        ("Expect", "100-continue"),
        ("Content-Length", "1048576"),
        ("x-amz-acl", "public-read"),
    ];
    let s = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &public,
        &Payload::Unsigned,
        SystemTime::now(),
    );
    let head = keep_alive_head(server.addr, "PUT", &s.path_and_query, &s.header_refs());
    let resp = refused_without_the_body(&server, &head, false).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("AccessDenied"));

    // A signature for another region: refused by the guard.
    let s = sign::sign_v4_headers_in(
        "eu-west-3",
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &expect,
        &Payload::Unsigned,
        SystemTime::now(),
    );
    let head = keep_alive_head(server.addr, "PUT", &s.path_and_query, &s.header_refs());
    let resp = refused_without_the_body(&server, &head, false).await;
    assert_eq!(resp.status, 400, "{}", resp.text());

    assert_eq!(snapshot(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_upload_gets_100_continue_is_stored_and_keeps_the_connection() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "bkt").await;
    let body = b"sent after 100 Continue";
    let len = body.len().to_string();
    let headers = [("Expect", "100-continue"), ("Content-Length", len.as_str())];
    let s = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &format!("{}/bkt/k", server.endpoint),
        &headers,
        &Payload::Bytes(body),
        SystemTime::now(),
    );
    let mut conn = Conn::open(server.addr).await;
    conn.send(&keep_alive_head(
        server.addr,
        "PUT",
        &s.path_and_query,
        &s.header_refs(),
    ))
    .await
    .unwrap();
    match conn.next(ANSWER_WITHIN, false).await {
        Some(Next::Response(r)) => assert_eq!(r.status, 100, "{}", r.text()),
        other => panic!("no 100 Continue: {other:?}"),
    }
    conn.send(body).await.unwrap();
    match conn.next(ANSWER_WITHIN, false).await {
        Some(Next::Response(r)) => {
            assert_eq!(r.status, 200, "{}", r.text());
            // The body was read: the connection stays open for the next request.
            assert_eq!(r.header("connection"), None);
        }
        other => panic!("no answer to the upload: {other:?}"),
    }
    for _ in 0..2 {
        conn.send(&list_buckets_head(&server)).await.unwrap();
        match conn.next(ANSWER_WITHIN, false).await {
            Some(Next::Response(r)) => {
                assert_eq!(r.status, 200, "{}", r.text());
                assert_eq!(r.header("connection"), None);
            }
            other => panic!("the connection was not kept alive: {other:?}"),
        }
    }
    assert_eq!(crate::common::get(&server.client(), "bkt", "k").await, body);
}
