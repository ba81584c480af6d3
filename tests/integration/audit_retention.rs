//! Audit retention (issue 11): a server started after its oldest records have aged past
//! `--audit-retention` removes their segment whole and leaves a sealed anchor, so
//! `coffer audit verify` still passes, from the anchored sequence; with the anchor
//! removed, the same trail fails as one whose start was cut off.

use std::time::Duration;

use serde_json::Value;

use crate::common::{ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, create_bucket, put};

/// `coffer audit <subcommand> --data <env.data()> <rest…>`: (ok, stdout, stderr).
fn audit(env: &TestEnv, subcommand: &str, rest: &[&str]) -> (bool, String, String) {
    let data = env.data();
    let mut args = vec!["audit", subcommand, "--data", data.to_str().unwrap()];
    args.extend_from_slice(rest);
    env.run(&args, &[], b"")
}

/// The last sequence number `coffer audit verify` reports (from its checkpoint line).
fn last_sequence(report: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix("last checkpoint: coffer-audit:"))
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no checkpoint line in:\n{report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_segments_go_and_the_anchor_keeps_the_rest_verifiable() {
    let env = TestEnv::new();
    let vars = [
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ("COFFER_AUDIT_RETENTION", "2s"),
    ];
    let trail = env.data().join("audit");
    let segment = |n: u64| trail.join(format!("segment-{n:016x}.audit"));
    let anchor = trail.join("anchor.audit");

    let mut server = env.start_durable_with(&vars);
    let s3 = server.client();
    create_bucket(&s3, "scans").await;
    put(&s3, "scans", "a.jpg", b"first run").await;
    assert!(server.stop().success());
    drop(server);
    let (ok, report, stderr) = audit(&env, "verify", &[]);
    assert!(ok, "{stderr}");
    let first_run = last_sequence(&report);
    assert!(first_run >= 2, "{report}");
    assert!(segment(1).exists() && !anchor.exists());

    // Record times come from the clock: let the first run's records age past the 2 s
    // retention. The next start opens a new segment and expires segment 1 before it
    // serves.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut server = env.start_durable_with(&vars);
    put(&server.client(), "scans", "b.jpg", b"second run").await;
    assert!(server.stop().success());
    let log = std::fs::read_to_string(&server.log).unwrap();
    drop(server);
    assert!(
        log.contains("expired audit records removed") && log.contains("segments=1"),
        "{log}"
    );
    assert!(!segment(1).exists(), "the expired segment is still there");
    assert!(segment(2).exists() && anchor.exists());

    let (ok, report, stderr) = audit(&env, "verify", &[]);
    assert!(ok, "verify failed after expiry: {stderr}");
    let from = first_run + 1;
    assert!(
        report.contains(&format!(
            "verified from sequence {from}: the {first_run} records before it (1 segments)"
        )),
        "{report}"
    );
    assert!(report.contains("in 1 segments"), "{report}");
    // `show` reads what is left, the second run's records only.
    let (ok, shown, stderr) = audit(&env, "show", &["--json"]);
    assert!(ok, "{stderr}");
    let sequences: Vec<u64> = shown
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["sequence"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        !sequences.is_empty() && sequences.iter().all(|s| *s >= from),
        "{shown}"
    );

    // Without the anchor, the missing start is tampering.
    std::fs::remove_file(&anchor).unwrap();
    let (ok, _, stderr) = audit(&env, "verify", &[]);
    assert!(!ok, "a trail without its start verified");
    assert!(
        stderr.contains("records removed from the start of the trail")
            && stderr.contains("segment 2"),
        "{stderr}"
    );
}

/// A retention the server cannot use is refused at start, naming the flag.
#[test]
fn a_nonsense_retention_is_refused() {
    let env = TestEnv::new();
    let data = env.data();
    for bad in ["0d", "six years"] {
        let (ok, _, stderr) = env.run(
            &[
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--audit-retention",
                bad,
            ],
            &[],
            b"",
        );
        assert!(!ok, "{bad} was accepted");
        assert!(stderr.contains("--audit-retention"), "{stderr}");
    }
}
