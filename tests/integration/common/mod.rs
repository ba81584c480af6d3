//! Harness: start the real `coffer` binary, read its `AWS_*` lines, and drive it.
//!
//! Each test makes its own [`TestEnv`] (a temp dir holding `TMPDIR`, the data dir and the
//! server logs), so tests run in parallel without sharing anything. When a test panics, the
//! env prints every server log it collected.

pub mod hosts;
pub mod iam_cli;
pub mod markers;
pub mod metrics;
pub mod raw;
pub mod remote;
pub mod sign;
pub mod versions;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use md5::{Digest as _, Md5};

/// How long the server may take to print its `AWS_*` lines, or to stop after SIGTERM.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Fixed root credentials for durable-mode tests (secret ≥ 16 characters, as P8 requires).
pub const ROOT_ACCESS_KEY: &str = "COFFERTESTROOTKEY01";
pub const ROOT_SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123";

/// A test's private directory tree plus the logs of every server it started.
pub struct TestEnv {
    dir: tempfile::TempDir,
    logs: Mutex<Vec<PathBuf>>,
    spawned: Mutex<u32>,
    /// The unlocker every command gets as `COFFER_MASTER_KEY` unless a test overrides it
    /// (an empty value means none): a durable data dir needs one (issue 17).
    master_key: String,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("coffer-it-")
            .tempdir()
            .expect("create test dir");
        for sub in ["tmp", "data", "logs", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create test subdir");
        }
        let master_key = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(random_bytes(32))
        };
        Self {
            dir,
            logs: Mutex::new(Vec::new()),
            spawned: Mutex::new(0),
            master_key,
        }
    }

    /// The master key every command of this env gets (`COFFER_MASTER_KEY`), for a copy
    /// of its data directory elsewhere (restore, standby).
    pub fn master_key(&self) -> &str {
        &self.master_key
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The `TMPDIR` given to every server this env starts.
    pub fn tmp(&self) -> PathBuf {
        self.root().join("tmp")
    }

    /// The durable data directory (`--data`).
    pub fn data(&self) -> PathBuf {
        self.root().join("data")
    }

    /// An empty HOME for external clients, so a developer's config cannot interfere.
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// A scratch directory for test files (not the server's TMPDIR, which must stay clean).
    pub fn scratch(&self) -> PathBuf {
        let p = self.root().join("scratch");
        std::fs::create_dir_all(&p).expect("create scratch dir");
        p
    }

    fn next_log(&self) -> PathBuf {
        let mut n = self.spawned.lock().expect("lock");
        *n += 1;
        let path = self
            .root()
            .join("logs")
            .join(format!("server-{n}.stderr.log"));
        self.logs.lock().expect("lock").push(path.clone());
        path
    }

    /// A `coffer` command with a clean environment: no inherited `COFFER_*`, own `TMPDIR`,
    /// stderr going to a fresh log file. Returns the command and the log path.
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> (Command, PathBuf) {
        self.command_of(Path::new(env!("CARGO_BIN_EXE_coffer")), args, envs)
    }

    /// [`TestEnv::command`] running `program` (a wrapper that ends in `exec coffer "$@"`).
    pub fn command_of(
        &self,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> (Command, PathBuf) {
        let log = self.next_log();
        let stderr = std::fs::File::create(&log).expect("create server log");
        let mut cmd = Command::new(program);
        cmd.args(args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("COFFER_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("TMPDIR", self.tmp());
        cmd.env("COFFER_MASTER_KEY", &self.master_key);
        // The server runs with its default log filter (what operators get),
        // unless COFFER_TEST_LOG asks for more while debugging a test.
        cmd.env_remove("RUST_LOG");
        if let Some(filter) = std::env::var_os("COFFER_TEST_LOG") {
            cmd.env("COFFER_LOG", filter);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        (cmd, log)
    }

    /// Runs a `coffer` command to completion with `stdin` as its input; returns whether it
    /// succeeded, its stdout and its stderr.
    pub fn run(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
        stdin: &[u8],
    ) -> (bool, String, String) {
        let (code, stdout, log) = self.run_for_code(args, envs, stdin);
        (code == 0, stdout, log)
    }

    /// [`TestEnv::run`], with the exit code (commands such as fsck give 0, 1 or 2).
    pub fn run_for_code(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
        stdin: &[u8],
    ) -> (i32, String, String) {
        use std::io::Write as _;
        let (mut cmd, log) = self.command(args, envs);
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn coffer");
        let mut input = child.stdin.take().expect("piped stdin");
        input.write_all(stdin).expect("write stdin");
        drop(input);
        let out = child.wait_with_output().expect("wait for coffer");
        (
            out.status.code().expect("exit code"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            std::fs::read_to_string(log).unwrap_or_default(),
        )
    }

    /// `coffer serve --ephemeral --listen 127.0.0.1:0`.
    pub fn start_ephemeral(&self) -> Server {
        self.start_ephemeral_with(&[])
    }

    /// [`TestEnv::start_ephemeral`] with more `serve` flags. With
    /// `COFFER_TEST_STORAGE=in-memory` in the test run's environment, the server runs
    /// `--in-memory` instead: `scripts/test` runs a subset of the suite so, to prove both
    /// modes pass the same round trips.
    pub fn start_ephemeral_with(&self, flags: &[&str]) -> Server {
        let mode = match std::env::var("COFFER_TEST_STORAGE").as_deref() {
            Ok("in-memory") => "--in-memory",
            _ => "--ephemeral",
        };
        let mut args = vec!["serve", mode, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        self.start(&args, &[], &Expect::PrintedCredentials)
    }

    /// `coffer serve --data <env.data()> --listen 127.0.0.1:0` with the fixed root credentials.
    pub fn start_durable(&self) -> Server {
        self.start_durable_with(&[
            ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
            ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ])
    }

    /// Durable mode with the given extra environment. If it does not contain
    /// `COFFER_ROOT_ACCESS_KEY`, the server is expected to print generated credentials
    /// (first start of the data dir) — use [`TestEnv::start_durable_known`] for later starts.
    pub fn start_durable_with(&self, envs: &[(&str, &str)]) -> Server {
        let data = self.data();
        let data = data.to_str().expect("utf-8 path");
        let provided = envs.iter().any(|(k, _)| *k == "COFFER_ROOT_ACCESS_KEY");
        let expect = if provided {
            let ak = envs.iter().find(|(k, _)| *k == "COFFER_ROOT_ACCESS_KEY");
            let sk = envs.iter().find(|(k, _)| *k == "COFFER_ROOT_SECRET_KEY");
            Expect::Known {
                access_key: ak.map(|(_, v)| (*v).to_owned()).unwrap_or_default(),
                secret_key: sk.map(|(_, v)| (*v).to_owned()).unwrap_or_default(),
            }
        } else {
            Expect::PrintedCredentials
        };
        self.start(
            &["serve", "--data", data, "--listen", "127.0.0.1:0"],
            envs,
            &expect,
        )
    }

    /// Durable mode, credentials known from an earlier start (not printed again).
    pub fn start_durable_known(&self, access_key: &str, secret_key: &str) -> Server {
        let data = self.data();
        let data = data.to_str().expect("utf-8 path");
        self.start(
            &["serve", "--data", data, "--listen", "127.0.0.1:0"],
            &[],
            &Expect::Known {
                access_key: access_key.to_owned(),
                secret_key: secret_key.to_owned(),
            },
        )
    }

    pub fn start(&self, args: &[&str], envs: &[(&str, &str)], expect: &Expect) -> Server {
        self.start_program(Path::new(env!("CARGO_BIN_EXE_coffer")), args, envs, expect)
    }

    /// [`TestEnv::start`] through a wrapper `program` that ends in `exec coffer "$@"`.
    pub fn start_program(
        &self,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        expect: &Expect,
    ) -> Server {
        let (mut cmd, log) = self.command_of(program, args, envs);
        let mut child = cmd.spawn().expect("spawn coffer");
        let stdout = child.stdout.take().expect("piped stdout");
        let rx = spawn_line_reader(stdout);
        let mut server = Server {
            child: Some(child),
            stdout_rx: rx,
            stdout_lines: Vec::new(),
            vars: BTreeMap::new(),
            log,
            endpoint: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_key: String::new(),
            secret_key: String::new(),
            region: String::new(),
        };
        server.wait_ready(expect);
        server
    }

    /// Print every server log this env collected (called on failure).
    pub fn dump_logs(&self) {
        let logs = self.logs.lock().map(|l| l.clone()).unwrap_or_default();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!(
                "===== {} ({} bytes) =====\n{text}\n===== end =====",
                log.display(),
                text.len()
            );
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
    }
}

/// What a starting server is expected to print besides endpoint and region.
pub enum Expect {
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` lines (ephemeral, or first durable start).
    PrintedCredentials,
    /// Credentials the test already knows; the server need not print them.
    Known {
        access_key: String,
        secret_key: String,
    },
}

pub fn spawn_line_reader(stdout: std::process::ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        // Keeps draining stdout for the server's whole life, so it never blocks on a full pipe.
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Receiver gone: keep draining anyway.
            }
        }
    });
    rx
}

/// A running `coffer` process.
pub struct Server {
    child: Option<Child>,
    stdout_rx: Receiver<String>,
    /// Every stdout line seen so far.
    pub stdout_lines: Vec<String>,
    /// `KEY=value` pairs parsed from stdout.
    pub vars: BTreeMap<String, String>,
    pub log: PathBuf,
    pub endpoint: String,
    pub addr: SocketAddr,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl Server {
    fn take_line(&mut self, line: String) {
        if let Some((k, v)) = line.trim().split_once('=') {
            let k = k.trim_start_matches("export ").trim();
            let v = v.trim().trim_matches('"').trim_matches('\'');
            self.vars.insert(k.to_owned(), v.to_owned());
        }
        self.stdout_lines.push(line);
    }

    fn wait_ready(&mut self, expect: &Expect) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let have_base =
                self.vars.contains_key("AWS_ENDPOINT_URL") && self.vars.contains_key("AWS_REGION");
            let have_creds = self.vars.contains_key("AWS_ACCESS_KEY_ID")
                && self.vars.contains_key("AWS_SECRET_ACCESS_KEY");
            let ready = match expect {
                Expect::PrintedCredentials => have_base && have_creds,
                Expect::Known { .. } => have_base,
            };
            if ready {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stdout_rx
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) => self.take_line(line),
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(status) = self.try_wait() {
                        self.fail_start(&format!("coffer exited before it was ready: {status}"));
                    }
                    if Instant::now() >= deadline {
                        self.fail_start("coffer did not print its AWS_* lines within 20 s");
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(Duration::from_secs(5));
                    self.fail_start(&format!(
                        "coffer closed stdout before it was ready (exit: {status:?})"
                    ));
                }
            }
        }
        self.endpoint = self.vars["AWS_ENDPOINT_URL"]
            .trim_end_matches('/')
            .to_owned();
        self.region = self.vars["AWS_REGION"].clone();
        match expect {
            Expect::PrintedCredentials => {
                self.access_key = self.vars["AWS_ACCESS_KEY_ID"].clone();
                self.secret_key = self.vars["AWS_SECRET_ACCESS_KEY"].clone();
            }
            Expect::Known {
                access_key,
                secret_key,
            } => {
                self.access_key.clone_from(access_key);
                self.secret_key.clone_from(secret_key);
            }
        }
        let hostport = self
            .endpoint
            .strip_prefix("http://")
            .or_else(|| self.endpoint.strip_prefix("https://"))
            .unwrap_or_else(|| panic!("endpoint is not http(s)://…: {}", self.endpoint));
        self.addr = hostport
            .parse()
            .unwrap_or_else(|e| panic!("endpoint {hostport} is not ip:port: {e}"));
        assert!(self.addr.ip().is_loopback(), "listening on {}", self.addr);
        assert_ne!(self.addr.port(), 0, "port 0 printed");
    }

    fn fail_start(&mut self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "{why}\n--- stdout ---\n{}\n--- stderr ({}) ---\n{log}",
            self.stdout_lines.join("\n"),
            self.log.display()
        );
    }

    /// Lines printed on stdout since start (including any that arrived after readiness).
    pub fn drain_stdout(&mut self) -> &[String] {
        while let Ok(line) = self.stdout_rx.try_recv() {
            self.take_line(line);
        }
        &self.stdout_lines
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Poll until the process exits or `timeout` passes.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process dies at once, with no chance to flush or close anything (a
    /// crash, as far as the data directory can tell).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send SIGTERM and wait (up to 20 s) for a graceful exit. Panics if it does not stop.
    pub fn stop(&mut self) -> ExitStatus {
        sigterm(self.pid());
        if let Some(status) = self.wait_exit(STOP_TIMEOUT) {
            return status;
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("coffer did not exit within 20 s of SIGTERM");
    }

    /// An aws-sdk-s3 client for this server's root credentials (and its region).
    pub fn client(&self) -> Client {
        let cfg = s3_config(&self.endpoint, &self.access_key, &self.secret_key, None)
            .region(Region::new(self.region.clone()));
        Client::from_conf(cfg.build())
    }

    /// A client for plain user `i` of `--users` (1-based), from its printed credentials.
    pub fn user_client(&self, i: usize) -> Client {
        let key = &self.vars[&format!("COFFER_USER_{i}_ACCESS_KEY_ID")];
        let secret = &self.vars[&format!("COFFER_USER_{i}_SECRET_ACCESS_KEY")];
        s3_client(&self.endpoint, key, secret, None)
    }

    /// A client with other credentials (e.g. a wrong secret).
    pub fn client_with_secret(&self, secret: &str) -> Client {
        s3_client(&self.endpoint, &self.access_key, secret, None)
    }

    /// A client whose clock is fixed at `time` (signatures are dated then).
    pub fn client_at(&self, time: std::time::SystemTime) -> Client {
        s3_client(
            &self.endpoint,
            &self.access_key,
            &self.secret_key,
            Some(time),
        )
    }

    /// The environment a CLI/SDK user would `eval` from the printed lines.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().map(Child::id) {
            sigterm(pid);
            if self.wait_exit(Duration::from_secs(10)).is_none()
                && let Some(mut child) = self.child.take()
            {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// SIGTERM through the `kill` command (no libc/nix dependency needed).
pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid} failed");
}

/// Wait for a child that is expected to exit by itself; panics after `timeout`.
pub fn wait_child(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A path-style aws-sdk-s3 client over plain HTTP, with retries off (tests see every error).
pub fn s3_client(
    endpoint: &str,
    access_key: &str,
    secret_key: &str,
    time: Option<std::time::SystemTime>,
) -> Client {
    Client::from_conf(s3_config(endpoint, access_key, secret_key, time).build())
}

/// The configuration of [`s3_client`] (region us-east-1), for a test to change before
/// building: another region, virtual-hosted style, another HTTP client.
pub fn s3_config(
    endpoint: &str,
    access_key: &str,
    secret_key: &str,
    time: Option<std::time::SystemTime>,
) -> aws_sdk_s3::config::Builder {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let mut cfg = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "test"))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .http_client(http);
    if let Some(t) = time {
        cfg = cfg.time_source(aws_smithy_async::time::StaticTimeSource::new(t));
    }
    cfg
}

/// HTTP status of a failed SDK call (0 when there was no response at all).
pub fn status_of<E>(err: &SdkError<E, HttpResponse>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

/// S3 error code of a failed SDK call (`None` if the response had no parsable error).
pub fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .map(str::to_owned)
}

/// Assert an SDK result failed with this status and (if given) this S3 error code.
#[track_caller]
pub fn assert_s3_err<
    T: std::fmt::Debug,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
>(
    res: Result<T, SdkError<E, HttpResponse>>,
    status: u16,
    code: Option<&str>,
) {
    match res {
        Ok(v) => panic!("expected {status} {code:?}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(
                status_of(&e),
                status,
                "status; error: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            );
            if let Some(code) = code {
                assert_eq!(
                    code_of(&e).as_deref(),
                    Some(code),
                    "error code; error: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                );
            }
        }
    }
}

/// `"<hex md5>"`, the ETag S3 gives a single PUT.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(body)))
}

pub fn md5_base64(body: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).expect("getrandom");
    v
}

pub async fn create_bucket(client: &Client, name: &str) {
    client
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create bucket {name}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
}

pub async fn put(client: &Client, bucket: &str, key: &str, body: &[u8]) -> String {
    let out = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "put {key:?} ({} bytes): {}",
                body.len(),
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    out.e_tag().expect("PutObject returns an ETag").to_owned()
}

pub async fn get(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "get {key:?}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    out.body.collect().await.expect("read body").to_vec()
}

/// A multipart upload of `parts` (in order) to `bucket`/`key`, completed; its ETag.
pub async fn put_multipart(client: &Client, bucket: &str, key: &str, parts: &[Vec<u8>]) -> String {
    let upload = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create multipart upload");
    let id = upload.upload_id().expect("an upload id");
    let mut etags = Vec::new();
    for (n, body) in (1..).zip(parts) {
        let part = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()))
            .send()
            .await
            .expect("upload part");
        etags.push(part.e_tag().expect("a part ETag").to_owned());
    }
    let completed = complete_upload(client, bucket, key, id, &etags).await;
    completed.e_tag().expect("an ETag").to_owned()
}

/// Completes upload `id` of `bucket`/`key` with parts 1, 2, … of these ETags.
pub async fn complete_upload(
    client: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    etags: &[String],
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    let parts = (1..)
        .zip(etags)
        .map(|(n, etag)| {
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(etag)
                .build()
        })
        .collect();
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete multipart upload")
}

/// Every key in the bucket, via ListObjectsV2 paging.
pub async fn list_all_keys(client: &Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list objects v2");
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if out.is_truncated() == Some(true) {
            token = Some(
                out.next_continuation_token()
                    .expect("truncated page has a continuation token")
                    .to_owned(),
            );
        } else {
            return keys;
        }
    }
}

pub async fn bucket_names(client: &Client) -> Vec<String> {
    let out = client.list_buckets().send().await.expect("list buckets");
    out.buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect()
}

/// Every bucket `client` owns, with every key and body in it.
pub async fn contents(client: &Client) -> Vec<(String, Vec<(String, Vec<u8>)>)> {
    let mut buckets = bucket_names(client).await;
    buckets.sort();
    let mut out = Vec::new();
    for b in buckets {
        let mut objs = Vec::new();
        for k in list_all_keys(client, &b).await {
            let body = get(client, &b, &k).await;
            objs.push((k, body));
        }
        out.push((b, objs));
    }
    out
}

/// Every regular file under `dir`, recursively (missing dir → empty).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Poll `f` every 50 ms until it returns true or `timeout` passes; returns the last result.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every file under `dir` with its bytes, to show a step changed nothing.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).expect("read file");
            (f, bytes)
        })
        .collect()
}

/// Describe a directory tree (for assertion messages).
pub fn describe_tree(dir: &Path) -> String {
    let mut s = String::new();
    for f in files_under(dir) {
        let len = std::fs::metadata(&f).map_or(0, |m| m.len());
        let _ = writeln!(s, "  {} ({len} bytes)", f.display());
    }
    s
}

/// PUT every key (body = the key's bytes) with at most `concurrency` requests in flight.
pub async fn put_many(client: &Client, bucket: &str, keys: &[String], concurrency: usize) {
    use futures::StreamExt as _;
    futures::stream::iter(keys.iter().cloned())
        .map(|key| {
            let client = client.clone();
            let bucket = bucket.to_owned();
            async move {
                put(&client, &bucket, &key, key.as_bytes()).await;
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
}

/// Resident memory of a process, in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc status");
    kib * 1024
}

/// CPU time a process has used so far (user + system).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("comm in stat") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Clock ticks; 100 per second on Linux.
    Duration::from_millis((fields[11] + fields[12]) * 10)
}

/// A header-signed GET of `path` (`/bucket/key?query`) with `access_key` and `secret`, sent
/// from `source` (any 127.0.0.0/8 address), so a test can play several clients.
pub async fn signed_get_from(
    server: &Server,
    source: std::net::IpAddr,
    access_key: &str,
    secret: &str,
    path: &str,
) -> raw::RawResponse {
    let signed = sign::sign_v4_headers(
        access_key,
        secret,
        "GET",
        &format!("{}{path}", server.endpoint),
        &[],
        &sign::Payload::Bytes(b""),
        std::time::SystemTime::now(),
    );
    raw::request_from(
        source,
        server.addr,
        "GET",
        &signed.path_and_query,
        &signed.header_refs(),
    )
    .await
}

/// `coffer fsck --data <dir> <flags…>`: exit code and stdout.
pub fn fsck(env: &TestEnv, flags: &[&str]) -> (i32, String) {
    let data = env.data();
    let mut args = vec!["fsck", "--data", data.to_str().expect("utf-8 path")];
    args.extend_from_slice(flags);
    let (code, stdout, log) = env.run_for_code(&args, &[], b"");
    assert!(code != 2, "fsck could not run: {log}");
    (code, stdout)
}

/// A wrapper that runs coffer `days` days in the future (libfaketime; the monotonic clock
/// is left alone so timers behave).
pub fn future_coffer(env: &TestEnv, days: u32) -> std::path::PathBuf {
    let script = env.scratch().join(format!("coffer-plus-{days}d"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nFAKETIME_DONT_FAKE_MONOTONIC=1 exec faketime -f '+{days}d' '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_coffer")
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    script
}
