//! The front door (issue 8): every way around P1 and every resource a stranger could
//! exhaust, each found by an audit of the request path and reproduced against the server
//! before the fix. Every test here failed then; each names the hole it guards.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::raw::{self, RawOutcome};
use crate::common::sign::{self, Payload};
use crate::common::{Server, TestEnv, cpu_time, create_bucket, put, rss, signed_get_from};
use crate::public_access::{assert_still_private, snapshot};

/// A malformed-header case: what, headers, expected status and code.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn status_of_head(server: &Server, bucket: &str, key: &str) -> u16 {
    match server
        .client()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => 200,
        Err(e) => crate::common::status_of(&e),
    }
}

// ---- 1. SigV2 browser forms ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_sigv2_browser_form_is_refused() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "forms").await;
    let before = snapshot(&server).await;

    let fields = sign::post_form_v2(&server.access_key, &server.secret_key, "forms");
    let body = sign::form_body("v2.txt", &fields, b"replayable until 2099");
    let resp = raw::post_form(server.addr, "forms", &body).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("AccessDenied"));
    assert!(
        resp.text().contains("Signature Version 2"),
        "{}",
        resp.text()
    );
    assert_eq!(status_of_head(&server, "forms", "v2.txt").await, 404);
    assert_eq!(snapshot(&server).await, before);

    // The same upload signed with SigV4 is stored: the refusal is about the version.
    let fields = sign::post_form_v4(
        &server.access_key,
        &server.secret_key,
        "forms",
        &[],
        SystemTime::now(),
    );
    let body = sign::form_body("v4.txt", &fields, b"fine");
    let resp = raw::post_form(server.addr, "forms", &body).await;
    assert!(matches!(resp.status, 200 | 204), "{}", resp.text());
    assert_eq!(
        crate::common::get(&server.client(), "forms", "v4.txt").await,
        b"fine"
    );
}

// ---- 2. Authentication parameters read as s3s reads them ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_case_variant_expires_cannot_stretch_a_presigned_url() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    put(&s3, "bkt", "k", b"secret scan").await;

    // Signed 400 days ago; the lower-case twin says 60 s, the real one ~136 years.
    let url = format!("{}/bkt/k?x-amz-expires=60", server.endpoint);
    let signed = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        Duration::from_secs(4_294_967_295),
        SystemTime::now() - 400 * DAY,
    );
    let resp = raw::request(server.addr, "GET", &signed.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        resp.s3_code().as_deref(),
        Some("AuthorizationQueryParametersError")
    );
    assert!(!resp.text().contains("secret scan"));

    // Repeated exactly-spelled parameters too.
    let url = format!("{}/bkt/k?X-Amz-Expires=60", server.endpoint);
    let signed = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        Duration::from_secs(600),
        SystemTime::now(),
    );
    let resp = raw::request(server.addr, "GET", &signed.path_and_query, &[], b"").await;
    assert_eq!(resp.status, 400, "{}", resp.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_query_credential_cannot_change_which_headers_count_as_signed() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    let before = snapshot(&server).await;

    // Header-signed PUT whose (signed) query claims x-amz-meta-a is signed; the header
    // itself is added afterwards, unsigned.
    let url = format!(
        "{}/bkt/k?X-Amz-Credential=x&X-Amz-SignedHeaders=host%3Bx-amz-meta-a",
        server.endpoint
    );
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[],
        &Payload::Bytes(b"body"),
        SystemTime::now(),
    );
    let mut headers = signed.header_refs();
    headers.push(("x-amz-meta-a", "unsigned"));
    let resp = raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &headers,
        b"body",
    )
    .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("InvalidArgument"));
    assert_eq!(snapshot(&server).await, before);
}

// ---- 3. One huge aws-chunk ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_huge_aws_chunk_is_refused_without_buffering_it() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    put(&s3, "bkt", "kept", b"kept").await;
    let before = snapshot(&server).await;
    let rss_before = rss(server.pid());

    // 512 MiB announced as a single chunk: refused at its header, before s3s reads it.
    let size: u64 = 512 << 20;
    let chunk_header = format!("{size:x}\r\n");
    let total = chunk_header.len() as u64 + size + 2 + 5;
    let (total, size_s) = (total.to_string(), size.to_string());
    let url = format!("{}/bkt/huge", server.endpoint);
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", &size_s),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
        &Payload::StreamingUnsignedTrailer,
        SystemTime::now(),
    );
    let mut headers = signed.header_refs();
    headers.push(("Content-Length", &total));
    let mut head = raw::request_head(server.addr, "PUT", &signed.path_and_query, &headers);
    head.extend_from_slice(chunk_header.as_bytes());
    let conn = TcpStream::connect(server.addr).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    // Keep sending the chunk (up to 64 MiB) while the answer comes back.
    let sender = tokio::spawn(async move {
        if wr.write_all(&head).await.is_err() {
            return;
        }
        let block = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            if wr.write_all(&block).await.is_err() {
                return;
            }
        }
    });
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let read = async {
        while !reply.windows(4).any(|w| w == b"\r\n\r\n")
            || !String::from_utf8_lossy(&reply).contains("</Error>")
        {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("an answer");
    sender.abort();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("<Code>InvalidRequest</Code>"), "{reply}");
    let grown = rss(server.pid()).saturating_sub(rss_before);
    eprintln!(
        "RSS grew by {} MiB during a 512 MiB single-chunk PUT",
        grown >> 20
    );
    assert!(
        grown < 48 << 20,
        "server memory grew by {} MiB",
        grown >> 20
    );

    // A streaming upload must announce its lengths: chunked transfer with no
    // Content-Length gets 411, as on AWS.
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[("x-amz-decoded-content-length", "5")],
        &Payload::StreamingUnsignedTrailer,
        SystemTime::now(),
    );
    let mut headers = signed.header_refs();
    headers.push(("Transfer-Encoding", "chunked"));
    let mut bytes = raw::request_head(server.addr, "PUT", &signed.path_and_query, &headers);
    bytes.extend_from_slice(b"a\r\n5\r\nhello\r\n\r\n0\r\n\r\n");
    match raw::exchange(server.addr, &bytes, true, false).await {
        RawOutcome::Response(r) => {
            assert_eq!(r.status, 411, "{}", r.text());
            assert_eq!(r.s3_code().as_deref(), Some("MissingContentLength"));
        }
        RawOutcome::Closed { bytes } => panic!("no response ({} bytes)", bytes.len()),
    }
    // And without x-amz-decoded-content-length.
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &[],
        &Payload::StreamingUnsignedTrailer,
        SystemTime::now(),
    );
    let body = sign::aws_chunked_body(b"hello");
    let resp = raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &signed.header_refs(),
        &body,
    )
    .await;
    assert_eq!(resp.status, 411, "{}", resp.text());
    assert_eq!(snapshot(&server).await, before);
}

// ---- 4. Connections ----

/// A TCP connection from `source` that sends nothing.
async fn silent_connection(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A form from `source` that sends its headers and first boundary, then nothing more.
async fn stalled_form(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let mut conn = silent_connection(source, addr).await;
    let head = raw::request_head(
        addr,
        "POST",
        "/forms",
        &[
            ("Content-Type", "multipart/form-data; boundary=xyz"),
            ("Content-Length", "100000"),
        ],
    );
    conn.write_all(&head).await.unwrap();
    conn.write_all(b"--xyz\r\n").await.unwrap();
    conn
}

/// How long until the server closes `conn` (reads EOF or a reset), at most `limit`.
async fn time_to_close(conn: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let until_closed = async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, until_closed)
        .await
        .ok()
        .map(|()| started.elapsed())
}

fn start_with_connection_limits(env: &TestEnv) -> Server {
    env.start_ephemeral_with(&[
        "--max-connections",
        "4",
        "--max-connections-per-address",
        "2",
        "--header-timeout",
        "2",
        "--idle-timeout",
        "2",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_connection() {
    let env = TestEnv::new();
    let server = start_with_connection_limits(&env);
    let hog: IpAddr = "127.0.0.2".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(silent_connection(hog, server.addr).await);
    }
    // A third from the same address is closed at once.
    let mut third = silent_connection(hog, server.addr).await;
    assert!(
        time_to_close(&mut third, Duration::from_secs(1))
            .await
            .is_some(),
        "a third connection from one address was kept"
    );
    // Everyone else is still served.
    let resp = signed_get_from(
        &server,
        "127.0.0.3".parse().unwrap(),
        &server.access_key,
        &server.secret_key,
        "/",
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_reclaimed() {
    let env = TestEnv::new();
    let server = start_with_connection_limits(&env);

    // A TCP connection that never sends a byte (before HTTP/1-vs-h2 detection).
    let mut silent = silent_connection("127.0.0.2".parse().unwrap(), server.addr).await;
    let reclaimed = time_to_close(&mut silent, Duration::from_secs(10)).await;
    eprintln!("silent connection reclaimed after {reclaimed:?} (--header-timeout 2)");
    assert!(reclaimed.is_some(), "a silent connection was never closed");

    // An h2c connection that sends its preface and SETTINGS, then idles.
    let mut h2 = silent_connection("127.0.0.3".parse().unwrap(), server.addr).await;
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    h2.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap(); // empty SETTINGS
    let reclaimed = time_to_close(&mut h2, Duration::from_secs(10)).await;
    eprintln!("idle h2c connection reclaimed after {reclaimed:?}");
    assert!(
        reclaimed.is_some(),
        "an idle h2c connection was never closed"
    );

    // With every slot of the server once held by silent connections, a client that
    // comes later is served once they are reclaimed.
    let mut hogs = Vec::new();
    for source in ["127.0.0.4", "127.0.0.4", "127.0.0.5", "127.0.0.5"] {
        hogs.push(silent_connection(source.parse().unwrap(), server.addr).await);
    }
    let resp = signed_get_from(
        &server,
        "127.0.0.6".parse().unwrap(),
        &server.access_key,
        &server.secret_key,
        "/",
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

// ---- 5. Browser forms ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_fields_sent_in_tiny_segments_cost_little_cpu() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "forms").await;
    let cpu_before = cpu_time(server.pid());

    // An unsigned form whose 200 KiB field arrives two bytes at a time. (The fields may be
    // 64 KiB at most; the old scanner read 256 KiB, re-scanning all of it per frame.)
    let value = "ab".repeat(100 << 10);
    let mut body = b"--xyz\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n".to_vec();
    body.extend_from_slice(value.as_bytes());
    body.extend_from_slice(b"\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nx\r\n--xyz--\r\n");
    let len = body.len().to_string();
    let head = raw::request_head(
        server.addr,
        "POST",
        "/forms",
        &[
            ("Content-Type", "multipart/form-data; boundary=xyz"),
            ("Content-Length", &len),
        ],
    );
    // Two bytes per TCP segment, paced so that the server reads them one by one (as a
    // slow or hostile client's would arrive), on a thread of its own.
    let addr = server.addr;
    let reply = tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_nodelay(true).unwrap();
        conn.write_all(&head).unwrap();
        for piece in body.chunks(2) {
            if conn.write_all(piece).is_err() {
                break;
            }
            let sent = Instant::now();
            while sent.elapsed() < Duration::from_micros(20) {
                std::hint::spin_loop();
            }
        }
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reply = Vec::new();
        let _ = conn.read_to_end(&mut reply);
        reply
    })
    .await
    .unwrap();
    let used = cpu_time(server.pid()).saturating_sub(cpu_before);
    eprintln!("server CPU for a 200 KiB form field in 2-byte segments: {used:?}");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(
        reply.contains("MaxPostPreDataLengthExceededError"),
        "{reply}"
    );
    // Linear scanning costs milliseconds; re-scanning per frame cost seconds.
    assert!(used < Duration::from_secs(3), "server CPU {used:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_anonymous_forms_do_not_lock_out_signed_ones() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "forms").await;

    // Four anonymous forms (more than the form slots) from four addresses stall after
    // their headers, and two more from one address.
    let mut stalled = Vec::new();
    for source in [
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.5",
        "127.0.0.6",
        "127.0.0.6",
    ] {
        stalled.push(stalled_form(source.parse().unwrap(), server.addr).await);
    }
    // A third form from that address is refused at once, once the server holds the two.
    // Until then a complete unsigned form gets its 403 — and may itself have taken the
    // slot a stalled one wanted, which is then answered 503 and has to stall again.
    let third = || async {
        raw::request_from(
            "127.0.0.6".parse().unwrap(),
            server.addr,
            "POST",
            "/forms",
            &[
                ("Content-Type", "multipart/form-data; boundary=xyz"),
                ("Content-Length", "0"),
            ],
        )
        .await
        .status
    };
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut status = third().await;
    while status != 503 && Instant::now() < deadline {
        assert_eq!(status, 403, "an empty form carries no signature");
        tokio::time::sleep(Duration::from_millis(50)).await;
        for conn in stalled.iter_mut().skip(4) {
            let mut probe = [0u8; 1];
            if !matches!(conn.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            {
                *conn = stalled_form("127.0.0.6".parse().unwrap(), server.addr).await;
            }
        }
        status = third().await;
    }
    assert_eq!(status, 503, "a third form from one address was taken in");

    // A signed form is stored while they stall.
    let fields = sign::post_form_v4(
        &server.access_key,
        &server.secret_key,
        "forms",
        &[],
        SystemTime::now(),
    );
    let body = sign::form_body("signed.txt", &fields, b"consent form");
    let resp = raw::post_form(server.addr, "forms", &body).await;
    assert!(matches!(resp.status, 200 | 204), "{}", resp.text());
    assert_eq!(
        crate::common::get(&server.client(), "forms", "signed.txt").await,
        b"consent form"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_a_fake_boundary_in_a_field_cannot_hide_a_public_acl() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "forms").await;
    let before = snapshot(&server).await;

    // The `key` field's value holds `--xyz` mid-line, which the old scanner took for a
    // delimiter; the `acl` field after it asks for public-read.
    let fields = sign::post_form_v4(
        &server.access_key,
        &server.secret_key,
        "forms",
        &[("acl", "public-read")],
        SystemTime::now(),
    );
    let mut body = b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nx--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n\r\n".to_vec();
    let tail = sign::form_body("ignored", &fields, b"patient photo");
    // Drop the helper's own key part; keep the rest.
    let tail_start = tail
        .windows(7)
        .skip(1)
        .position(|w| w == b"--xyz\r\n")
        .unwrap()
        + 1;
    body.extend_from_slice(&tail[tail_start..]);
    let resp = raw::post_form(server.addr, "forms", &body).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert!(
        resp.text().contains("public access is disabled"),
        "{}",
        resp.text()
    );
    assert_eq!(snapshot(&server).await, before);
}

// ---- 6. The throttle never refuses a valid signature ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_signatures_are_served_after_many_failures_from_the_same_address() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"patient scan").await;
    let nat: IpAddr = "127.0.0.2".parse().unwrap();

    let mut slowed = 0;
    for batch in 0..25 {
        let guesses: Vec<String> = (0..8)
            .map(|i| format!("misconfigured-tablet-secret-{batch}-{i}"))
            .collect();
        let tries = guesses.iter().map(|guess| {
            signed_get_from(&server, nat, &server.access_key, guess, "/clinic/scan.jpg")
        });
        for resp in futures::future::join_all(tries).await {
            assert!(matches!(resp.status, 403 | 503), "{}", resp.text());
            slowed += usize::from(resp.status == 503);
        }
    }
    assert!(slowed > 0, "200 failures were never slowed down");
    // The valid client behind the same address is served.
    let resp = signed_get_from(
        &server,
        nat,
        &server.access_key,
        &server.secret_key,
        "/clinic/scan.jpg",
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, b"patient scan");
}

// ---- 8. Signed checksums in a presigned URL's query ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_checksum_in_the_query_is_verified() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    let before = snapshot(&server).await;

    let body = b"consent form, patient 42";
    let wrong = sign::crc32_b64(b"something else");
    let presign = |crc: &str| {
        let crc = percent_encoding::utf8_percent_encode(crc, percent_encoding::NON_ALPHANUMERIC);
        let url = format!(
            "{}/bkt/form.pdf?x-amz-checksum-crc32={crc}&x-amz-sdk-checksum-algorithm=CRC32",
            server.endpoint
        );
        sign::presign_v4(
            &server.access_key,
            &server.secret_key,
            "PUT",
            &url,
            Duration::from_secs(300),
            SystemTime::now(),
        )
    };
    let signed = presign(&wrong);
    let resp = raw::request(server.addr, "PUT", &signed.path_and_query, &[], body).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("BadDigest"));
    assert_eq!(snapshot(&server).await, before);

    let signed = presign(&sign::crc32_b64(body));
    let resp = raw::request(server.addr, "PUT", &signed.path_and_query, &[], body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(crate::common::get(&s3, "bkt", "form.pdf").await, body);
}

// ---- 9. No 5xx for a client's mistake; AWS's codes for malformed auth ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_get_4xx_with_aws_codes() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    put(&s3, "bkt", "k", b"v").await;
    let before = snapshot(&server).await;

    // A form key over 1024 bytes.
    let fields = sign::post_form_v4(
        &server.access_key,
        &server.secret_key,
        "bkt",
        &[],
        SystemTime::now(),
    );
    let body = sign::form_body(&"k".repeat(1100), &fields, b"x");
    let resp = raw::post_form(server.addr, "bkt", &body).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("KeyTooLongError"));

    // Other algorithms carrying a valid HMAC-SHA256 signature.
    let url = format!("{}/bkt/k", server.endpoint);
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        &[],
        &Payload::Bytes(b""),
        SystemTime::now(),
    );
    for (label, status, code) in [
        ("AWS4-HMAC-SHA512", 400, "InvalidArgument"),
        ("AWS4-ECDSA-P256-SHA256", 501, "NotImplemented"),
    ] {
        let headers: Vec<(String, String)> = signed
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("authorization") {
                    v.replacen("AWS4-HMAC-SHA256", label, 1)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = raw::request(server.addr, "GET", &signed.path_and_query, &refs, b"").await;
        assert_eq!(resp.status, status, "{label}: {}", resp.text());
        assert_eq!(resp.s3_code().as_deref(), Some(code), "{label}");
    }

    // Malformed Authorization headers, each answered as AWS answers it.
    let date = aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let amz_date: String = date
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(15)
        .chain(['Z'])
        .collect();
    let cred = format!(
        "{}/{}/us-east-1/s3/aws4_request",
        server.access_key,
        &amz_date[..8]
    );
    let good = |service: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential={}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
            cred.replace("/s3/", &format!("/{service}/")),
            "0".repeat(64)
        )
    };
    let cases: Vec<Case<'_>> = vec![
        (
            "garbage",
            vec![("Authorization", "garbage".into())],
            400,
            "InvalidArgument",
        ),
        (
            "malformed",
            vec![("Authorization", "AWS4-HMAC-SHA256 nonsense".into())],
            400,
            "AuthorizationHeaderMalformed",
        ),
        (
            "no x-amz-content-sha256",
            vec![
                ("Authorization", good("s3")),
                ("x-amz-date", amz_date.clone()),
            ],
            400,
            "InvalidRequest",
        ),
        (
            "bad date",
            vec![
                ("Authorization", good("s3")),
                ("x-amz-date", "yesterday".into()),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".into()),
            ],
            403,
            "AccessDenied",
        ),
        (
            "wrong service",
            vec![
                ("Authorization", good("ec2")),
                ("x-amz-date", amz_date.clone()),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".into()),
            ],
            400,
            "AuthorizationHeaderMalformed",
        ),
    ];
    for (what, headers, status, code) in cases {
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = raw::request(server.addr, "GET", "/bkt/k", &refs, b"").await;
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        assert_eq!(resp.s3_code().as_deref(), Some(code), "{what}");
    }
    assert_eq!(snapshot(&server).await, before);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        !log.contains(" ERROR "),
        "a client mistake was logged as an error:\n{log}"
    );
    assert_still_private(&server, "bkt", "k").await;
}

// ---- 10. Request ids in error bodies ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_body_carries_the_request_id_of_its_header_and_log_line() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    create_bucket(&server.client(), "bkt").await;

    let signed_get = |path: &str, secret: &str| {
        sign::sign_v4_headers(
            &server.access_key,
            secret,
            "GET",
            &format!("{}{path}", server.endpoint),
            &[],
            &Payload::Bytes(b""),
            SystemTime::now(),
        )
    };
    let missing = signed_get("/bkt/missing", &server.secret_key);
    let wrong = signed_get("/bkt/k", "a-wrong-secret-that-is-long-enough");
    let responses = vec![
        // Refused by the guard.
        raw::request(server.addr, "GET", "/bkt/k?Signature=x", &[], b"").await,
        // Refused by s3s (signature) and by the access layer (anonymous).
        raw::request(
            server.addr,
            "GET",
            &wrong.path_and_query,
            &wrong.header_refs(),
            b"",
        )
        .await,
        raw::request(server.addr, "GET", "/bkt/k", &[], b"").await,
        // Answered by an operation.
        raw::request(
            server.addr,
            "GET",
            &missing.path_and_query,
            &missing.header_refs(),
            b"",
        )
        .await,
    ];
    let log = || std::fs::read_to_string(&server.log).unwrap();
    for resp in responses {
        let id = resp
            .header("x-amz-request-id")
            .expect("request id header")
            .to_owned();
        let text = resp.text();
        assert!(
            text.contains(&format!("<RequestId>{id}</RequestId>")),
            "{}: {text}",
            resp.status
        );
        assert_eq!(text.matches("<RequestId>").count(), 1, "{text}");
        assert!(
            crate::common::eventually(Duration::from_secs(5), || log().contains(&id)).await,
            "request id {id} not in the log"
        );
    }
}
