//! The test-suite examples in `examples/` run as their users would run them, against the
//! real binary: a pytest suite, a node:test suite and a Go test, each starting its own
//! throwaway Coffer from the JSON ready line. Guards against an example that drifted from
//! the flags it documents, and a harness that leaves a server or a temporary directory
//! behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A command with only what the example reads: the binary's path and a private TMPDIR.
fn example_command(env: &TestEnv, program: &str) -> Command {
    std::fs::create_dir_all(env.home()).expect("home");
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("COFFER_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("COFFER_BIN", env!("CARGO_BIN_EXE_coffer"))
        .env("TMPDIR", env.tmp())
        .env("HOME", env.home());
    cmd
}

fn assert_ran(env: &TestEnv, what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_server_dir_left(env, what);
}

/// The server stopped and removed its directory.
fn assert_no_server_dir_left(env: &TestEnv, what: &str) {
    let left: Vec<_> = std::fs::read_dir(env.tmp())
        .expect("tmp")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("coffer-ephemeral-")
        })
        .collect();
    assert!(left.is_empty(), "{what} left {left:?}");
}

#[test]
fn the_pytest_example_passes() {
    let env = TestEnv::new();
    let probe = Command::new("python3")
        .args(["-c", "import pytest, boto3"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: pytest or boto3 is missing (scripts/test installs them)");
        return;
    }
    let out = example_command(&env, "python3")
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo().join("examples/pytest"))
        .output()
        .expect("run pytest");
    assert_ran(&env, "pytest", &out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 passed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_node_test_example_passes() {
    let env = TestEnv::new();
    let modules = repo().join("tests/integration/js/node_modules");
    if Command::new("node").arg("--version").output().is_err() || !modules.is_dir() {
        eprintln!(
            "SKIPPED: node or tests/integration/js/node_modules is missing (scripts/test installs them)"
        );
        return;
    }
    // As in a project of its own: the example beside a node_modules with the AWS SDK.
    let project = env.scratch().join("node-project");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::copy(
        repo().join("examples/node/coffer.test.mjs"),
        project.join("coffer.test.mjs"),
    )
    .expect("copy example");
    std::os::unix::fs::symlink(&modules, project.join("node_modules")).expect("link modules");
    let out = example_command(&env, "node")
        .arg("--test")
        .arg(project.join("coffer.test.mjs"))
        .current_dir(&project)
        .output()
        .expect("run node --test");
    assert_ran(&env, "node --test", &out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("# pass 2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Where Debian's Go library packages put their sources (a GOPATH tree).
const DEBIAN_GOCODE: &str = "/usr/share/gocode";

/// `examples/go`: no Go module proxy is reachable here, so the test builds the example the
/// way Debian builds Go packages, in GOPATH mode against Debian's aws-sdk-go-v2
/// (golang-github-aws-aws-sdk-go-v2-dev), and checks that its go.mod pins exactly the SDK
/// versions compiled, so what a user fetches is what passed here.
#[test]
fn the_go_example_passes() {
    let env = TestEnv::new();
    if Command::new("go").arg("version").output().is_err() {
        eprintln!(
            "SKIPPED: the_go_example_passes: `go` is not installed, so examples/go was NOT \
             run (scripts/test installs golang-go and golang-github-aws-aws-sdk-go-v2-dev)"
        );
        return;
    }
    let example = repo().join("examples/go");
    let sdk = Path::new(DEBIAN_GOCODE).join("src/github.com/aws/aws-sdk-go-v2");
    assert!(
        sdk.join("service/s3").is_dir(),
        "go is installed but aws-sdk-go-v2 is not in {}: apt-get install \
         golang-github-aws-aws-sdk-go-v2-dev (scripts/test does)",
        sdk.display()
    );

    // go.mod pins each SDK module at the version compiled below.
    let go_mod = std::fs::read_to_string(example.join("go.mod")).expect("go.mod");
    let mut pinned = Vec::new();
    for line in go_mod.lines() {
        let mut words = line.split_whitespace();
        let (Some(module), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(sub) = module.strip_prefix("github.com/aws/aws-sdk-go-v2") else {
            continue;
        };
        // The root module's version lives in its `aws` package.
        let dir = match sub.trim_start_matches('/') {
            "" => "aws",
            sub => sub,
        };
        let metadata = std::fs::read_to_string(sdk.join(dir).join("go_module_metadata.go"))
            .unwrap_or_else(|e| panic!("{module} is not in Debian's SDK: {e}"));
        let compiled = metadata
            .split("goModuleVersion = \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no goModuleVersion for {module}"));
        assert_eq!(
            version.trim_start_matches('v'),
            compiled,
            "examples/go/go.mod pins {module} {version}, but this test compiles {compiled}"
        );
        pinned.push(module);
    }
    for direct in ["", "/config", "/credentials", "/service/s3"] {
        let module = format!("github.com/aws/aws-sdk-go-v2{direct}");
        assert!(pinned.contains(&module.as_str()), "go.mod lacks {module}");
    }

    let gofmt = Command::new("gofmt")
        .arg("-l")
        .arg(&example)
        .output()
        .expect("run gofmt");
    assert!(
        gofmt.status.success() && gofmt.stdout.is_empty(),
        "gofmt -l examples/go: {}{}",
        String::from_utf8_lossy(&gofmt.stdout),
        String::from_utf8_lossy(&gofmt.stderr)
    );

    // As a project of its own: a copy, built with nothing fetched. The build cache is kept
    // in the cargo target directory, so the SDK compiles once per checkout, not per run.
    let project = env.scratch().join("go-project");
    std::fs::create_dir_all(&project).expect("project dir");
    for file in ["go.mod", "coffer_test.go"] {
        std::fs::copy(example.join(file), project.join(file)).expect("copy example");
    }
    let target = Path::new(env!("CARGO_BIN_EXE_coffer"))
        .parent()
        .and_then(Path::parent)
        .expect("cargo target directory");
    let gopath = std::env::join_paths([env.home().join("go"), PathBuf::from(DEBIAN_GOCODE)])
        .expect("GOPATH");
    let out = example_command(&env, "go")
        .args(["test", "-count=1", "-v", "./..."])
        .current_dir(&project)
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("GOCACHE", target.join("go-build-cache"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .output()
        .expect("run go test");
    assert_ran(&env, "go test", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for test in [
        "TestFixtureBucketRoundTripsABody",
        "TestWrongSecretIsRefusedAsAWSRefusesIt",
        "TestPresignedGetWorksUntilItExpires",
    ] {
        assert!(stdout.contains(&format!("--- PASS: {test} ")), "{stdout}");
    }
    assert_eq!(stdout.matches("--- PASS: ").count(), 3, "{stdout}");
}
