//! Browser form uploads (POST Object): accepted only with a valid SigV4-signed policy whose
//! conditions all hold; everything else is refused and stores nothing. Because s3s reads the
//! whole form into memory before it can check the signature inside, a form above the cap is
//! refused from its headers alone, quickly and without the server's memory growing.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::clients::{require, run_ok, tool};
use crate::common::raw::{self, RawOutcome};
use crate::common::{TestEnv, create_bucket, put, rss};
use crate::public_access::{assert_still_private, snapshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_presigned_post_forms_are_checked_against_their_policy() {
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "forms").await;
    create_bucket(&s3, "other").await;

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/integration/py/boto3_post_form.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script);
    let out = run_ok(cmd);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 post form ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_still_private(&server, "forms", "uploads/note.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_unsigned_forms_are_refused_quickly_without_buffering() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "forms").await;
    put(&s3, "forms", "kept.txt", b"kept").await;
    let before = snapshot(&server).await;
    let rss_before = rss(server.pid());

    // 1 GiB announced, nothing sent: refused from the headers alone.
    let started = Instant::now();
    let head = raw::request_head(
        server.addr,
        "POST",
        "/forms",
        &[
            ("Content-Type", "multipart/form-data; boundary=xyz"),
            ("Content-Length", "1073741824"),
        ],
    );
    let resp = match raw::exchange(server.addr, &head, false, false).await {
        RawOutcome::Response(r) => r,
        RawOutcome::Closed { bytes } => panic!("no response ({} bytes)", bytes.len()),
    };
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("EntityTooLarge"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refusal took {:?}",
        started.elapsed()
    );

    // Without a length, a form is refused too (it could be endless).
    let head = raw::request_head(
        server.addr,
        "POST",
        "/forms",
        &[
            ("Content-Type", "multipart/form-data; boundary=xyz"),
            ("Transfer-Encoding", "chunked"),
        ],
    );
    if let RawOutcome::Response(r) = raw::exchange(server.addr, &head, true, false).await {
        assert_eq!(r.status, 411, "{}", r.text());
    }

    // An unsigned form within the cap is read, then refused: 403, nothing stored.
    let file = vec![b'a'; 4 << 20];
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nanon.txt\r\n\
          --xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n",
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(b"\r\n--xyz--\r\n");
    let resp = raw::request(
        server.addr,
        "POST",
        "/forms",
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        &body,
    )
    .await;
    assert_eq!(resp.status, 403, "{}", resp.text());

    let grown = rss(server.pid()).saturating_sub(rss_before);
    assert!(
        grown < 64 << 20,
        "server memory grew by {} MiB",
        grown >> 20
    );
    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "forms", "kept.txt").await;
}
