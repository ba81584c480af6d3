//! The audit trail (issue 11): every request a durable server answers — signed, presigned,
//! anonymous and refused, S3 and IAM — leaves exactly one record, in order, with its
//! caller and status; `coffer audit verify` checks the chain on the stopped directory (and
//! a checkpoint from the server log), and names the record a flipped byte altered; and the
//! trail holds names only sealed: no bucket, key or user name is in clear anywhere the
//! server writes.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use serde_json::Value;

use crate::clients::require;
use crate::common::iam_cli::{aws_ok, put_user_policy, user_with_key};
use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::sign::sign_v4_service;
use crate::common::{ROOT_ACCESS_KEY, Server, TestEnv, create_bucket, get, put, raw};

/// `coffer audit <subcommand> --data <env.data()> <rest…>`: (ok, stdout, stderr).
fn audit(env: &TestEnv, subcommand: &str, rest: &[&str]) -> (bool, String, String) {
    let data = env.data();
    let mut args = vec!["audit", subcommand, "--data", data.to_str().unwrap()];
    args.extend_from_slice(rest);
    env.run(&args, &[], b"")
}

/// The records `coffer audit show --json` prints.
fn records(env: &TestEnv) -> Vec<Value> {
    let (ok, stdout, stderr) = audit(env, "show", &["--json"]);
    assert!(ok, "coffer audit show failed: {stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The last checkpoint the server logged.
fn last_checkpoint(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    let cp = text
        .lines()
        .rev()
        .filter(|l| l.contains("audit checkpoint"))
        .filter_map(|l| l.split("checkpoint=").nth(1))
        .find_map(|rest| rest.split_whitespace().next());
    cp.unwrap_or_else(|| panic!("no audit checkpoint in the server log:\n{text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_recorded_in_order_sealed_and_verifiable() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    let bucket = marker("bkt");
    let key = marker("key");
    let big = marker("mpu");
    let user = marker("usr");

    create_bucket(&s3, &bucket).await;
    put(&s3, &bucket, &key, b"a scan").await;
    assert_eq!(get(&s3, &bucket, &key).await, b"a scan");
    let anonymous = raw::request(server.addr, "GET", &format!("/{bucket}/{key}"), &[], b"").await;
    assert_eq!(anonymous.status, 403, "{}", anonymous.text());
    s3.delete_objects()
        .bucket(&bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key(&key).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(&big)
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(&bucket)
        .key(&big)
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(b"one part".to_vec()))
        .send()
        .await
        .unwrap();
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key(&big)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key(&big)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let presigned = raw::request(
        server.addr,
        "GET",
        &raw::path_and_query(url.uri()),
        &[],
        b"",
    )
    .await;
    assert_eq!(presigned.status, 200, "{}", presigned.text());
    aws_ok(
        &env,
        &server,
        None,
        &["iam", "create-user", "--user-name", &user],
    );
    aws_ok(&env, &server, None, &["iam", "list-users"]);
    assert!(server.stop().success());
    let log = server.log.clone();
    drop(server);

    // The harness sends nothing of its own (it waits for the AWS_* lines on stdout), so
    // these are all the requests the server saw.
    let all = records(&env);
    let ops: Vec<&str> = all
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "CreateBucket",
            "PutObject",
            "GetObject",
            "GetObject",
            "DeleteObjects",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
            "GetObject",
            "iam:CreateUser",
            "iam:ListUsers",
        ],
        "{all:#?}"
    );
    let mut last_sequence = 0;
    for (i, r) in all.iter().enumerate() {
        let anonymous = i == 3;
        assert_eq!(r["phase"], "Outcome", "{r}");
        assert_eq!(r["status"], if anonymous { 403 } else { 200 }, "{r}");
        // Changes have an intent record too, folded into their line by `show`.
        let sequence = r["sequence"].as_u64().unwrap();
        assert!(sequence > last_sequence, "{r}");
        last_sequence = sequence;
        assert_eq!(r["source"], "127.0.0.1", "{r}");
        assert_eq!(r["request_id"].as_str().unwrap().len(), 16, "{r}");
        if anonymous {
            assert_eq!(r["user"], "anonymous", "{r}");
            assert!(r["caller"].is_null(), "{r}");
            assert_eq!(r["error_code"], "AccessDenied", "{r}");
        } else {
            assert_eq!(r["user"], "root", "{r}");
            assert_eq!(r["caller"]["access_key"], ROOT_ACCESS_KEY, "{r}");
            assert!(r["error_code"].is_null(), "{r}");
        }
        if i < 9 {
            assert_eq!(r["bucket"], bucket.as_str(), "{r}");
        } else {
            assert!(r["bucket"].is_null(), "{r}");
        }
    }
    for i in [1, 2, 3] {
        assert_eq!(all[i]["key"], key.as_str());
    }
    for i in [5, 6, 7, 8] {
        assert_eq!(all[i]["key"], big.as_str());
    }
    assert!(all[1]["bytes_in"].as_u64().unwrap() >= 6, "{}", all[1]);
    assert_eq!(all[2]["bytes_out"], 6, "{}", all[2]);
    assert_eq!(all[8]["bytes_out"], 8, "{}", all[8]);

    // Filters.
    let (ok, only_anonymous, _) = audit(&env, "show", &["--user", "anonymous", "--status", "403"]);
    assert!(ok);
    assert_eq!(only_anonymous.lines().count(), 1, "{only_anonymous}");
    assert!(only_anonymous.contains("\tanonymous\t-\t127.0.0.1\tGetObject\t"));
    let (ok, iam, _) = audit(&env, "show", &["--op", "iam:CreateUser"]);
    assert!(ok && iam.lines().count() == 1, "{iam}");

    // The chain verifies, and reaches the checkpoint the server logged at shutdown. The
    // seven allowed changes (bucket, PUT, DeleteObjects, the three multipart calls, the
    // new user) each have an intent record before their outcome.
    let checkpoint = last_checkpoint(&log);
    assert!(checkpoint.starts_with("coffer-audit:18:"), "{checkpoint}");
    let (ok, report, stderr) = audit(&env, "verify", &["--checkpoint", &checkpoint]);
    assert!(ok, "verify failed: {stderr}");
    assert!(report.contains("18 records in 1 segments"), "{report}");
    assert!(report.contains(&checkpoint), "{report}");

    // Names are in the trail only sealed (P3).
    assert_no_marker_anywhere(
        &env,
        &[
            ("bucket", bucket.clone()),
            ("key", key.clone()),
            ("multipart key", big.clone()),
            ("user", user.clone()),
        ],
        "after the audited requests",
    );

    // One flipped byte in the last record: verify names segment 1, record 17.
    let segment = env
        .data()
        .join("audit")
        .join("segment-0000000000000001.audit");
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();
    let (ok, _, stderr) = audit(&env, "verify", &[]);
    assert!(!ok, "a flipped byte verified");
    assert!(
        stderr.contains("segment 1, record 17 (sequence 18)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_commands_refuse_a_directory_in_use() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    put_one(&server).await;
    let (ok, _, stderr) = audit(&env, "verify", &[]);
    assert!(!ok && stderr.contains("in use"), "{stderr}");
    assert!(server.stop().success());
    let (ok, report, stderr) = audit(&env, "verify", &[]);
    assert!(ok, "{stderr}");
    // Two changes: an intent and an outcome each.
    assert!(report.contains("audit trail intact: 4 records"), "{report}");
}

async fn put_one(server: &crate::common::Server) {
    let s3 = server.client();
    create_bucket(&s3, "scans").await;
    put(&s3, "scans", "a.jpg", b"x").await;
}

/// Kill -9 in the middle of a stream of writes: every PUT the server acknowledged has its
/// record in the trail afterwards, and the trail still verifies (a record torn by the kill
/// is dropped, never half-read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_loses_no_record_of_an_acknowledged_write() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    let bucket = marker("kil");
    create_bucket(&s3, &bucket).await;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (s3, bucket, acknowledged) = (s3.clone(), bucket.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("w{w}-{i}");
                let sent = s3
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(ByteStream::from(vec![u8::try_from(w).unwrap(); 512]))
                    .send()
                    .await;
                match sent {
                    Ok(_) => acknowledged.lock().unwrap().push(key),
                    Err(_) => break,
                }
            }
        }));
    }
    // Let some writes through, then kill the server mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "writes are not getting through"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for w in writers {
        w.await.unwrap();
    }
    drop(server);

    let recorded: std::collections::HashSet<String> = records(&env)
        .iter()
        // An acknowledged PUT's intent was durable before it committed; its outcome may
        // have died with the server (shown "unfinished").
        .filter(|r| r["operation"] == "PutObject" && (r["status"] == 200 || r["phase"] == "Intent"))
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 40);
    eprintln!(
        "{} acknowledged, {} recorded",
        acknowledged.len(),
        recorded.len()
    );
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|k| !recorded.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged PUTs have no record after the kill: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    let (ok, _, stderr) = audit(&env, "verify", &[]);
    assert!(ok, "the trail does not verify after a kill: {stderr}");
}

/// `--no-audit` (for throwaway servers and benchmarks) keeps no trail at all, and says so
/// in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_audit_keeps_no_trail() {
    let env = TestEnv::new();
    let mut server = env.start_durable_with(&[
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", crate::common::ROOT_SECRET_KEY),
        ("COFFER_NO_AUDIT", "true"),
    ]);
    let s3 = server.client();
    create_bucket(&s3, "quiet").await;
    put(&s3, "quiet", "k", b"x").await;
    assert!(server.stop().success());
    let trail = env.data().join("audit");
    let segments = std::fs::read_dir(&trail).map_or(0, Iterator::count);
    assert_eq!(segments, 0, "a trail was written with --no-audit");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("the audit trail is off"), "{log}");
}

/// `ReadAuditTrail` (service `audit`, signed like IAM): as root `key`, with `params`.
async fn read_trail(server: &Server, key: (&str, &str), params: &str) -> raw::RawResponse {
    let url = format!("http://{}/", server.addr);
    let host = server.addr.to_string();
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let body = format!("Action=ReadAuditTrail&{params}");
    let signed = sign_v4_service(
        "audit",
        key.0,
        key.1,
        "POST",
        &url,
        &headers,
        body.as_bytes(),
    );
    raw::request(
        server.addr,
        "POST",
        &signed.path_and_query,
        &signed.header_refs(),
        body.as_bytes(),
    )
    .await
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// An auditor reads the trail of a RUNNING server over the API, with the filters of
/// `coffer audit show`, given the `audit:ReadAuditTrail` permission; without it, or
/// unsigned, they read nothing. Reading is itself recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_reads_the_trail_of_a_running_server() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_durable();
    let s3 = server.client();
    let bucket = marker("aud");
    create_bucket(&s3, &bucket).await;
    put(&s3, &bucket, "consent-form.pdf", b"scan").await;
    get(&s3, &bucket, "consent-form.pdf").await;
    let root = (server.access_key.as_str(), server.secret_key.as_str());

    let resp = read_trail(&server, root, &format!("Bucket={bucket}")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/x-ndjson"));
    let lines = json_lines(&resp.text());
    let ops: Vec<&str> = lines
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["CreateBucket", "PutObject", "GetObject"],
        "{lines:#?}"
    );
    assert_eq!(lines[1]["key"], "consent-form.pdf");
    assert_eq!(lines[1]["user"], "root");

    let resp = read_trail(&server, root, "Operation=PutObject&Format=text").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let text = resp.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("\tPutObject\t") && text.contains("\tconsent-form.pdf\t"),
        "{text}"
    );

    // A user needs the permission.
    let (id, secret) = user_with_key(&env, &server, "auditor");
    let resp = read_trail(&server, (&id, &secret), "").await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert!(
        resp.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        resp.text()
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"audit:ReadAuditTrail","Resource":"*"}]}"#;
    put_user_policy(&env, &server, "auditor", "read-audit", policy);
    let resp = read_trail(
        &server,
        (&id, &secret),
        &format!("Bucket={bucket}&Key=consent-form.pdf"),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(json_lines(&resp.text()).len(), 2, "{}", resp.text());

    // Unsigned, or with a bad filter: refused, in IAM's format.
    let resp = raw::request(
        server.addr,
        "POST",
        "/",
        &[
            ("Host", "127.0.0.1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"Action=ReadAuditTrail",
    )
    .await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    let resp = read_trail(&server, root, "Since=yesterday").await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.text().contains("<Code>ValidationError</Code>"),
        "{}",
        resp.text()
    );

    // The reads are on record, with who made them (one refused).
    let resp = read_trail(&server, root, "Operation=audit:ReadAuditTrail&User=auditor").await;
    let reads = json_lines(&resp.text());
    let statuses: Vec<u64> = reads
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [403, 200], "{reads:#?}");
}
