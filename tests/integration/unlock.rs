//! The master key never on the data disk (issue 17), through the real binary: `coffer init`
//! with a passphrase and recovery shares, a sealed start that answers 503 until
//! `coffer unlock`, a restart that seals again, and the `coffer keys` unlocker commands.
//! Guards against a server that serves (or touches its data) before an operator unlocks it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::common::{Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, Server, TestEnv, get, put, raw};

/// The cheapest Argon2id the server accepts (64 MiB, one pass): tests stay fast.
const CHEAP: [&str; 4] = ["--argon2-memory-mib", "64", "--argon2-passes", "1"];
/// No unlocker from the harness: the env's `COFFER_MASTER_KEY` blanked out.
const NO_KEY: (&str, &str) = ("COFFER_MASTER_KEY", "");
const ROOT: [(&str, &str); 2] = [
    ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
    ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
];

fn secret_file(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.scratch().join(name);
    std::fs::write(&path, format!("{text}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_owned()
}

fn start_sealed(env: &TestEnv) -> Server {
    let data = env.data();
    let mut envs = ROOT.to_vec();
    envs.push(NO_KEY);
    env.start(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &envs,
        &Expect::Known {
            access_key: ROOT_ACCESS_KEY.into(),
            secret_key: ROOT_SECRET_KEY.into(),
        },
    )
}

/// A signed request gets the sealed 503, as an S3 error.
async fn assert_sealed(server: &Server) {
    let err = server.client().list_buckets().send().await.unwrap_err();
    assert_eq!(
        crate::common::status_of(&err),
        503,
        "sealed server answered otherwise"
    );
    assert_eq!(
        crate::common::code_of(&err).as_deref(),
        Some("ServiceUnavailable")
    );
    let resp = raw::request(server.addr, "GET", "/clinic/scan.bin", &[], b"").await;
    assert_eq!(resp.status, 503);
    assert!(resp.text().contains("sealed"), "{}", resp.text());
    // Alive, but not ready (issue 13): an orchestrator sees why requests fail.
    let live = raw::request(server.addr, "GET", "/health/live", &[], b"").await;
    assert_eq!(live.status, 200, "{}", live.text());
    let ready = raw::request(server.addr, "GET", "/health/ready", &[], b"").await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert_eq!(ready.text(), "not ready\n");
}

fn unlock(env: &TestEnv, flags: &[&str], stdin: &[u8]) -> (bool, String) {
    let data = env.data();
    let mut args = vec!["unlock", "--data", data.to_str().unwrap()];
    args.extend_from_slice(flags);
    let (ok, _, log) = env.run(&args, &[NO_KEY], stdin);
    (ok, log)
}

/// Shares printed by `init`/`add-unlocker`: `recovery share i/n: TEXT`.
fn shares_in(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("recovery share "))
        .filter_map(|l| l.split_once(": ").map(|(_, text)| text.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_start_serves_503_until_coffer_unlock_and_a_restart_seals_again() {
    let env = TestEnv::new();
    let data = env.data();
    let data_arg = data.to_str().unwrap();
    let passphrase = secret_file(&env, "passphrase", "a clinic passphrase at boot");
    let mut init = vec!["init", "--data", data_arg, "--passphrase-file", &passphrase];
    init.extend(["--shares", "2/3"]);
    init.extend(CHEAP);
    let (ok, stdout, log) = env.run(&init, &[NO_KEY], b"");
    assert!(ok, "init failed: {log}");
    let shares = shares_in(&stdout);
    assert_eq!(shares.len(), 3, "{stdout}");
    assert!(!data.join("master.key").exists());

    let mut server = start_sealed(&env);
    assert_sealed(&server).await;
    let socket = data.join("unlock.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "unlock socket mode");

    // A wrong passphrase is refused, says so, and leaves it sealed with nothing written.
    let before = crate::common::snapshot(&data);
    let wrong = secret_file(&env, "wrong", "not the clinic passphrase");
    let (ok, log) = unlock(&env, &["--passphrase-file", &wrong], b"");
    assert!(!ok, "a wrong passphrase unlocked");
    assert!(log.contains("opens none"), "{log}");
    // One share is not enough.
    let (ok, log) = unlock(&env, &["--shares"], shares[0].as_bytes());
    assert!(!ok, "one share unlocked");
    assert!(log.contains("2 are needed"), "{log}");
    assert_sealed(&server).await;
    assert!(
        crate::common::snapshot(&data) == before,
        "a refused unlock changed a file"
    );

    let (ok, log) = unlock(&env, &["--passphrase-file", &passphrase], b"");
    assert!(ok, "unlock failed: {log}");
    // Ready as soon as `coffer unlock` returns.
    let ready = raw::request(server.addr, "GET", "/health/ready", &[], b"").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let s3 = server.client();
    s3.create_bucket().bucket("clinic").send().await.unwrap();
    put(&s3, "clinic", "scan.bin", b"a scan").await;
    assert!(!socket.exists(), "the socket outlived the seal");
    assert!(server.stop().success());
    drop(server);

    // The requests refused while sealed are on the audit trail, before the first served
    // one: the SDK's ListBuckets (retried) and the raw GET of each `assert_sealed`.
    let (ok, shown, log) = env.run(
        &[
            "audit",
            "show",
            "--data",
            data_arg,
            "--passphrase-file",
            &passphrase,
            "--json",
        ],
        &[NO_KEY],
        b"",
    );
    assert!(ok, "audit show failed: {log}");
    let records: Vec<serde_json::Value> = shown
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sealed = records
        .iter()
        .take_while(|r| r["status"] == 503)
        .inspect(|r| {
            assert_eq!(r["error_code"], "ServiceUnavailable", "{r}");
            assert!(r["caller"].is_null() && r["bucket"].is_null(), "{r}");
        })
        .count();
    assert!(
        sealed >= 4,
        "{sealed} sealed refusals recorded: {records:#?}"
    );
    assert_eq!(records[sealed]["operation"], "CreateBucket", "{records:#?}");

    // A restart seals again; two of the three shares open it.
    let mut server = start_sealed(&env);
    assert_sealed(&server).await;
    let two = format!("{}\n{}\n", shares[2], shares[1]);
    let (ok, log) = unlock(&env, &["--shares"], two.as_bytes());
    assert!(ok, "unlock with shares failed: {log}");
    assert_eq!(get(&server.client(), "clinic", "scan.bin").await, b"a scan");
    assert!(server.stop().success());
}

fn keys(env: &TestEnv, args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let data = env.data();
    let mut all = vec!["keys"];
    all.extend_from_slice(&args[..1]);
    all.extend(["--data", data.to_str().unwrap()]);
    all.extend_from_slice(&args[1..]);
    env.run(&all, &[NO_KEY], stdin)
}

fn start_with(env: &TestEnv, flags: &[&str]) -> Server {
    let data = env.data();
    let mut args = vec![
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(flags);
    let mut envs = ROOT.to_vec();
    envs.push(NO_KEY);
    env.start(
        &args,
        &envs,
        &Expect::Known {
            access_key: ROOT_ACCESS_KEY.into(),
            secret_key: ROOT_SECRET_KEY.into(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlockers_added_removed_and_a_rotation_keep_every_object_readable() {
    let env = TestEnv::new();
    let data = env.data();
    let key_file = env.scratch().join("usb.key");
    let key_arg = key_file.to_str().unwrap();
    let (ok, _, log) = env.run(
        &[
            "init",
            "--data",
            data.to_str().unwrap(),
            "--key-file",
            key_arg,
        ],
        &[NO_KEY],
        b"",
    );
    assert!(ok, "init failed: {log}");
    let mut server = start_with(&env, &["--master-key-file", key_arg]);
    let s3 = server.client();
    s3.create_bucket().bucket("clinic").send().await.unwrap();
    let body = crate::common::random_bytes(3 << 20);
    put(&s3, "clinic", "scan.bin", &body).await;
    assert!(server.stop().success());
    drop(server);

    let passphrase = secret_file(&env, "passphrase", "the second way in, long");
    let mut add = vec!["add-unlocker", "--master-key-file", key_arg];
    add.extend(["--new-passphrase-file", &passphrase]);
    add.extend(CHEAP);
    let (ok, _, log) = keys(&env, &add, b"");
    assert!(ok, "add-unlocker: {log}");
    let (ok, stdout, log) = keys(
        &env,
        &[
            "add-unlocker",
            "--passphrase-file",
            &passphrase,
            "--new-shares",
            "2/3",
        ],
        b"",
    );
    assert!(ok, "add-unlocker shares: {log}");
    let shares = shares_in(&stdout);
    assert_eq!(shares.len(), 3);
    let (ok, stdout, log) = keys(&env, &["list-unlockers"], b"");
    assert!(ok, "{log}");
    assert!(
        stdout.contains("1\tkey file")
            && stdout.contains("2\tpassphrase (Argon2id, 64 MiB, 1 pass(es)")
            && stdout.contains("3\trecovery shares, 2 of 3"),
        "{stdout}"
    );

    // Removing the key file's unlocker needs another one; the key no longer opens it.
    let (ok, _, log) = keys(
        &env,
        &["remove-unlocker", "--id", "1", "--master-key-file", key_arg],
        b"",
    );
    assert!(!ok, "an unlocker vouched for its own removal: {log}");
    let (ok, _, log) = keys(
        &env,
        &[
            "remove-unlocker",
            "--id",
            "1",
            "--passphrase-file",
            &passphrase,
        ],
        b"",
    );
    assert!(ok, "remove-unlocker: {log}");
    let chunks = crate::common::snapshot(&data.join("chunks"));
    let (ok, _, log) = keys(
        &env,
        &["rotate-master", "--shares"],
        format!("{}\n{}\n", shares[0], shares[2]).as_bytes(),
    );
    assert!(ok, "rotate-master: {log}");
    assert!(log.contains("1 bucket key"), "{log}");
    assert!(
        crate::common::snapshot(&data.join("chunks")) == chunks,
        "rotation rewrote a chunk"
    );

    let (ok, log) = run_refused(&env, &["--master-key-file", key_arg]);
    assert!(!ok && log.contains("opens none"), "{log}");
    let mut server = start_with(&env, &["--passphrase-file", &passphrase]);
    assert!(get(&server.client(), "clinic", "scan.bin").await == body);
    assert!(server.stop().success());

    // The last unlocker stays.
    let (ok, _, _) = keys(
        &env,
        &["remove-unlocker", "--id", "2", "--shares"],
        format!("{}\n{}\n", shares[1], shares[2]).as_bytes(),
    );
    assert!(ok);
    let (ok, _, log) = keys(
        &env,
        &["remove-unlocker", "--id", "3", "--shares"],
        format!("{}\n{}\n", shares[1], shares[2]).as_bytes(),
    );
    assert!(!ok && log.contains("last unlocker"), "{log}");
}

/// Starts `serve` expecting it to refuse; returns whether it succeeded and its log.
fn run_refused(env: &TestEnv, flags: &[&str]) -> (bool, String) {
    let data = env.data();
    let mut args = vec![
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(flags);
    let mut envs = ROOT.to_vec();
    envs.push(NO_KEY);
    let (ok, _, log) = env.run(&args, &envs, b"");
    (ok, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_directory_needs_init_and_the_key_in_the_data_dir_is_warned_about() {
    let env = TestEnv::new();
    let (ok, log) = run_refused(&env, &[]);
    assert!(!ok, "a fresh directory started without any unlocker");
    assert!(log.contains("coffer init"), "{log}");
    assert!(!env.data().join("unlockers").exists());

    // The old way, only when asked for, warned about at every start.
    for _ in 0..2 {
        let mut server = start_with(&env, &["--master-key-in-data-dir"]);
        server.client().list_buckets().send().await.unwrap();
        assert!(server.stop().success());
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(log.contains("stolen disk"), "no warning: {log}");
    }
    assert!(env.data().join("master.key").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2_below_the_minimum_and_short_passphrases_are_refused_by_init() {
    let env = TestEnv::new();
    let data = env.data();
    let passphrase = secret_file(&env, "passphrase", "long enough passphrase");
    let args = [
        "init",
        "--data",
        data.to_str().unwrap(),
        "--passphrase-file",
        &passphrase,
        "--argon2-memory-mib",
        "32",
        "--argon2-passes",
        "1",
    ];
    let (ok, _, log) = env.run(&args, &[NO_KEY], b"");
    assert!(!ok, "Argon2 at 32 MiB accepted");
    assert!(log.contains("64 MiB"), "{log}");
    let short = secret_file(&env, "short", "short");
    let (ok, _, log) = env.run(
        &[
            "init",
            "--data",
            data.to_str().unwrap(),
            "--passphrase-file",
            &short,
        ],
        &[NO_KEY],
        b"",
    );
    assert!(!ok && log.contains("10 characters"), "{log}");
    assert!(!Path::new(&data).join("unlockers").exists());
}
