//! What ends up on disk: no plaintext body bytes (P3), deduplication and chunk freeing,
//! durability across a restart, ephemeral mode leaving nothing, and start-up refusals (P8).

use std::time::Duration;

use base64::Engine as _;

use crate::common::{
    ROOT_ACCESS_KEY, TestEnv, create_bucket, describe_tree, etag_of, eventually, files_under, get,
    list_all_keys, put, random_bytes, wait_child,
};

/// Needles that must not occur in any file: the marker, its hex and its base64 forms.
fn needles(marker: &[u8]) -> Vec<(String, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![
        ("raw".into(), marker.to_vec()),
        ("hex".into(), hex::encode(marker).into_bytes()),
        ("HEX".into(), hex::encode_upper(marker).into_bytes()),
        // Three alignments, so the marker is found whatever precedes it in the encoded stream.
        (
            "base64".into(),
            b64.encode(marker).trim_end_matches('=').as_bytes().to_vec(),
        ),
        (
            "base64+1".into(),
            b64.encode([b"x".as_slice(), marker].concat()).as_bytes()[4..20].to_vec(),
        ),
        (
            "base64+2".into(),
            b64.encode([b"xy".as_slice(), marker].concat()).as_bytes()[4..20].to_vec(),
        ),
        (
            "base64url".into(),
            b64url.encode(marker).as_bytes().to_vec(),
        ),
    ]
}

#[track_caller]
fn assert_not_in_any_file(dir: &std::path::Path, marker: &[u8]) {
    let files = files_under(dir);
    assert!(!files.is_empty(), "no files under {}", dir.display());
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for (form, needle) in needles(marker) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "P3: {form} form of the marker found in {}",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_body_marker_never_appears_in_any_file_of_the_data_dir() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;

    let marker = b"COFFER-P3-MARKER-4f1c9a-patient-Jane-Doe";
    // Small (may be inline in the index), one chunk, and multi-chunk with the marker at
    // chunk boundaries as well as inside.
    let small = [b"prefix ".as_slice(), marker, b" suffix"].concat();
    let mut medium = marker.repeat(50_000);
    medium.truncate(2 * 1024 * 1024);
    let mut large = random_bytes(9 * 1024 * 1024);
    for at in [
        0,
        4 * 1024 * 1024 - 10,
        8 * 1024 * 1024 - 10,
        large.len() - marker.len(),
    ] {
        large[at..at + marker.len()].copy_from_slice(marker);
    }
    put(&s3, "clinic", "small", &small).await;
    put(&s3, "clinic", "medium", &medium).await;
    put(&s3, "clinic", "large", &large).await;
    // A copy writes through another path.
    s3.copy_object()
        .bucket("clinic")
        .key("copy")
        .copy_source("clinic/medium")
        .send()
        .await
        .unwrap();

    // Acknowledged PUTs are durable: scan while running…
    assert_not_in_any_file(&env.data(), marker);
    // …and after a clean stop (anything flushed on shutdown is covered too).
    let status = server.stop();
    assert!(status.success(), "graceful stop: {status}");
    assert_not_in_any_file(&env.data(), marker);
    // The scan is not vacuous: the data is there and readable after a restart.
    let server = env.start_durable();
    let s3 = server.client();
    assert_eq!(get(&s3, "clinic", "small").await, small);
    assert!(get(&s3, "clinic", "large").await == large);
}

fn chunk_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    files_under(&env.data().join("chunks"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_identical_bodies_stored_once_and_freed_with_last_reference() {
    let env = TestEnv::new();
    let server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "bkt").await;
    let before = chunk_files(&env).len();

    let body = random_bytes(6 * 1024 * 1024);
    put(&s3, "bkt", "first", &body).await;
    let after_first = chunk_files(&env);
    assert!(
        after_first.len() > before,
        "a 6 MiB body wrote no chunk files:\n{}",
        describe_tree(&env.data())
    );
    let bytes_first: u64 = after_first
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    assert!(
        bytes_first >= body.len() as u64,
        "chunk files hold the body"
    );

    put(&s3, "bkt", "second", &body).await;
    assert_eq!(
        chunk_files(&env),
        after_first,
        "the same body under a second key wrote new chunk files"
    );

    s3.delete_object()
        .bucket("bkt")
        .key("first")
        .send()
        .await
        .unwrap();
    assert!(
        get(&s3, "bkt", "second").await == body,
        "shared chunks kept"
    );
    assert_eq!(chunk_files(&env).len(), after_first.len());

    s3.delete_object()
        .bucket("bkt")
        .key("second")
        .send()
        .await
        .unwrap();
    // Freeing may run just after the delete is acknowledged: poll, do not sleep and hope.
    let freed = eventually(Duration::from_secs(10), || {
        chunk_files(&env).len() == before
    })
    .await;
    assert!(
        freed,
        "chunk files left after the last reference went:\n{}",
        describe_tree(&env.data().join("chunks"))
    );

    // Different bytes are not deduplicated by accident.
    let other = random_bytes(6 * 1024 * 1024);
    put(&s3, "bkt", "x", &body).await;
    let n = chunk_files(&env).len();
    put(&s3, "bkt", "y", &other).await;
    assert!(chunk_files(&env).len() > n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_durable_mode_keeps_every_object_bytes_and_etags() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "keep").await;
    create_bucket(&s3, "also").await;

    let mut objects: Vec<(String, String, Vec<u8>)> = vec![
        ("keep".into(), "empty".into(), Vec::new()),
        ("keep".into(), "small.txt".into(), b"small".to_vec()),
        (
            "keep".into(),
            "dir/big.bin".into(),
            random_bytes(9 * 1024 * 1024 + 1),
        ),
        ("also".into(), "ü key with space".into(), random_bytes(1000)),
    ];
    for (b, k, body) in &objects {
        put(&s3, b, k, body).await;
    }
    s3.put_object()
        .bucket("keep")
        .key("meta")
        .content_type("image/png")
        .metadata("patient", "p-7")
        .body(b"png".to_vec().into())
        .send()
        .await
        .unwrap();
    objects.push(("keep".into(), "meta".into(), b"png".to_vec()));
    s3.delete_object()
        .bucket("keep")
        .key("small.txt")
        .send()
        .await
        .unwrap();
    objects.retain(|(_, k, _)| k != "small.txt");

    let status = server.stop();
    assert!(status.success(), "graceful stop: {status}");
    drop(server);
    assert!(
        !env.data().join("master.key").exists() && env.data().join("unlockers").is_file(),
        "first start with a key seals the master key under it (issue 17)"
    );

    let server = env.start_durable();
    let s3 = server.client();
    let mut buckets = crate::common::bucket_names(&s3).await;
    buckets.sort();
    assert_eq!(buckets, ["also", "keep"]);
    assert_eq!(
        list_all_keys(&s3, "keep").await,
        ["dir/big.bin", "empty", "meta"]
    );
    for (b, k, body) in &objects {
        let out = s3.get_object().bucket(b).key(k).send().await.unwrap();
        assert_eq!(out.e_tag(), Some(etag_of(body).as_str()), "{b}/{k} ETag");
        let got = out.body.collect().await.unwrap().to_vec();
        assert!(&got == body, "{b}/{k} bytes after restart");
    }
    let head = s3
        .head_object()
        .bucket("keep")
        .key("meta")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("patient"))
            .map(String::as_str),
        Some("p-7")
    );
    // And it still accepts writes.
    put(&s3, "keep", "after", b"restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p8_generated_credentials_shown_once_and_persist() {
    let env = TestEnv::new();
    let mut first = env.start_durable_with(&[]);
    let (ak, sk) = (first.access_key.clone(), first.secret_key.clone());
    assert!(sk.len() >= 16, "generated secret is strong");
    let s3 = first.client();
    create_bucket(&s3, "bkt").await;
    let status = first.stop();
    assert!(status.success());
    drop(first);

    // On disk the secret is sealed, never in clear.
    for f in files_under(&env.data()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !bytes.windows(sk.len()).any(|w| w == sk.as_bytes()),
            "P8/P3: root secret in clear in {}",
            f.display()
        );
    }

    let mut second = env.start_durable_known(&ak, &sk);
    let s3 = second.client();
    assert_eq!(crate::common::bucket_names(&s3).await, ["bkt"]);
    let lines = second.drain_stdout().join("\n");
    assert!(
        !lines.contains(&sk) && !lines.contains("AWS_SECRET_ACCESS_KEY"),
        "the secret is shown only at the first start:\n{lines}"
    );
    assert!(
        !std::fs::read_to_string(&second.log)
            .unwrap_or_default()
            .contains(&sk),
        "P6: secret in the server log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_mode_leaves_nothing_behind_after_sigterm() {
    let env = TestEnv::new();
    let mut server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "tmp").await;
    put(&s3, "tmp", "big", &random_bytes(9 * 1024 * 1024)).await;
    put(&s3, "tmp", "small", b"small").await;

    // The test is not vacuous: the server's temp data lives in our TMPDIR while it runs.
    let during: Vec<String> = std::fs::read_dir(env.tmp())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        during.iter().any(|n| n.starts_with("coffer-ephemeral-")),
        "expected a coffer-ephemeral-* dir in TMPDIR, found {during:?}"
    );

    let status = server.stop();
    assert!(status.success(), "graceful stop: {status}");
    let left: Vec<String> = std::fs::read_dir(env.tmp())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "ephemeral mode left {left:?} in TMPDIR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p8_root_secret_shorter_than_16_chars_is_refused_at_start() {
    let env = TestEnv::new();
    let data = env.data();
    let data = data.to_str().unwrap();
    let short = "fifteen-chars!!"; // 15 characters
    assert_eq!(short.len(), 15);
    let (mut cmd, log) = env.command(
        &["serve", "--data", data, "--listen", "127.0.0.1:0"],
        &[
            ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
            ("COFFER_ROOT_SECRET_KEY", short),
        ],
    );
    let mut child = cmd.spawn().unwrap();
    let status = wait_child(&mut child, Duration::from_secs(20));
    assert!(!status.success(), "a 15-character secret was accepted");
    let stderr = std::fs::read_to_string(&log).unwrap();
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("secret") && lower.contains("16"),
        "stderr should name the secret and the 16-character minimum:\n{stderr}"
    );
    assert!(!stderr.contains(short), "P6: the rejected secret is echoed");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(
        !stdout.contains("AWS_ENDPOINT_URL"),
        "it must not serve: {stdout}"
    );

    // 16 characters is enough.
    let ok_secret = "sixteen-chars!!!";
    assert_eq!(ok_secret.len(), 16);
    let server = env.start_durable_with(&[
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ok_secret),
    ]);
    server.client().list_buckets().send().await.unwrap();
}

/// Regression: the first start of a data directory that does not exist yet
/// failed, because the key file was created before the directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_a_missing_data_dir_privately() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::new();
    let data = env.root().join("not/yet/there");
    let data_arg = data.to_str().expect("utf-8 path");
    let server = env.start(
        &["serve", "--data", data_arg, "--listen", "127.0.0.1:0"],
        &[],
        &crate::common::Expect::PrintedCredentials,
    );
    let s3 = server.client();
    create_bucket(&s3, "fresh").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("unlockers")), 0o600, "unlockers");
}
