//! The in-process harness as a test suite uses it: the real server's checks through a
//! ready client, fixtures and users, and many servers in one process without leaking
//! threads, sockets or ports.

// Test code fails loudly on purpose: expect/panic are how a test reports.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::large_futures)]

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::presigning::PresigningConfig;
use coffer_testing::{Error, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_server_serves_its_fixtures_and_checks_signatures() {
    let server = TestServer::builder()
        .bucket("fixtures")
        .versioning()
        .users(1)
        .start()
        .await
        .expect("start");
    assert!(server.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(server.region(), "us-east-1");
    let s3 = server.client();
    s3.put_object()
        .bucket("fixtures")
        .key("k")
        .body(b"body".to_vec().into())
        .send()
        .await
        .expect("put");
    let got = s3
        .get_object()
        .bucket("fixtures")
        .key("k")
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .as_ref(),
        b"body"
    );

    // As on AWS: a wrong secret is refused, and so is an expired presigned URL.
    let forged = server.client_as(
        server.access_key(),
        "not-the-secret-key-at-all-0000000000000",
    );
    let err = forged.list_buckets().send().await.expect_err("forged");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    let presigned = s3
        .get_object()
        .bucket("fixtures")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).expect("config"))
        .await
        .expect("presign");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let status = raw_get(presigned.uri()).await;
    assert_eq!(status, 403);

    // A plain user reaches nothing of root's without a policy.
    let user = server.user(1).expect("user1");
    assert_eq!(user.name, "user1");
    let as_user = server.client_as(&user.access_key, &user.secret_key);
    let err = as_user
        .get_object()
        .bucket("fixtures")
        .key("k")
        .send()
        .await
        .expect_err("denied");
    assert_eq!(err.code(), Some("AccessDenied"));
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_and_durable_servers_are_refused_before_anything_starts() {
    let err = TestServer::builder()
        .bucket("Bad_Name")
        .start()
        .await
        .expect_err("bad bucket");
    assert!(matches!(err, Error::Start(_)), "{err}");
    assert!(err.to_string().contains("Bad_Name"), "{err}");
    let err = TestServer::builder()
        .max_memory("1KiB")
        .start()
        .await
        .expect_err("tiny");
    assert!(err.to_string().contains("--max-memory"), "{err}");
    let err = TestServer::builder()
        .flag("--data")
        .flag("/nonexistent")
        .start()
        .await
        .expect_err("durable");
    assert!(err.to_string().contains("exclude each other"), "{err}");
    // A weak fixed secret is refused unless asked for on loopback.
    let err = TestServer::builder()
        .credentials("test", "test")
        .start()
        .await
        .expect_err("weak");
    assert!(matches!(err, Error::Start(_)), "{err}");
    let server = TestServer::builder()
        .credentials("test", "test")
        .flag("--test-credentials")
        .bucket("fixtures")
        .start()
        .await
        .expect("test credentials");
    assert_eq!(server.access_key(), "test");
    server
        .client()
        .head_bucket()
        .bucket("fixtures")
        .send()
        .await
        .expect("head");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_servers_start_and_stop_without_leaking_threads_tasks_sockets_or_ports() {
    // One first, so the runtime's blocking pool and the SDK's statics exist before counting.
    let warm = TestServer::builder()
        .bucket("warm")
        .start()
        .await
        .expect("start");
    warm.stop().await.expect("stop");
    let (threads, fds) = (count("/proc/self/task"), count("/proc/self/fd"));
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let tasks_before = tasks();
    let mut starts = Vec::new();
    let mut ports = Vec::new();
    for i in 0..50 {
        let started = Instant::now();
        let server = TestServer::builder()
            .bucket("fixtures")
            .start()
            .await
            .expect("start");
        starts.push(started.elapsed());
        let s3 = server.client();
        s3.put_object()
            .bucket("fixtures")
            .key(format!("k{i}"))
            .body(vec![7u8; 1000].into())
            .send()
            .await
            .expect("put");
        let port: u16 = server
            .endpoint()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        ports.push(port);
        // Half are dropped, half stopped: both must let everything go.
        if i % 2 == 0 {
            server.stop().await.expect("stop");
        } else {
            drop(server);
        }
    }
    // Dropped servers finish stopping in the background; give them a moment.
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    let settled = || {
        count("/proc/self/task") <= threads + 4
            && count("/proc/self/fd") <= fds + 4
            && tasks() <= tasks_before
            && ports.iter().all(|&port| free(port))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = count("/proc/self/task");
    assert!(now <= threads + 4, "threads: {threads} then {now}");
    let now = count("/proc/self/fd");
    assert!(now <= fds + 4, "fds: {fds} then {now}");
    assert!(
        tasks() <= tasks_before,
        "tasks: {tasks_before} then {}",
        tasks()
    );
    for port in ports {
        assert!(free(port), "port {port} still held");
    }
    starts.sort();
    eprintln!(
        "in-process start, 50 servers: median {:?}, max {:?}",
        starts[starts.len() / 2],
        starts[starts.len() - 1]
    );
}

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, Iterator::count)
}

/// The status of a plain HTTP GET of `uri` (a presigned URL on 127.0.0.1).
async fn raw_get(uri: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = uri.strip_prefix("http://").expect("http");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}
