//! Stock clients work unchanged: the aws CLI and boto3, configured only through the
//! `AWS_*` lines the server prints.
//!
//! These tools are required (CI installs them). Set `COFFER_TEST_ALLOW_SKIP=1` to skip a test
//! whose tool is missing instead of failing it.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{Server, TestEnv, etag_of, random_bytes};

pub(crate) fn allow_skip() -> bool {
    std::env::var("COFFER_TEST_ALLOW_SKIP").is_ok_and(|v| v == "1")
}

/// `true` if the tool works; otherwise skip (with a reason) or fail.
pub(crate) fn require(what: &str, program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            allow_skip(),
            "{what} is not available (`{program} {}` failed); install it (`pip install awscli boto3`) \
             or set COFFER_TEST_ALLOW_SKIP=1",
            args.join(" ")
        );
        eprintln!("SKIPPED: {what} not available and COFFER_TEST_ALLOW_SKIP=1");
    }
    ok
}

/// A command that sees only the server's `AWS_*` env and an empty config/HOME.
pub(crate) fn tool(env: &TestEnv, server: &Server, program: &str) -> Command {
    let empty = env.home().join("empty-aws-config");
    // Both tools presign with SigV2 unless told otherwise, and Coffer refuses
    // SigV2 (P1); this is the one setting a user has to make.
    std::fs::write(&empty, "[default]\ns3 =\n    signature_version = s3v4\n").unwrap();
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k.starts_with("BOTO") {
            cmd.env_remove(&k);
        }
    }
    // pyenv shims find their root through HOME unless PYENV_ROOT says otherwise.
    if std::env::var_os("PYENV_ROOT").is_none()
        && let Some(home) = std::env::var_os("HOME")
    {
        let root = Path::new(&home).join(".pyenv");
        if root.is_dir() {
            cmd.env("PYENV_ROOT", root);
        }
    }
    cmd.envs(server.aws_env())
        .env("HOME", env.home())
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "");
    cmd
}

#[track_caller]
pub(crate) fn run_ok(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn aws(env: &TestEnv, server: &Server, args: &[&str]) -> Output {
    let mut cmd = tool(env, server, "aws");
    cmd.args(args);
    run_ok(cmd)
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_round_trip_mb_cp_ls_head_presign_rm() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let scratch = env.scratch();

    // Below the CLI's 8 MiB multipart threshold (multipart is a later issue).
    let body = random_bytes(5 * 1024 * 1024 + 3);
    let up = scratch.join("upload.bin");
    std::fs::write(&up, &body).unwrap();
    let down = scratch.join("download.bin");

    aws(&env, &server, &["s3", "mb", "s3://cli-bucket"]);
    aws(
        &env,
        &server,
        &[
            "s3",
            "cp",
            path_str(&up),
            "s3://cli-bucket/scans/upload.bin",
        ],
    );
    let ls = aws(&env, &server, &["s3", "ls", "s3://cli-bucket/scans/"]);
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(
        ls.contains("upload.bin") && ls.contains(&body.len().to_string()),
        "ls: {ls}"
    );
    let ls = aws(&env, &server, &["s3", "ls"]);
    assert!(String::from_utf8_lossy(&ls.stdout).contains("cli-bucket"));

    let head = aws(
        &env,
        &server,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "cli-bucket",
            "--key",
            "scans/upload.bin",
        ],
    );
    let head = String::from_utf8_lossy(&head.stdout);
    let etag_json = etag_of(&body).replace('"', "\\\"");
    assert!(head.contains(&etag_json), "head-object ETag: {head}");
    assert!(
        head.contains(&format!("\"ContentLength\": {}", body.len())),
        "{head}"
    );

    aws(
        &env,
        &server,
        &[
            "s3",
            "cp",
            "s3://cli-bucket/scans/upload.bin",
            path_str(&down),
        ],
    );
    assert!(
        std::fs::read(&down).unwrap() == body,
        "downloaded bytes differ"
    );

    let url = aws(
        &env,
        &server,
        &[
            "s3",
            "presign",
            "s3://cli-bucket/scans/upload.bin",
            "--expires-in",
            "300",
        ],
    );
    let url = String::from_utf8_lossy(&url.stdout).trim().to_owned();
    let pq = crate::common::raw::path_and_query(&url);
    let resp = crate::common::raw::request(server.addr, "GET", &pq, &[], b"").await;
    assert_eq!(resp.status, 200, "presigned GET: {}", resp.text());
    assert!(resp.body == body);

    aws(
        &env,
        &server,
        &["s3", "rm", "s3://cli-bucket/scans/upload.bin"],
    );
    let ls = aws(&env, &server, &["s3", "ls", "s3://cli-bucket/"]);
    assert!(String::from_utf8_lossy(&ls.stdout).trim().is_empty());
    aws(&env, &server, &["s3", "rb", "s3://cli-bucket"]);
    assert!(
        crate::common::bucket_names(&server.client())
            .await
            .is_empty()
    );

    // Without credentials the CLI gets 403, not data.
    let mut cmd = tool(&env, &server, "aws");
    cmd.args(["s3", "ls", "--no-sign-request"]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "unsigned CLI request succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AccessDenied") || err.contains("403"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_round_trip() {
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/integration/py/boto3_roundtrip.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script);
    let out = run_ok(cmd);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 round trip ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        crate::common::bucket_names(&server.client())
            .await
            .is_empty()
    );
}
