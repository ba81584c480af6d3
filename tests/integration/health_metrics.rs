//! Health probes, Prometheus metrics and JSON logs (issue 13, item 6).
//!
//! Guards against: probes that need a signature or answer with more than a status; probes
//! that swallow S3 requests to a bucket named `health`; probes that fill the audit trail;
//! metrics that miss requests or bytes; metrics that carry a bucket name, key, user name
//! or access key (P6); a metrics listener beyond loopback by default; `--log-format json`
//! printing anything but JSON lines.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::common::iam_cli::user_with_key;
use crate::common::markers::marker;
use crate::common::metrics::{metrics_addr, sample, scrape};
use crate::common::raw::{self, RawResponse};
use crate::common::sign::{self, Payload};
use crate::common::{Server, TestEnv, create_bucket, get, put, s3_client};

async fn probe(addr: SocketAddr, method: &str, path: &str) -> RawResponse {
    raw::request(addr, method, path, &[], b"").await
}

/// The sequence number the audit trail has reached, once it moves past `after`.
async fn audit_sequence_after(server: &Server, after: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seq = sample(&scrape(server).await, "coffer_audit_sequence").expect("audit gauge");
        if seq > after {
            return seq;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "audit sequence stuck at {seq}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn probes_answer_unsigned_with_the_status_only() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--metrics-listen", "127.0.0.1:0"]);
    for addr in [server.addr, metrics_addr(&server)] {
        let live = probe(addr, "GET", "/health/live").await;
        assert_eq!(live.status, 200, "{}", live.text());
        assert_eq!(live.text(), "ok\n");
        let ready = probe(addr, "GET", "/health/ready").await;
        assert_eq!(ready.status, 200, "{}", ready.text());
        assert_eq!(ready.text(), "ready\n");
        let head = probe(addr, "HEAD", "/health/ready").await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        // Nothing but the status: no version, no server name, no counts.
        for resp in [&live, &ready] {
            let names: Vec<&str> = resp.headers.iter().map(|(k, _)| k.as_str()).collect();
            for name in &names {
                assert!(
                    [
                        "content-type",
                        "content-length",
                        "cache-control",
                        "date",
                        "connection"
                    ]
                    .contains(&name.to_ascii_lowercase().as_str()),
                    "unexpected header {name}"
                );
            }
        }
    }
    // Anything else on those paths is S3's, and unsigned S3 is refused (P1).
    for (method, path) in [
        ("GET", "/health/live?list-type=2"),
        ("PUT", "/health/live"),
        ("DELETE", "/health/ready"),
        ("GET", "/health/live/"),
        ("GET", "/health"),
    ] {
        let resp = probe(server.addr, method, path).await;
        assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text());
        assert_eq!(resp.s3_code().as_deref(), Some("AccessDenied"));
    }
    // The metrics listener serves nothing else.
    let other = probe(metrics_addr(&server), "GET", "/").await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn a_bucket_named_health_is_still_s3() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let client = server.client();
    create_bucket(&client, "health").await;
    put(&client, "health", "live", b"patient photo").await;
    put(&client, "health", "ready", b"consent form").await;
    assert_eq!(get(&client, "health", "live").await, b"patient photo");
    assert_eq!(get(&client, "health", "ready").await, b"consent form");
    // Presigned (signature in the query) reaches S3 too.
    let url = format!("{}/health/live", server.endpoint);
    let signed = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        Duration::from_secs(300),
        SystemTime::now(),
    );
    let resp = probe(server.addr, "GET", &signed.path_and_query).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, b"patient photo");
    // The unsigned probe still answers with the status.
    let resp = probe(server.addr, "GET", "/health/live").await;
    assert_eq!(resp.text(), "ok\n");
}

#[tokio::test]
async fn probes_are_not_audited() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--metrics-listen", "127.0.0.1:0"]);
    let client = server.client();
    client.list_buckets().send().await.unwrap();
    let before = audit_sequence_after(&server, 0).await;
    for _ in 0..10 {
        probe(server.addr, "GET", "/health/ready").await;
        probe(server.addr, "GET", "/health/live").await;
    }
    // One more audited request: the trail moves by its one record, not by 21.
    client.list_buckets().send().await.unwrap();
    let after = audit_sequence_after(&server, before).await;
    assert_eq!(after, before + 1);
}

#[tokio::test]
async fn metrics_count_requests_bytes_and_latency_by_operation() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--metrics-listen", "127.0.0.1:0"]);
    let metrics = metrics_addr(&server);
    assert!(metrics.ip().is_loopback());
    assert_ne!(metrics.port(), server.addr.port());
    let client = server.client();
    let start = scrape(&server).await;
    assert_eq!(sample(&start, "coffer_ready"), Some(1));
    assert_eq!(sample(&start, "coffer_bytes_received_total"), Some(0));

    create_bucket(&client, "bkt").await;
    let body = vec![7u8; 100_000];
    put(&client, "bkt", "k", &body).await;
    assert_eq!(get(&client, "bkt", "k").await, body);
    let missing = client.get_object().bucket("bkt").key("nope").send().await;
    assert!(missing.is_err());
    client
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();

    let text = scrape(&server).await;
    let count = |series: &str| sample(&text, series).unwrap_or(0);
    assert_eq!(
        count("coffer_requests_total{operation=\"PutObject\",status=\"200\"}"),
        1,
        "{text}"
    );
    assert_eq!(
        count("coffer_requests_total{operation=\"GetObject\",status=\"200\"}"),
        1
    );
    assert_eq!(
        count("coffer_requests_total{operation=\"GetObject\",status=\"404\"}"),
        1
    );
    assert_eq!(
        count("coffer_requests_total{operation=\"CreateBucket\",status=\"200\"}"),
        1
    );
    assert_eq!(
        count("coffer_request_duration_seconds_count{operation=\"GetObject\"}"),
        2
    );
    assert_eq!(
        count("coffer_request_duration_seconds_bucket{operation=\"PutObject\",le=\"+Inf\"}"),
        1
    );
    // The body went in once and came out once (HEAD sends none); error bodies are small.
    let received = count("coffer_bytes_received_total");
    let sent = count("coffer_bytes_sent_total");
    assert!((100_000..101_000).contains(&received), "{received}");
    assert!((100_000..102_000).contains(&sent), "{sent}");
    assert!(!text.contains("coffer_errors_total{"), "{text}");
    // One chunk stored, sealed (a little larger than the body).
    assert_eq!(count("coffer_chunks"), 1, "{text}");
    let sealed = count("coffer_chunk_bytes");
    assert!((100_000..100_100).contains(&sealed), "{sealed}");
    assert_eq!(count("coffer_chunk_writes_total{result=\"stored\"}"), 1);

    // The same body again in the same bucket: deduplicated, nothing more on disk.
    put(&client, "bkt", "copy", &body).await;
    let text = scrape(&server).await;
    let count = |series: &str| sample(&text, series).unwrap_or(0);
    assert_eq!(count("coffer_chunks"), 1, "{text}");
    assert_eq!(count("coffer_chunk_bytes"), sealed);
    assert_eq!(
        count("coffer_chunk_writes_total{result=\"deduplicated\"}"),
        1
    );
    // Group commit: every commit carried at least one request (bucket, two objects).
    let commits = count("coffer_index_commits_total");
    let carried = count("coffer_index_commit_requests_total");
    assert!(commits >= 1 && carried >= commits && carried >= 3, "{text}");
    // Probes and scrapes are not requests.
    probe(server.addr, "GET", "/health/ready").await;
    let again = scrape(&server).await;
    assert!(!again.contains("Unknown"), "{again}");
}

#[tokio::test]
async fn without_the_audit_trail_operations_are_still_named() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--no-audit", "--metrics-listen", "127.0.0.1:0"]);
    let client = server.client();
    create_bucket(&client, "bkt").await;
    put(&client, "bkt", "k", b"body").await;
    let text = scrape(&server).await;
    assert_eq!(
        sample(
            &text,
            "coffer_requests_total{operation=\"PutObject\",status=\"200\"}"
        ),
        Some(1),
        "{text}"
    );
    assert!(!text.contains("Unknown"), "{text}");
    assert!(!text.contains("coffer_audit_sequence"), "{text}");
}

#[tokio::test]
async fn p6_no_names_in_metrics() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--metrics-listen", "127.0.0.1:0"]);
    let bucket = marker("mbkt");
    let key = marker("mkey");
    let user = marker("muser");
    let client = server.client();
    create_bucket(&client, &bucket).await;
    put(&client, &bucket, &format!("photos/{key}.jpg"), b"x").await;
    get(&client, &bucket, &format!("photos/{key}.jpg")).await;
    let _ = client.get_object().bucket(&bucket).key(&key).send().await;
    let _ = client.head_bucket().bucket(&user).send().await;
    let (access_key, secret) = user_with_key(&env, &server, &user);
    let theirs = s3_client(&server.endpoint, &access_key, &secret, None);
    let _ = theirs.list_objects_v2().bucket(&bucket).send().await;
    // An IAM action the server does not know: the label must not echo it.
    let body = format!("Action={user}&Version=2010-05-08");
    let url = format!("{}/", server.endpoint);
    let signed = sign::sign_v4_service(
        "iam",
        &server.access_key,
        &server.secret_key,
        "POST",
        &url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    let _ = raw::request(
        server.addr,
        "POST",
        &signed.path_and_query,
        &signed.header_refs(),
        body.as_bytes(),
    )
    .await;

    let text = scrape(&server).await;
    assert!(text.contains("operation=\"IAM\""), "{text}");
    for needle in [
        bucket.as_str(),
        key.as_str(),
        user.as_str(),
        access_key.as_str(),
        server.access_key.as_str(),
        "photos",
    ] {
        assert!(!text.contains(needle), "{needle} in metrics:\n{text}");
    }
}

#[tokio::test]
async fn ready_turns_503_while_stopping() {
    let env = TestEnv::new();
    let mut server =
        env.start_ephemeral_with(&["--metrics-listen", "127.0.0.1:0", "--shutdown-grace", "20"]);
    create_bucket(&server.client(), "bkt").await;
    // An upload in progress keeps the server in its shutdown grace period.
    let url = format!("{}/bkt/slow", server.endpoint);
    let s = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[("Content-Length", "1000")],
        &Payload::Unsigned,
        SystemTime::now(),
    );
    let mut conn = raw::Conn::open(server.addr).await;
    let head = raw::keep_alive_head(server.addr, "PUT", &s.path_and_query, &s.header_refs());
    conn.send(&head).await.unwrap();
    conn.send(&[0u8; 100]).await.unwrap();
    let metrics = metrics_addr(&server);
    assert_eq!(probe(metrics, "GET", "/health/ready").await.status, 200);

    crate::common::sigterm(server.pid());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = probe(metrics, "GET", "/health/ready").await.status;
        if status == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ready still answers {status} after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(probe(metrics, "GET", "/health/live").await.status, 200);
    let text = scrape(&server).await;
    assert_eq!(sample(&text, "coffer_ready"), Some(0));
    // Let the upload end; the server then exits.
    drop(conn);
    let status = server.stop();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn the_health_command_probes_the_listener() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--metrics-listen", "127.0.0.1:0"]);
    for addr in [server.addr, metrics_addr(&server)] {
        let addr = addr.to_string();
        let (ok, out, _) = env.run(&["health", "--addr", &addr], &[], b"");
        assert!(ok, "{out}");
        assert_eq!(out.trim(), "ready");
        let (ok, out, _) = env.run(&["health", "--live", "--addr", &addr], &[], b"");
        assert!(ok, "{out}");
        assert_eq!(out.trim(), "live");
    }
    // Nothing listening: a failure, quickly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (ok, _, _) = env.run(&["health", "--addr", &addr], &[], b"");
    assert!(!ok);
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let env = TestEnv::new();
    let mut server = env.start_ephemeral_with(&["--log-format", "json"]);
    let bucket = marker("jbkt");
    let key = marker("jkey");
    create_bucket(&server.client(), &bucket).await;
    put(&server.client(), &bucket, &key, b"x").await;
    assert!(server.stop().success());
    let log = std::fs::read_to_string(&server.log).unwrap();
    // P6 holds in JSON as in text: no names at info.
    assert!(!log.contains(&bucket) && !log.contains(&key), "{log}");
    let mut requests = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["fields"].is_object(), "{line}");
        if value["fields"]["message"] == "request" {
            requests += 1;
            assert!(value["span"]["id"].is_string(), "{line}");
        }
    }
    assert!(requests >= 1, "no request line in:\n{log}");
}
