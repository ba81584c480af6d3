//! Modern clients with their default checksum behaviour, on multipart-sized files: boto3
//! `upload_file`/`download_file` with threads (both `request_checksum_calculation` modes,
//! presigned PUTs with and without a checksum), `aws s3 cp` of a 40 MiB file,
//! `aws s3api put-object --checksum-algorithm` for every algorithm, and aws-sdk-s3 with
//! `WhenRequired`. Each compares bytes after download.

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::clients::{aws, path_str, require, run_ok, tool};
use crate::common::{Server, TestEnv, create_bucket, get, random_bytes};

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_multipart_transfers_and_presigned_puts() {
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/integration/py/boto3_multipart.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script).arg(env.scratch()).arg("40");
    let out = run_ok(cmd);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 multipart ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_cp_40_mib_multipart() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let scratch = env.scratch();
    let body = random_bytes(40 * MIB + 5);
    let up = scratch.join("up.bin");
    std::fs::write(&up, &body).unwrap();
    let down = scratch.join("down.bin");
    aws(&env, &server, &["s3", "mb", "s3://cli-mpu"]);
    aws(
        &env,
        &server,
        &["s3", "cp", path_str(&up), "s3://cli-mpu/big.bin"],
    );
    let head = aws(
        &env,
        &server,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "cli-mpu",
            "--key",
            "big.bin",
        ],
    );
    let head = String::from_utf8_lossy(&head.stdout);
    // The CLI uses 8 MiB parts: 6 of them.
    assert!(head.contains("-6\\\""), "not a multipart ETag: {head}");
    aws(
        &env,
        &server,
        &["s3", "cp", "s3://cli-mpu/big.bin", path_str(&down)],
    );
    assert!(
        std::fs::read(&down).unwrap() == body,
        "downloaded bytes differ"
    );
    // No upload is left behind.
    let uploads = aws(
        &env,
        &server,
        &["s3api", "list-multipart-uploads", "--bucket", "cli-mpu"],
    );
    assert!(
        !String::from_utf8_lossy(&uploads.stdout).contains("UploadId"),
        "{}",
        String::from_utf8_lossy(&uploads.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_put_object_with_each_checksum_algorithm() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let scratch = env.scratch();
    let body = random_bytes(300_000);
    let up = scratch.join("up.bin");
    std::fs::write(&up, &body).unwrap();
    aws(&env, &server, &["s3", "mb", "s3://cli-sums"]);
    let s3 = server.client();
    for (alg, field) in [
        ("CRC32", "ChecksumCRC32"),
        ("CRC32C", "ChecksumCRC32C"),
        ("CRC64NVME", "ChecksumCRC64NVME"),
        ("SHA1", "ChecksumSHA1"),
        ("SHA256", "ChecksumSHA256"),
    ] {
        let key = format!("obj-{alg}");
        let mut cmd = tool(&env, &server, "aws");
        cmd.args([
            "s3api",
            "put-object",
            "--bucket",
            "cli-sums",
            "--key",
            &key,
            "--body",
            path_str(&up),
            "--checksum-algorithm",
            alg,
        ]);
        let out = cmd.output().unwrap();
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            // awscli v1 without the CRT cannot compute CRC32C/CRC64NVME itself.
            assert!(
                (alg == "CRC32C" || alg == "CRC64NVME") && err.contains("crt"),
                "put-object --checksum-algorithm {alg}: {err}"
            );
            eprintln!("SKIPPED {alg}: this aws CLI needs awscrt for it");
            continue;
        }
        let head = aws(
            &env,
            &server,
            &[
                "s3api",
                "head-object",
                "--bucket",
                "cli-sums",
                "--key",
                &key,
                "--checksum-mode",
                "ENABLED",
            ],
        );
        let head = String::from_utf8_lossy(&head.stdout);
        assert!(head.contains(field), "{alg}: {head}");
        assert!(
            get(&s3, "cli-sums", &key).await == body,
            "{alg}: bytes differ"
        );
    }
}

fn when_required_client(server: &Server) -> Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let cfg = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(&server.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            &server.access_key,
            &server.secret_key,
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .http_client(http)
        .build();
    Client::from_conf(cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_when_required_and_default_multipart() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    for (name, s3) in [
        ("default", server.client()),
        ("when-required", when_required_client(&server)),
    ] {
        let bucket = format!("sdk-{name}");
        create_bucket(&s3, &bucket).await;
        let parts = [random_bytes(6 * MIB), random_bytes(MIB + 1)];
        let id = s3
            .create_multipart_upload()
            .bucket(&bucket)
            .key("k")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
        let mut done = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = i32::try_from(i + 1).unwrap();
            let e = s3
                .upload_part()
                .bucket(&bucket)
                .key("k")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(p.clone()))
                .send()
                .await
                .unwrap()
                .e_tag()
                .unwrap()
                .to_owned();
            done.push(CompletedPart::builder().part_number(n).e_tag(e).build());
        }
        s3.complete_multipart_upload()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(get(&s3, &bucket, "k").await == parts.concat(), "{name}");
        let small = random_bytes(70_000);
        s3.put_object()
            .bucket(&bucket)
            .key("small")
            .body(ByteStream::from(small.clone()))
            .send()
            .await
            .unwrap();
        assert!(get(&s3, &bucket, "small").await == small, "{name}");
    }
}

/// A command for rclone or s3cmd with an empty HOME.
fn plain(env: &TestEnv, program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        // A CA bundle from the developer's environment makes rclone refuse plain HTTP.
        if k.starts_with("AWS_") || k.starts_with("RCLONE_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("HOME", env.home());
    cmd
}

fn write_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("big.bin".to_owned(), random_bytes(23 * MIB + 11)),
        ("nested/small.txt".to_owned(), b"consent form".to_vec()),
        ("nested/empty".to_owned(), Vec::new()),
    ];
    for (name, body) in &files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rclone_copy_and_check_multipart() {
    if !require("rclone", "rclone", &["version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let scratch = env.scratch();
    let src = scratch.join("src");
    let files = write_tree(&src);
    let down = scratch.join("down");
    let conf = scratch.join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[coffer]\ntype = s3\nprovider = Other\naccess_key_id = {}\nsecret_access_key = {}\n\
             endpoint = {}\nregion = us-east-1\nforce_path_style = true\n",
            server.access_key, server.secret_key, server.endpoint
        ),
    )
    .unwrap();
    let rclone = |args: &[&str]| {
        let mut cmd = plain(&env, "rclone");
        cmd.arg("--config").arg(&conf).args(args);
        run_ok(cmd)
    };
    rclone(&["mkdir", "coffer:rcl"]);
    // 5 MiB parts, 4 at a time: the 23 MiB file is a 5-part upload.
    let flags = [
        "--s3-upload-cutoff",
        "5M",
        "--s3-chunk-size",
        "5M",
        "--s3-upload-concurrency",
        "4",
    ];
    let mut args = vec!["copy", path_str(&src), "coffer:rcl/tree"];
    args.extend(flags);
    rclone(&args);
    rclone(&["check", path_str(&src), "coffer:rcl/tree"]);
    rclone(&["copy", "coffer:rcl/tree", path_str(&down)]);
    for (name, body) in &files {
        assert!(
            std::fs::read(down.join(name)).unwrap() == *body,
            "{name}: bytes differ after rclone round trip"
        );
    }
    let head = server
        .client()
        .head_object()
        .bucket("rcl")
        .key("tree/big.bin")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().ends_with("-5\""),
        "{:?}",
        head.e_tag()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3cmd_put_get_multipart() {
    if !require("s3cmd", "s3cmd", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let scratch = env.scratch();
    let body = random_bytes(17 * MIB + 3);
    let up = scratch.join("scan.bin");
    std::fs::write(&up, &body).unwrap();
    let down = scratch.join("scan.down");
    let host = server.addr.to_string();
    let conf = scratch.join("s3cfg");
    std::fs::write(
        &conf,
        format!(
            "[default]\naccess_key = {}\nsecret_key = {}\nhost_base = {host}\nhost_bucket = {host}\n\
             use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n\
             multipart_chunk_size_mb = 5\n",
            server.access_key, server.secret_key
        ),
    )
    .unwrap();
    let s3cmd = |args: &[&str]| {
        let mut cmd = plain(&env, "s3cmd");
        cmd.arg("-c").arg(&conf).args(args);
        run_ok(cmd)
    };
    s3cmd(&["mb", "s3://scm"]);
    s3cmd(&["put", path_str(&up), "s3://scm/scan.bin"]);
    s3cmd(&["get", "s3://scm/scan.bin", path_str(&down)]);
    assert!(std::fs::read(&down).unwrap() == body, "s3cmd bytes differ");
    let head = server
        .client()
        .head_object()
        .bucket("scm")
        .key("scan.bin")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().ends_with("-4\""),
        "{:?}",
        head.e_tag()
    );
    let ls = s3cmd(&["ls", "s3://scm"]);
    assert!(String::from_utf8_lossy(&ls.stdout).contains("scan.bin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_presigned_put_with_and_without_checksum() {
    use aws_sdk_s3::presigning::PresigningConfig;
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "presign").await;
    let body = random_bytes(150_000);
    let crc = crate::common::sign::crc32_b64(&body);
    let wrong = crate::common::sign::crc32_b64(b"other");
    let expires = PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap();

    for (key, checksum, want) in [
        ("plain", None, 200),
        ("with-crc", Some(crc.as_str()), 200),
        ("bad-crc", Some(wrong.as_str()), 400),
    ] {
        let presigned = s3
            .put_object()
            .bucket("presign")
            .key(key)
            .set_checksum_crc32(checksum.map(str::to_owned))
            .presigned(expires.clone())
            .await
            .unwrap();
        let pq = crate::common::raw::path_and_query(presigned.uri());
        let headers: Vec<(&str, &str)> = presigned.headers().collect();
        let resp = crate::common::raw::request(server.addr, "PUT", &pq, &headers, &body).await;
        assert_eq!(resp.status, want, "{key}: {}", resp.text());
        if want == 200 {
            assert!(
                get(&s3, "presign", key).await == body,
                "{key}: bytes differ"
            );
        } else {
            crate::common::assert_s3_err(
                s3.head_object().bucket("presign").key(key).send().await,
                404,
                None,
            );
        }
    }
    let head = s3
        .head_object()
        .bucket("presign")
        .key("with-crc")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc.as_str()));
}
