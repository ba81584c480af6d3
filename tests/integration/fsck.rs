//! `coffer fsck` on a stopped durable data directory (issue 13): clean after PUTs (plain,
//! multipart, SSE-C) with exit 0; after a chunk is corrupted, one deleted and one orphaned,
//! exit 1 naming each; `--repair` removes the orphan and nothing referenced; and the server
//! restarted on the directory still serves every object fsck did not report. And the
//! online scrub of a running server: a corrupted chunk shows in its metrics and log, by
//! ids only, while the server serves on; `coffer scrub` runs a pass on demand.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;

use crate::common::metrics::{sample, scrape};
use crate::common::{
    ROOT_ACCESS_KEY, ROOT_SECRET_KEY, Server, TestEnv, create_bucket, files_under, fsck, get,
    md5_base64, put, random_bytes,
};

fn chunk_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    let mut files = files_under(&env.data().join("chunks"));
    files.sort();
    files
}

/// The chunk files that appeared since `before`.
fn new_files(env: &TestEnv, before: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    chunk_files(env)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect()
}

#[tokio::test]
async fn fsck_finds_corrupt_missing_and_orphaned_chunks_and_repairs() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;

    // Each victim's chunk files are the ones its PUT added (above 16 KiB: smaller bodies
    // live in the index).
    let before = chunk_files(&env);
    put(&s3, "clinic", "to-corrupt", &random_bytes(20_000)).await;
    let corrupt = new_files(&env, &before);
    let before = chunk_files(&env);
    put(&s3, "clinic", "to-delete", &random_bytes(20_000)).await;
    let delete = new_files(&env, &before);
    assert_eq!((corrupt.len(), delete.len()), (1, 1));

    let good = random_bytes(3000);
    put(&s3, "clinic", "good", &good).await;
    // Multipart: a 5 MiB part and a small one.
    let part1 = random_bytes(5 << 20);
    let part2 = random_bytes(1234);
    let id = s3
        .create_multipart_upload()
        .bucket("clinic")
        .key("big")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut completed = Vec::new();
    for (n, body) in [(1, &part1), (2, &part2)] {
        let etag = s3
            .upload_part()
            .bucket("clinic")
            .key("big")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .to_owned();
        completed.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    s3.complete_multipart_upload()
        .bucket("clinic")
        .key("big")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // SSE-C.
    let customer = random_bytes(32);
    s3.put_object()
        .bucket("clinic")
        .key("secret")
        .body(ByteStream::from(random_bytes(700)))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(base64::engine::general_purpose::STANDARD.encode(&customer))
        .sse_customer_key_md5(md5_base64(&customer))
        .send()
        .await
        .unwrap();
    server.stop();

    let (code, out) = fsck(&env, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("result: clean"), "{out}");
    assert!(out.contains("customer key (SSE-C)"), "{out}");
    assert!(
        !out.contains("clinic") && !out.contains("good"),
        "no names: {out}"
    );

    // Corrupt one, delete one, orphan one (a copy under a name no record uses).
    let mut bytes = std::fs::read(&corrupt[0]).unwrap();
    bytes[5] ^= 0x40;
    std::fs::write(&corrupt[0], bytes).unwrap();
    std::fs::remove_file(&delete[0]).unwrap();
    // In its fan-out folder (the id's first byte), where Coffer would have put it.
    let fan = corrupt[0].parent().unwrap().parent().unwrap().join("ab");
    std::fs::create_dir_all(&fan).unwrap();
    let orphan = fan.join("ab".repeat(32));
    std::fs::copy(&corrupt[0], &orphan).unwrap();
    let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();

    let (code, out) = fsck(&env, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("corrupt chunk {}", name(&corrupt[0]))),
        "{out}"
    );
    assert!(
        out.contains(&format!("missing chunk {}", name(&delete[0]))),
        "{out}"
    );
    assert!(
        out.contains(&format!("orphaned chunk {}", name(&orphan))),
        "{out}"
    );
    assert!(orphan.exists(), "a check changes nothing");

    let (code, out) = fsck(&env, &["--repair"]);
    assert_eq!(code, 1, "corrupt and missing chunks remain: {out}");
    assert!(out.contains("1 orphaned chunk files removed"), "{out}");
    assert!(!orphan.exists());
    assert!(corrupt[0].exists(), "a referenced chunk is never removed");

    let (code, out) = fsck(&env, &["--json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["remaining"], 2, "{out}");

    let server = env.start_durable_known(ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
    let s3 = server.client();
    assert_eq!(get(&s3, "clinic", "good").await, good);
    let mut whole = part1;
    whole.extend_from_slice(&part2);
    assert_eq!(get(&s3, "clinic", "big").await, whole);
}

/// The scrub's metrics once `passes_total` reaches `passes`.
async fn scrubbed(server: &Server, passes: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = scrape(server).await;
        if sample(&text, "coffer_scrub_passes_total").unwrap_or(0) >= passes {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scrub pass: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_online_scrub_finds_a_corrupt_chunk_while_serving() {
    let env = TestEnv::new();
    let server = env.start_durable_with(&[
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ("COFFER_SCRUB_EVERY", "1"),
        ("COFFER_METRICS_LISTEN", "127.0.0.1:0"),
    ]);
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let before = chunk_files(&env);
    let scan = random_bytes(300_000);
    put(&s3, "clinic", "patient-scan-77", &scan).await;
    let bad = new_files(&env, &before);
    assert_eq!(bad.len(), 1);
    let good = random_bytes(1000);
    put(&s3, "clinic", "good", &good).await;

    let text = scrubbed(&server, 1).await;
    assert_eq!(
        sample(&text, "coffer_scrub_findings_total"),
        Some(0),
        "{text}"
    );
    let passes = sample(&text, "coffer_scrub_passes_total").unwrap();

    let mut bytes = std::fs::read(&bad[0]).unwrap();
    bytes[100] ^= 0x10;
    std::fs::write(&bad[0], bytes).unwrap();
    let text = scrubbed(&server, passes + 1).await;
    assert!(
        sample(&text, "coffer_scrub_findings_total").unwrap() >= 1,
        "{text}"
    );
    assert!(
        sample(&text, "coffer_scrub_chunks_verified_total").unwrap() >= 4,
        "{text}"
    );

    // It serves on, and the log names the chunk by id, never the object.
    assert_eq!(get(&s3, "clinic", "good").await, good);
    let log = std::fs::read_to_string(&server.log).unwrap();
    let chunk = bad[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(log.contains("scrub: chunk check failed"), "{log}");
    assert!(log.contains(&chunk), "{log}");
    assert!(!log.contains("patient-scan-77"), "{log}");
}

#[tokio::test]
async fn coffer_scrub_checks_a_running_server_on_demand() {
    let env = TestEnv::new();
    // Scheduled passes off: only the command scrubs.
    let mut server = env.start_durable_with(&[
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ("COFFER_SCRUB_EVERY", "0"),
    ]);
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let before = chunk_files(&env);
    put(&s3, "clinic", "consent-form-12", &random_bytes(200_000)).await;
    let bad = new_files(&env, &before);
    let good = random_bytes(1000);
    put(&s3, "clinic", "good", &good).await;
    let data = env.data();
    let data = data.to_str().unwrap();

    let (code, out, log) = env.run_for_code(&["scrub", "--data", data, "--rate", "0"], &[], b"");
    assert_eq!(code, 0, "{out}{log}");
    assert!(out.contains("scrubbed 2 object versions"), "{out}");
    assert!(out.contains("result: clean"), "{out}");

    let mut bytes = std::fs::read(&bad[0]).unwrap();
    bytes[50] ^= 0x01;
    std::fs::write(&bad[0], bytes).unwrap();
    let (code, out, log) = env.run_for_code(&["scrub", "--data", data, "--json"], &[], b"");
    assert_eq!(code, 1, "{out}{log}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{out}");
    let chunk = bad[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(findings[0]["chunk"], chunk.as_str(), "{out}");
    assert!(!out.contains("consent-form-12"), "names stay out: {out}");
    // It served on through both passes.
    assert_eq!(get(&s3, "clinic", "good").await, good);

    // fsck refuses a running server's directory (exit 2), and scrub a stopped one's.
    let (code, _, log) = env.run_for_code(&["fsck", "--data", data], &[], b"");
    assert_eq!(code, 2, "{log}");
    drop(s3);
    server.stop();
    let (code, _, log) = env.run_for_code(&["scrub", "--data", data], &[], b"");
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("coffer fsck"), "{log}");
}
