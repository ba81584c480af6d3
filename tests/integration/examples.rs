//! The test-suite examples in `examples/` run as their users would run them, against the
//! real binary: a pytest suite and a node:test suite, each starting its own throwaway
//! Coffer from the JSON ready line. Guards against an example that drifted from the flags
//! it documents, and a harness that leaves a server or a temporary directory behind.

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
    // The server stopped with the suite and removed its directory.
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
