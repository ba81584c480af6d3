//! CORS: a clinic's web app on another origin uploads and reads with presigned URLs, and
//! nothing else is let through.
//!
//! The bucket's rules go in with PutBucketCors (checked as AWS checks them); the unsigned
//! preflight answers from them alone, with one and the same 403 for a missing bucket, a
//! bucket without rules and a request no rule allows; signed answers carry the CORS headers
//! of the rule they match. The last test runs the whole exchange in headless Chromium.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::common::raw::{self, RawResponse};
use crate::common::{Server, TestEnv, assert_s3_err, create_bucket, get, put, sign};

const APP: &str = "https://app.clinic.example";

fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
    let mut rule = CorsRule::builder()
        .id("app")
        .expose_headers("ETag")
        .max_age_seconds(600);
    for o in origins {
        rule = rule.allowed_origins(*o);
    }
    for m in methods {
        rule = rule.allowed_methods(*m);
    }
    for h in headers {
        rule = rule.allowed_headers(*h);
    }
    rule.build().unwrap()
}

async fn put_rules(s3: &Client, bucket: &str, rules: Vec<CorsRule>) {
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn preflight(
    server: &Server,
    path: &str,
    origin: Option<&str>,
    method: Option<&str>,
    headers: Option<&str>,
) -> RawResponse {
    let mut sent = Vec::new();
    if let Some(origin) = origin {
        sent.push(("Origin", origin));
    }
    if let Some(method) = method {
        sent.push(("Access-Control-Request-Method", method));
    }
    if let Some(headers) = headers {
        sent.push(("Access-Control-Request-Headers", headers));
    }
    raw::request(server.addr, "OPTIONS", path, &sent, b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_cors_is_put_read_back_checked_and_deleted() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "app-uploads").await;

    let err = s3.get_bucket_cors().bucket("app-uploads").send().await;
    assert_s3_err(err, 404, Some("NoSuchCORSConfiguration"));

    let rules = vec![
        rule(&[APP], &["PUT", "GET"], &["content-type", "x-amz-*"]),
        rule(&["*"], &["HEAD"], &[]),
    ];
    put_rules(&s3, "app-uploads", rules.clone()).await;
    let got = s3
        .get_bucket_cors()
        .bucket("app-uploads")
        .send()
        .await
        .unwrap();
    assert_eq!(got.cors_rules(), rules.as_slice());

    // AWS's checks: an unsupported method, two wildcards in an origin or a header, a
    // wildcard in an exposed header. Each leaves the stored rules as they were.
    let mut bad_expose = rule(&[APP], &["GET"], &[]);
    bad_expose.expose_headers = Some(vec!["*".to_owned()]);
    for bad in [
        rule(&[APP], &["PATCH"], &[]),
        rule(&["https://*.clinic.*"], &["GET"], &[]),
        rule(&[APP], &["GET"], &["x-*-*"]),
        bad_expose,
    ] {
        let err = s3
            .put_bucket_cors()
            .bucket("app-uploads")
            .cors_configuration(
                CorsConfiguration::builder()
                    .cors_rules(bad)
                    .build()
                    .unwrap(),
            )
            .send()
            .await;
        assert_s3_err(err, 400, Some("InvalidRequest"));
    }
    let too_many = (0..101).map(|_| rule(&[APP], &["GET"], &[])).collect();
    let err = s3
        .put_bucket_cors()
        .bucket("app-uploads")
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(too_many))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_s3_err(err, 400, Some("InvalidRequest"));
    let still = s3
        .get_bucket_cors()
        .bucket("app-uploads")
        .send()
        .await
        .unwrap();
    assert_eq!(still.cors_rules(), rules.as_slice());

    let err = s3
        .put_bucket_cors()
        .bucket("no-such-bucket")
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule(&[APP], &["GET"], &[]))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_s3_err(err, 404, Some("NoSuchBucket"));

    s3.delete_bucket_cors()
        .bucket("app-uploads")
        .send()
        .await
        .unwrap();
    let err = s3.get_bucket_cors().bucket("app-uploads").send().await;
    assert_s3_err(err, 404, Some("NoSuchCORSConfiguration"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_reveal_nothing_a_rule_does_not_allow() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "app-uploads").await;
    create_bucket(&s3, "no-rules").await;
    put(&s3, "app-uploads", "scan.jpg", b"a scan").await;
    put_rules(
        &s3,
        "app-uploads",
        vec![rule(&[APP], &["PUT", "GET"], &["content-type", "x-amz-*"])],
    )
    .await;

    // Allowed: the rule's methods, the headers asked for, what is exposed, for how long.
    let ok = preflight(
        &server,
        "/app-uploads/new-study.jpg",
        Some(APP),
        Some("PUT"),
        Some("Content-Type, X-Amz-Meta-Study"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("access-control-allow-origin"), Some(APP));
    assert_eq!(ok.header("access-control-allow-methods"), Some("PUT, GET"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("content-type, x-amz-meta-study")
    );
    assert_eq!(ok.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert!(ok.body.is_empty());

    // Everything else: one answer, whether or not the bucket or the object exists.
    let denied = [
        (
            "wrong origin",
            "/app-uploads/scan.jpg",
            "https://evil.example",
            "GET",
            None,
        ),
        ("wrong method", "/app-uploads/scan.jpg", APP, "DELETE", None),
        (
            "header not allowed",
            "/app-uploads/scan.jpg",
            APP,
            "PUT",
            Some("authorization"),
        ),
        (
            "no such object",
            "/app-uploads/none.jpg",
            "https://evil.example",
            "GET",
            None,
        ),
        (
            "bucket without rules",
            "/no-rules/scan.jpg",
            APP,
            "GET",
            None,
        ),
        (
            "no such bucket",
            "/no-such-bucket/scan.jpg",
            APP,
            "GET",
            None,
        ),
        ("no bucket at all", "/", APP, "GET", None),
    ];
    let mut answers = Vec::new();
    for (why, path, origin, method, headers) in denied {
        let resp = preflight(&server, path, Some(origin), Some(method), headers).await;
        assert_eq!(resp.status, 403, "{why}: {}", resp.text());
        assert_eq!(resp.s3_code().as_deref(), Some("AccessForbidden"), "{why}");
        assert!(
            resp.header("access-control-allow-origin").is_none(),
            "{why}"
        );
        answers.push((why, without_request_id(&resp.text())));
    }
    for (why, body) in &answers {
        assert_eq!(body, &answers[0].1, "{why} answers differently");
    }

    // What every preflight carries, missing: a 400 that names no bucket.
    let no_origin = preflight(&server, "/app-uploads/a", None, Some("GET"), None).await;
    assert_eq!(no_origin.status, 400);
    assert_eq!(no_origin.s3_code().as_deref(), Some("BadRequest"));
    let no_method = preflight(&server, "/app-uploads/a", Some(APP), None, None).await;
    assert_eq!(no_method.status, 400);

    // Rules deleted: the same 403 as a bucket that never had any.
    s3.delete_bucket_cors()
        .bucket("app-uploads")
        .send()
        .await
        .unwrap();
    let gone = preflight(
        &server,
        "/app-uploads/scan.jpg",
        Some(APP),
        Some("GET"),
        None,
    )
    .await;
    assert_eq!(gone.status, 403);
    assert_eq!(without_request_id(&gone.text()), answers[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_answers_carry_the_matching_rules_headers_and_refusals_none() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "app-uploads").await;
    put(&s3, "app-uploads", "scan.jpg", b"a scan").await;
    put_rules(&s3, "app-uploads", vec![rule(&[APP], &["GET"], &[])]).await;

    let url = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "GET",
        &format!("{}/app-uploads/scan.jpg", server.endpoint),
        Duration::from_secs(300),
        SystemTime::now(),
    );
    let get = raw::request(
        server.addr,
        "GET",
        &url.path_and_query,
        &[("Origin", APP)],
        b"",
    )
    .await;
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(get.header("access-control-allow-origin"), Some(APP));
    assert_eq!(get.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(get.body, b"a scan");

    // Another origin: served (the signature decides), without CORS headers, so its browser
    // does not hand the answer to the page.
    let other = raw::request(
        server.addr,
        "GET",
        &url.path_and_query,
        &[("Origin", "https://evil.example")],
        b"",
    )
    .await;
    assert_eq!(other.status, 200);
    assert!(other.header("access-control-allow-origin").is_none());

    // A refused request never carries them: a bad signature, or a key the URL is not for.
    let (head, signature) = url.path_and_query.split_once("X-Amz-Signature=").unwrap();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    let forged = format!("{head}X-Amz-Signature={flipped}{}", &signature[1..]);
    let refused = raw::request(server.addr, "GET", &forged, &[("Origin", APP)], b"").await;
    assert_eq!(refused.status, 403);
    assert!(refused.header("access-control-allow-origin").is_none());
    // A method the rule does not allow gets none either.
    let head = raw::request(
        server.addr,
        "HEAD",
        &url.path_and_query,
        &[("Origin", APP)],
        b"",
    )
    .await;
    assert!(head.header("access-control-allow-origin").is_none());
}

/// An error body without its request id, which differs on every answer.
fn without_request_id(body: &str) -> String {
    match (body.find("<RequestId>"), body.find("</RequestId>")) {
        (Some(start), Some(end)) => format!("{}{}", &body[..start], &body[end..]),
        _ => body.to_owned(),
    }
}

/// Serves `page` at `/` and reports the query string of the first `GET /report?…` on the
/// returned channel.
fn serve_page(page: String) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // The rest of the head.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (kind, body) = match target.strip_prefix("/report?") {
                Some(report) => {
                    let _ = tx.send(report.to_owned());
                    ("text/plain", String::new())
                }
                None if target == "/" => ("text/html", page.clone()),
                None => ("text/plain", String::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, rx)
}

fn presigned(server: &Server, method: &str, path: &str) -> String {
    let signed = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        method,
        &format!("{}{path}", server.endpoint),
        Duration::from_secs(600),
        SystemTime::now(),
    );
    format!("{}{}", server.endpoint, signed.path_and_query)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_uploads_and_reads_in_a_real_browser() {
    let chromium = "/usr/bin/chromium";
    assert!(
        std::path::Path::new(chromium).exists(),
        "Chromium is needed (scripts/test installs Debian's chromium)"
    );
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "app-uploads").await;
    create_bucket(&s3, "no-rules").await;
    put(&s3, "no-rules", "private.txt", b"not for pages").await;

    let put_url = presigned(&server, "PUT", "/app-uploads/consent.txt");
    let get_url = presigned(&server, "GET", "/app-uploads/consent.txt");
    let denied_url = presigned(&server, "GET", "/no-rules/private.txt");
    let script = format!(
        r"
(async () => {{
  const out = [];
  try {{
    const put = await fetch({put_url:?}, {{ method: 'PUT', body: 'consent form, signed' }});
    out.push('put=' + put.status + ' etag=' + (put.headers.get('ETag') !== null));
    const get = await fetch({get_url:?});
    out.push('get=' + get.status + ' body=' + await get.text());
  }} catch (e) {{
    out.push('error=' + e);
  }}
  try {{
    const denied = await fetch({denied_url:?});
    out.push('denied=read ' + denied.status);
  }} catch (e) {{
    out.push('denied=blocked');
  }}
  await fetch('/report?' + encodeURIComponent(out.join(';')));
}})();
"
    );
    let page = format!("<!doctype html><html><body><script>{script}</script></body></html>");
    // The page's origin differs from the server's by its port.
    let (port, reports) = serve_page(page);
    let origin = format!("http://127.0.0.1:{port}");
    put_rules(
        &s3,
        "app-uploads",
        vec![rule(&[&origin], &["PUT", "GET"], &["*"])],
    )
    .await;

    let profile = env.scratch().join("chromium-profile");
    let mut browser = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("{origin}/"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start Chromium");
    let report = reports.recv_timeout(Duration::from_secs(90));
    let _ = browser.kill();
    let output = browser.wait_with_output().unwrap();
    let report = report.unwrap_or_else(|_| {
        panic!(
            "the page never reported; Chromium said:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let report = percent_decode(&report);
    assert_eq!(
        report, "put=200 etag=true;get=200 body=consent form, signed;denied=blocked",
        "what the page saw"
    );
    // The upload is there for every other client too.
    assert_eq!(
        get(&s3, "app-uploads", "consent.txt").await,
        b"consent form, signed"
    );
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_find_virtual_hosted_buckets() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--domain", "files.clinic.example"]);
    let s3 = server.client();
    create_bucket(&s3, "app-uploads").await;
    put_rules(&s3, "app-uploads", vec![rule(&[APP], &["GET"], &[])]).await;
    let host = format!("app-uploads.files.clinic.example:{}", server.addr.port());
    let ask = |host: String| async move {
        let headers = [
            ("Host", host.as_str()),
            ("Origin", APP),
            ("Access-Control-Request-Method", "GET"),
        ];
        raw::request(server.addr, "OPTIONS", "/scan.jpg", &headers, b"").await
    };
    let ok = ask(host).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("access-control-allow-origin"), Some(APP));
    let other = ask(format!("other.files.clinic.example:{}", server.addr.port())).await;
    assert_eq!(other.status, 403);
}
