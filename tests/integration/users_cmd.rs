//! `coffer users …` on a stopped data directory: recovery when the IAM API cannot help.
//! A leaked key disabled offline is refused after the restart (and works again once
//! enabled); a lost root is replaced, and the old root key is refused; the listing never
//! shows a secret; and while a server runs on the directory every command refuses, saying
//! so, and changes nothing.

use aws_sdk_s3::Client;

use crate::clients::require;
use crate::common::iam_cli::user_with_key;
use crate::common::{
    ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, assert_s3_err, create_bucket, get, put, s3_client,
};

/// `coffer users <subcommand> --data <env.data()> <rest…>`, unlocked by the env's key.
fn users(env: &TestEnv, subcommand: &str, rest: &[&str]) -> (bool, String, String) {
    let data = env.data();
    let mut args = vec!["users", subcommand, "--data", data.to_str().unwrap()];
    args.extend_from_slice(rest);
    env.run(&args, &[], b"")
}

/// `users` that must succeed; its stdout and stderr.
#[track_caller]
fn users_ok(env: &TestEnv, subcommand: &str, rest: &[&str]) -> (String, String) {
    let (ok, stdout, stderr) = users(env, subcommand, rest);
    assert!(ok, "coffer users {subcommand} {rest:?} failed: {stderr}");
    (stdout, stderr)
}

/// The value of `KEY=value` line `key` in `stdout`.
fn line_value<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= line in: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_key_is_disabled_and_enabled_offline() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let (key, secret) = user_with_key(&env, &server, "alice");
    let alice = s3_client(&server.endpoint, &key, &secret, None);
    create_bucket(&alice, "alice-scans").await;
    put(&alice, "alice-scans", "scan.jpg", b"alice's scan").await;
    assert!(server.stop().success());
    drop(server);

    let (listing, _) = users_ok(&env, "list", &[]);
    assert!(
        listing.contains(&format!("root\t{ROOT_ACCESS_KEY}\n")),
        "{listing}"
    );
    assert!(listing.lines().any(|l| l.starts_with("account\t")));
    let alice_line = listing
        .lines()
        .find(|l| l.starts_with("user\talice\tAIDA"))
        .unwrap_or_else(|| panic!("no line for alice: {listing}"));
    assert!(
        alice_line.ends_with(&format!("\t{key}:Active")),
        "{alice_line}"
    );
    assert!(!listing.contains(&secret), "the listing shows a secret");
    assert!(
        !listing.contains(ROOT_SECRET_KEY),
        "the listing shows root's secret"
    );

    let (_, note) = users_ok(&env, "disable-key", &[&key]);
    assert!(note.contains("Inactive"), "{note}");
    let (listing, _) = users_ok(&env, "list", &[]);
    assert!(listing.contains(&format!("{key}:Inactive")), "{listing}");
    // Root's key and unknown keys are refused, by name.
    let (ok, _, err) = users(&env, "disable-key", &[ROOT_ACCESS_KEY]);
    assert!(
        !ok && err.contains("root's access key") && err.contains("reset-root"),
        "{err}"
    );
    let (ok, _, err) = users(&env, "enable-key", &["AKIANOSUCHKEY0000000"]);
    assert!(!ok && err.contains("no user has the access key"), "{err}");

    let mut server = env.start_durable();
    let alice = s3_client(&server.endpoint, &key, &secret, None);
    assert_s3_err(
        alice
            .get_object()
            .bucket("alice-scans")
            .key("scan.jpg")
            .send()
            .await,
        403,
        None,
    );
    assert_eq!(
        get(&server.client(), "alice-scans", "scan.jpg").await,
        b"alice's scan",
        "root was locked out with the user's key"
    );
    assert!(server.stop().success());
    drop(server);

    users_ok(&env, "enable-key", &[&key]);
    let server = env.start_durable();
    let alice = s3_client(&server.endpoint, &key, &secret, None);
    assert_eq!(
        get(&alice, "alice-scans", "scan.jpg").await,
        b"alice's scan"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_root_prints_a_new_root_and_retires_the_old_one() {
    let env = TestEnv::new();
    // No COFFER_ROOT_* anywhere: those would replace the stored root at every start.
    let mut server = env.start_durable_with(&[]);
    let (old_key, old_secret) = (server.access_key.clone(), server.secret_key.clone());
    create_bucket(&server.client(), "ledger").await;
    put(&server.client(), "ledger", "2024.csv", b"rows").await;
    assert!(server.stop().success());
    drop(server);

    let (stdout, stderr) = users_ok(&env, "reset-root", &[]);
    let new_key = line_value(&stdout, "AWS_ACCESS_KEY_ID").to_owned();
    let new_secret = line_value(&stdout, "AWS_SECRET_ACCESS_KEY").to_owned();
    assert_ne!(new_key, old_key);
    assert_ne!(new_secret, old_secret);
    assert!(
        stderr.contains(&old_key) && stderr.contains("no longer works"),
        "{stderr}"
    );
    assert!(!stderr.contains(&new_secret), "the secret went to stderr");
    let (listing, _) = users_ok(&env, "list", &[]);
    assert!(listing.contains(&format!("root\t{new_key}\n")), "{listing}");

    let server = env.start_durable_known(&new_key, &new_secret);
    let old: Client = s3_client(&server.endpoint, &old_key, &old_secret, None);
    assert_s3_err(old.list_buckets().send().await, 403, None);
    // Root's buckets are owned by its principal, not its key: still root's.
    assert_eq!(get(&server.client(), "ledger", "2024.csv").await, b"rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_makes_every_command_refuse_and_change_nothing() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    create_bucket(&server.client(), "ledger").await;

    for (subcommand, rest) in [("list", &[][..]), ("reset-root", &[][..])] {
        let (ok, stdout, stderr) = users(&env, subcommand, rest);
        assert!(!ok, "users {subcommand} ran beside a live server");
        assert!(
            stderr.contains("in use") && stderr.contains("a server is running on it"),
            "users {subcommand}: unclear error: {stderr}"
        );
        assert!(
            !stdout.contains("AWS_SECRET_ACCESS_KEY"),
            "a credential was printed: {stdout}"
        );
    }
    // The live server is undisturbed, and after a restart without COFFER_ROOT_* (which
    // would mask a change) the stored root is still the one it was.
    put(&server.client(), "ledger", "2024.csv", b"rows").await;
    assert!(server.stop().success());
    drop(server);
    let server = env.start_durable_known(ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
    assert_eq!(get(&server.client(), "ledger", "2024.csv").await, b"rows");
}
