//! The test-suite examples in `examples/` run as their users would run them, against the
//! real binary: a pytest suite, a node:test suite and a Go test, each starting its own
//! throwaway Coffer from the JSON ready line, and a GitHub Actions workflow whose steps run
//! against the Dockerfile's `test` stage command. Guards against an example that drifted
//! from the flags it documents, and a harness that leaves a server or a temporary directory
//! behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn assert_ran(env: &TestEnv, what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_server_dir_left(env, what);
}

/// The server (`--in-memory`) wrote nothing to its temporary directory, and stopped.
fn assert_no_server_dir_left(env: &TestEnv, what: &str) {
    let left = files_under(&env.tmp());
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

/// One stage of a Dockerfile: its `FROM` line and its instructions, continuation lines
/// joined and comments dropped.
struct Stage {
    from: String,
    name: Option<String>,
    instructions: Vec<(String, String)>,
}

impl Stage {
    fn last(&self, instruction: &str) -> Option<&str> {
        self.instructions
            .iter()
            .rev()
            .find(|(i, _)| i == instruction)
            .map(|(_, rest)| rest.as_str())
    }

    /// The exec-form `CMD` of this stage (none inherited).
    fn cmd(&self) -> Vec<String> {
        let cmd = self.last("CMD").expect("stage has a CMD");
        serde_json::from_str(cmd).unwrap_or_else(|e| panic!("CMD {cmd} is not exec form: {e}"))
    }
}

fn dockerfile_stages(text: &str) -> Vec<Stage> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(line);
            lines.push(std::mem::take(&mut current));
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in lines {
        let (instruction, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let instruction = instruction.to_ascii_uppercase();
        let rest = rest.trim().to_owned();
        if instruction == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                [_] => None,
                _ => panic!("FROM {rest}: not `image [AS name]`"),
            };
            stages.push(Stage {
                from: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else {
            stages
                .last_mut()
                .expect("an instruction before FROM")
                .instructions
                .push((instruction, rest));
        }
    }
    stages
}

/// A YAML file as JSON, through PyYAML (which the aws CLI brings along); None without it.
fn yaml_as_json(path: &Path) -> Option<serde_json::Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("No module named 'yaml'"),
            "{} does not parse: {stderr}",
            path.display()
        );
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("PyYAML wrote JSON"))
}

fn string_map(value: &serde_json::Value, what: &str) -> Vec<(String, String)> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not a map"))
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{what}.{k} is not a string"));
            assert!(
                !v.contains("${{"),
                "{what}.{k} uses an expression this test cannot evaluate: {v}"
            );
            (k.clone(), v.to_owned())
        })
        .collect()
}

/// The Dockerfile keeps production as its default (last) stage, and its `test` stage runs
/// the test mode. `examples/github-actions/s3-tests.yml` then runs here as on GitHub: the
/// test stage's command (with 127.0.0.1:0 for 0.0.0.0:9000) and the service's `env`, the
/// service's health command, then every `run:` step with bash and the job's `env`, its
/// endpoint's port swapped for the server's. Last, SIGTERM (`docker stop`) must stop it
/// cleanly and leave nothing behind.
#[test]
fn the_github_actions_workflow_passes_against_the_dockerfile_test_stage() {
    let env = TestEnv::new();
    let stages =
        dockerfile_stages(&std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile"));
    let stage = |name: &str| {
        stages
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no stage {name}"))
    };
    // A plain `docker build` gives the last stage: production, unchanged.
    let production = stages.last().expect("stages");
    assert_eq!(production.name.as_deref(), Some("production"));
    assert_eq!(
        production.cmd(),
        [
            "serve",
            "--data",
            "/data",
            "--listen",
            "0.0.0.0:9000",
            "--insecure-http"
        ]
    );
    let runtime = stage("runtime");
    assert_eq!(runtime.last("ENTRYPOINT"), Some(r#"["coffer"]"#));
    assert_eq!(
        runtime.last("ENV"),
        Some("COFFER_HEALTH_ADDR=127.0.0.1:9000")
    );
    assert!(
        runtime
            .last("HEALTHCHECK")
            .is_some_and(|h| h.ends_with(r#"CMD ["coffer", "health"]"#)),
        "{:?}",
        runtime.last("HEALTHCHECK")
    );
    assert_eq!(production.from, "runtime");
    assert!(
        production.last("ENTRYPOINT").is_none() && production.last("HEALTHCHECK").is_none(),
        "production inherits the runtime's"
    );
    // The test image is the static binary alone, with the runtime's entry point, probe
    // address and health check, as the same numeric user.
    let test = stage("test");
    assert_eq!(test.from, "scratch");
    for instruction in ["ENTRYPOINT", "ENV", "HEALTHCHECK", "USER"] {
        assert_eq!(
            test.last(instruction),
            runtime.last(instruction),
            "{instruction}"
        );
    }
    assert_eq!(
        test.last("COPY"),
        Some("--from=static-builder /out/coffer /usr/local/bin/coffer")
    );
    let static_build = stage("static-builder").last("RUN").expect("RUN");
    assert!(
        static_build.contains("-unknown-linux-musl")
            && static_build.contains("--target \"$target\""),
        "{static_build}"
    );
    // What replacing 0.0.0.0:9000 below hides: P7 refuses plain HTTP on 0.0.0.0 without
    // --insecure-http, --test-credentials refuses it outright, and in a container stdin
    // and the parent say nothing, so exit-with-parent must be off.
    let test_cmd = test.cmd();
    for flag in ["--in-memory", "--insecure-http"] {
        assert!(test_cmd.iter().any(|a| a == flag), "{flag}: {test_cmd:?}");
    }
    assert!(
        test_cmd
            .windows(2)
            .any(|w| w == ["--exit-with-parent", "off"]),
        "{test_cmd:?}"
    );
    assert!(
        !test_cmd.iter().any(|a| a == "--test-credentials"),
        "{test_cmd:?}"
    );
    assert_eq!(
        test_cmd.iter().filter(|a| *a == "0.0.0.0:9000").count(),
        1,
        "{test_cmd:?}"
    );

    let Some(workflow) = yaml_as_json(&repo().join("examples/github-actions/s3-tests.yml")) else {
        eprintln!("SKIPPED: python3 with PyYAML is missing (scripts/test installs awscli)");
        return;
    };
    if Command::new("aws").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the aws CLI is missing (scripts/test installs it)");
        return;
    }
    let jobs = workflow["jobs"].as_object().expect("jobs");
    assert_eq!(jobs.len(), 1, "one job");
    let job = jobs.values().next().expect("a job");
    let services = job["services"].as_object().expect("services");
    assert_eq!(services.len(), 1, "one service");
    let service = services.values().next().expect("a service");
    // The image is the user's own build of the test stage, named by a variable.
    assert_eq!(service["image"], "${{ vars.COFFER_TEST_IMAGE }}");
    assert_eq!(service["ports"], serde_json::json!(["9000:9000"]));
    let options = service["options"].as_str().expect("options");
    assert!(
        options.contains(r#"--health-cmd "coffer health""#),
        "{options}"
    );
    let service_env = string_map(&service["env"], "services.env");
    let var = |vars: &[(String, String)], name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map_or_else(|| panic!("{name} is not set"), |(_, v)| v.clone())
    };

    // The container's command, on a free loopback port instead of 0.0.0.0:9000.
    let args: Vec<&str> = test_cmd
        .iter()
        .map(|a| {
            if a == "0.0.0.0:9000" {
                "127.0.0.1:0"
            } else {
                a.as_str()
            }
        })
        .collect();
    let envs: Vec<(&str, &str)> = service_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut server = env.start(
        &args,
        &envs,
        &Expect::Known {
            access_key: var(&service_env, "COFFER_ROOT_ACCESS_KEY"),
            secret_key: var(&service_env, "COFFER_ROOT_SECRET_KEY"),
        },
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_coffer"))
        .parent()
        .expect("bin dir");
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let workspace = env.scratch().join("workspace");
    let step_tmp = env.scratch().join("step-tmp");
    for dir in [&workspace, &step_tmp, &env.home()] {
        std::fs::create_dir_all(dir).expect("dir");
    }
    let bash = |script: &str, vars: &[(String, String)]| -> Output {
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script]);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("COFFER_") || k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("PATH", &path)
            .env("HOME", env.home())
            .env("TMPDIR", &step_tmp)
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .current_dir(&workspace)
            .output()
            .expect("run bash")
    };

    // The health check the job waits on, as the image runs it (its address, our port).
    let health_cmd = options
        .split(r#"--health-cmd ""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("health command");
    let health = bash(
        health_cmd,
        &[("COFFER_HEALTH_ADDR".into(), server.addr.to_string())],
    );
    assert!(
        health.status.success(),
        "{health_cmd}: {}",
        String::from_utf8_lossy(&health.stderr)
    );

    // The job's env, its endpoint moved from the published port to the server's.
    let mut job_env = string_map(&job["env"], "jobs.env");
    let endpoint = var(&job_env, "AWS_ENDPOINT_URL");
    assert_eq!(
        endpoint.replace(":9000", &format!(":{}", server.addr.port())),
        server.endpoint,
        "the job's endpoint is the service's published port, as the server prints it"
    );
    for (k, v) in &mut job_env {
        if k == "AWS_ENDPOINT_URL" {
            v.clone_from(&server.endpoint);
        }
    }
    assert_eq!(var(&job_env, "AWS_REGION"), server.region);

    let mut ran = 0;
    for step in job["steps"].as_array().expect("steps") {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        assert!(
            !script.contains("${{"),
            "a step uses an expression this test cannot evaluate: {script}"
        );
        let name = step["name"].as_str().unwrap_or(script);
        let out = bash(script, &job_env);
        assert!(
            out.status.success(),
            "step {name:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 3, "{ran} run steps");

    // `docker stop`: SIGTERM, a clean exit, and no temporary directory left.
    let status = server.stop();
    assert!(status.success(), "{status}");
    assert_no_server_dir_left(&env, "the test stage");
}
