//! Coffer as the local S3 of other projects' test suites (issue 15): fixtures at start, a
//! machine-readable ready line, and a throwaway server that never outlives what started it.
//! Guards against a harness that has to scrape lines, fixtures a test must create itself,
//! and a server left running (temp directory and all) after its test run died.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// The next stdout line within a few seconds.
fn next_line(lines: &std::sync::mpsc::Receiver<String>) -> String {
    lines
        .recv_timeout(Duration::from_secs(20))
        .expect("a line on stdout")
}

/// Whether process `pid` is gone (or a zombie waiting for whoever adopted it).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    gone(pid)
}

fn ephemeral_dirs_left(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("coffer-ephemeral-"))
                .collect()
        })
        .unwrap_or_default()
}

fn kill_if_running(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn fixtures_are_ready_and_announced_in_one_json_line_and_stdin_eof_stops_it() {
    let env = TestEnv::new();
    let (mut cmd, _log) = env.command(
        &[
            "serve",
            "--ephemeral",
            "--bucket",
            "photos",
            "--bucket",
            "scans",
            "--users",
            "1",
            "--print-env",
            "json",
        ],
        &[],
    );
    // As a harness starts it: stdin a pipe it holds (so the default ties the server to it).
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn coffer");
    let lines = spawn_line_reader(child.stdout.take().expect("stdout"));
    let ready: serde_json::Value = serde_json::from_str(&next_line(&lines)).expect("JSON");
    let var = |name: &str| {
        ready[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in {ready}"))
            .to_owned()
    };
    let endpoint = var("AWS_ENDPOINT_URL");
    assert_eq!(var("AWS_REGION"), "us-east-1");
    assert!(!var("COFFER_ACCOUNT_ID").is_empty());
    assert_eq!(var("COFFER_USER_1_NAME"), "user1");
    assert!(!var("COFFER_USER_1_SECRET_ACCESS_KEY").is_empty());

    // The buckets were there before the line was printed.
    let s3 = s3_client(
        &endpoint,
        &var("AWS_ACCESS_KEY_ID"),
        &var("AWS_SECRET_ACCESS_KEY"),
        None,
    );
    let listed = s3.list_buckets().send().await.expect("list buckets");
    let mut names: Vec<_> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["photos", "scans"]);
    s3.put_object()
        .bucket("photos")
        .key("k")
        .body(b"fixture".to_vec().into())
        .send()
        .await
        .expect("put into a fixture bucket");
    // The user's key works too (a user owns no bucket and reaches root's only by policy).
    let user = s3_client(
        &endpoint,
        &var("COFFER_USER_1_ACCESS_KEY_ID"),
        &var("COFFER_USER_1_SECRET_ACCESS_KEY"),
        None,
    );
    user.list_buckets()
        .send()
        .await
        .expect("the user's key signs");
    assert!(lines.try_recv().is_err(), "one line only: the JSON object");

    // The harness goes away: its end of the pipe closes.
    let pid = child.id();
    drop(child.stdin.take());
    let status = wait_child(&mut child, Duration::from_secs(15));
    assert!(status.success(), "{status}");
    assert!(gone(pid));
    assert_eq!(ephemeral_dirs_left(&env.tmp()), Vec::<String>::new());
}

#[test]
fn a_server_whose_parent_exits_stops_and_removes_its_temp_directory() {
    let env = TestEnv::new();
    // sh starts the server in the background with sh's own stdin (a pipe this test holds
    // open, so end of file cannot be what stops it), prints its pid and exits: the server
    // is orphaned, as behind a killed wrapper.
    let coffer = env!("CARGO_BIN_EXE_coffer");
    let (mut cmd, _log) = env.command_of(
        Path::new("/bin/sh"),
        &[
            "-c",
            r#"exec 3<&0; "$0" serve --ephemeral --exit-with-parent on --print-env json <&3 3<&- & echo "pid=$!"; sleep 1"#,
            coffer,
        ],
        &[],
    );
    cmd.stdin(Stdio::piped());
    let mut sh = cmd.spawn().expect("spawn sh");
    let mut held = sh.stdin.take().expect("stdin");
    let lines = spawn_line_reader(sh.stdout.take().expect("stdout"));
    let mut pid = None;
    let mut ready = false;
    while pid.is_none() || !ready {
        let line = next_line(&lines);
        match line.strip_prefix("pid=") {
            Some(n) => pid = Some(n.parse::<u32>().expect("pid")),
            None => ready = line.starts_with('{'),
        }
    }
    let pid = pid.expect("pid");
    let status = wait_child(&mut sh, Duration::from_secs(15));
    assert!(status.success(), "{status}");
    let stopped = wait_gone(pid, Duration::from_secs(15));
    // Still holding the pipe: the parent's exit, not end of file, stopped it.
    held.write_all(b"still here\n").ok();
    if !stopped {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        panic!("the orphaned server kept running");
    }
    // Removal follows the exit's cleanup; give a just-reaped process a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ephemeral_dirs_left(&env.tmp()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ephemeral_dirs_left(&env.tmp()), Vec::<String>::new());
    drop(held);
}

#[test]
fn without_a_pipe_on_stdin_the_default_keeps_serving() {
    // Started from a terminal or with stdin from /dev/null (as systemd and `&` do), the
    // default does not tie the server to anything: stdin's end of file means nothing there.
    let env = TestEnv::new();
    let mut server = env.start_ephemeral();
    std::thread::sleep(Duration::from_millis(600));
    assert!(!gone(server.pid()), "it stopped on its own");
    assert!(server.stop().success());
}

#[test]
fn a_bad_fixture_bucket_name_stops_the_start_with_a_clear_error() {
    let env = TestEnv::new();
    let (code, _, log) = env.run_for_code(
        &["serve", "--ephemeral", "--bucket", "Not_A_Bucket"],
        &[],
        b"",
    );
    assert_ne!(code, 0);
    assert!(
        log.contains("--bucket \"Not_A_Bucket\" is not a valid bucket name"),
        "{log}"
    );
    let mut child = env
        .command(&["serve", "--ephemeral", "--print-env", "yaml"], &[])
        .0
        .spawn()
        .expect("spawn");
    let status = wait_child(&mut child, Duration::from_secs(15));
    assert!(!status.success());
    kill_if_running(&mut child);
}

#[tokio::test]
async fn test_credentials_take_a_short_fixed_secret_on_loopback_only() {
    let env = TestEnv::new();
    let weak = [
        ("COFFER_ROOT_ACCESS_KEY", "test"),
        ("COFFER_ROOT_SECRET_KEY", "test"),
    ];
    // Without the flag, as before: refused, naming the variable, not echoing the value.
    let (code, _, log) = env.run_for_code(&["serve", "--ephemeral"], &weak, b"");
    assert_ne!(code, 0);
    assert!(log.contains("COFFER_ROOT_SECRET_KEY"), "{log}");
    // Beyond loopback: refused even with the flag.
    let (code, _, log) = env.run_for_code(
        &[
            "serve",
            "--ephemeral",
            "--test-credentials",
            "--listen",
            "0.0.0.0:0",
            "--insecure-http",
        ],
        &weak,
        b"",
    );
    assert_ne!(code, 0);
    assert!(log.contains("--test-credentials"), "{log}");

    let server = env.start(
        &["serve", "--ephemeral", "--test-credentials"],
        &weak,
        &Expect::Known {
            access_key: "test".into(),
            secret_key: "test".into(),
        },
    );
    let s3 = server.client();
    s3.create_bucket()
        .bucket("fixtures")
        .send()
        .await
        .expect("test/test signs");
    // Still a real signature check: the wrong secret gets AWS's answer.
    let forged = server.client_with_secret("tesT");
    let err = forged.list_buckets().send().await.expect_err("forged");
    assert_eq!(code_of(&err).as_deref(), Some("SignatureDoesNotMatch"));
}

#[tokio::test]
async fn the_container_test_mode_command_serves_fixtures_and_says_when_it_is_ready() {
    // The README's container test mode, flag for flag, with port 0 for 9000: what a
    // container's wait strategy watches (the `serving` log line, /health/ready) and what
    // its tests then use.
    let env = TestEnv::new();
    let (access, secret) = ("ci-access-key", "ci-secret-key-0123456789");
    let server = env.start(
        &[
            "serve",
            "--in-memory",
            "--listen",
            "0.0.0.0:0",
            "--insecure-http",
            "--bucket",
            "fixtures",
        ],
        &[
            ("COFFER_ROOT_ACCESS_KEY", access),
            ("COFFER_ROOT_SECRET_KEY", secret),
        ],
        &Expect::Known {
            access_key: access.into(),
            secret_key: secret.into(),
        },
    );
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(log.contains(" serving "), "{log}");
    let ready = crate::common::raw::request(server.addr, "GET", "/health/ready", &[], b"").await;
    assert_eq!(ready.status, 200);
    let s3 = server.client();
    put(&s3, "fixtures", "k", b"body").await;
    assert_eq!(get(&s3, "fixtures", "k").await, b"body");
}
