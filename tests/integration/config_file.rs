//! `coffer serve --config FILE` (issue 13): the real binary takes its listen address and
//! limits from a TOML file; a flag beats its `COFFER_*` variable, which beats the file,
//! which beats the default; and a file with a typo stops the server before it opens
//! anything, with the key named on stderr.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::common::raw;
use crate::common::sign;
use crate::common::{Expect, TestEnv, create_bucket, put};

/// Writes `text` as a config file in the test's scratch directory.
fn config_file(env: &TestEnv, text: &str) -> PathBuf {
    let path = env.scratch().join("coffer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_its_address_and_limits_from_the_file() {
    let env = TestEnv::new();
    // 127.0.0.2 (loopback, but not the default's 127.0.0.1) proves the file was read.
    let path = config_file(
        &env,
        "[data]\nephemeral = true\n\
         [listen]\naddress = \"127.0.0.2:0\"\n\
         [s3]\nregion = \"eu-west-3\"\n\
         [limits]\npresigned_max_expiry = 3600\n",
    );
    let server = env.start(
        &["serve", "--config", path.to_str().unwrap()],
        &[],
        &Expect::PrintedCredentials,
    );
    assert_eq!(server.addr.ip().to_string(), "127.0.0.2");
    assert_eq!(server.region, "eu-west-3");

    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"scan").await;
    let url = format!("{}/clinic/scan.jpg", server.endpoint);
    for (secs, status) in [(3600, 200), (3601, 403)] {
        let signed = sign::presign_v4_in(
            &server.region,
            &server.access_key,
            &server.secret_key,
            "GET",
            &url,
            Duration::from_secs(secs),
            SystemTime::now(),
        );
        let resp = raw::request(server.addr, "GET", &signed.path_and_query, &[], b"").await;
        assert_eq!(resp.status, status, "X-Amz-Expires={secs}: {}", resp.text());
    }
}

#[test]
fn a_flag_beats_its_variable_which_beats_the_file_which_beats_the_default() {
    let env = TestEnv::new();
    let path = config_file(
        &env,
        "[s3]\nregion = \"eu-west-3\"\n\
         [limits]\nmax_uploads = 5\nmax_connections = 70\n",
    );
    let (ok, stdout, stderr) = env.run(
        &[
            "config",
            "check",
            "--ephemeral",
            "--config",
            path.to_str().unwrap(),
            "--region",
            "us-west-2",
        ],
        &[
            ("COFFER_REGION", "ap-south-1"),
            ("COFFER_MAX_CONNECTIONS", "80"),
        ],
        b"",
    );
    assert!(ok, "{stdout}\n{stderr}");
    for line in [
        "s3.region = \"us-west-2\"  # flag",
        "limits.max_connections = 80  # env COFFER_MAX_CONNECTIONS",
        "limits.max_uploads = 5  # file",
        "limits.idle_timeout = 60  # default",
        "# tls.cert is not set",
        "# valid",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in\n{stdout}");
    }
}

#[test]
fn a_bad_file_stops_serve_with_the_key_named() {
    let env = TestEnv::new();
    for (text, named) in [
        (
            "[data]\nephemeral = true\n[listen]\nadress = \"127.0.0.1:0\"\n",
            "unknown key \"listen.adress\"",
        ),
        (
            "[data]\nephemeral = true\n[limits]\nmax_uploads = \"many\"\n",
            "key \"limits.max_uploads\" must be a whole number",
        ),
        (
            "[data]\nephemeral = true\n[limits]\nmax_connections = 0\n",
            "key \"limits.max_connections\": --max-connections must be at least 1",
        ),
    ] {
        let path = config_file(&env, text);
        let path = path.to_str().unwrap();
        let (ok, stdout, stderr) = env.run(&["serve", "--config", path], &[], b"");
        assert!(!ok, "served with {text:?}: {stdout}");
        assert!(
            stderr.contains(&format!("config {path}: {named}")),
            "{text:?}: {stderr}"
        );
        assert!(!stdout.contains("AWS_ENDPOINT_URL"), "{stdout}");
    }
}

#[test]
fn the_printed_example_is_a_valid_file() {
    let env = TestEnv::new();
    let (ok, example, stderr) = env.run(&["config", "example"], &[], b"");
    assert!(ok, "{stderr}");
    let path = config_file(&env, &example);
    let (ok, stdout, stderr) = env.run(
        &[
            "config",
            "check",
            "--ephemeral",
            "--config",
            path.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("limits.max_uploads = 32  # file"),
        "{stdout}"
    );
}
