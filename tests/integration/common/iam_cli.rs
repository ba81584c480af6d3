//! IAM through the stock aws CLI (`aws iam …`), for tests that set users and keys up
//! the way an administrator would.

use std::process::Output;

use serde_json::Value;

use crate::clients::tool;
use crate::common::{Server, TestEnv};

/// `aws <args> --endpoint-url <server> --output json` with the root credentials, or with
/// `key` (access key, secret) instead.
pub fn aws_as(env: &TestEnv, server: &Server, key: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut cmd = tool(env, server, "aws");
    if let Some((access_key, secret)) = key {
        cmd.env("AWS_ACCESS_KEY_ID", access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret);
    }
    cmd.args(args)
        .args(["--endpoint-url", &server.endpoint, "--output", "json"]);
    cmd.output().expect("run aws")
}

/// [`aws_as`] that must succeed; its JSON output (`Null` when it prints nothing).
#[track_caller]
pub fn aws_ok(env: &TestEnv, server: &Server, key: Option<(&str, &str)>, args: &[&str]) -> Value {
    let out = aws_as(env, server, key, args);
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).expect("aws printed JSON")
    }
}

/// [`aws_as`] that must fail with IAM error `code`.
#[track_caller]
pub fn aws_err(
    env: &TestEnv,
    server: &Server,
    key: Option<(&str, &str)>,
    args: &[&str],
    code: &str,
) {
    let out = aws_as(env, server, key, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(&format!("({code})")),
        "aws {args:?} should fail with {code}: {}\nstderr: {stderr}",
        out.status
    );
}

/// The ARN of IAM user `name`, in the account STS names to root.
pub fn user_arn(env: &TestEnv, server: &Server, name: &str) -> String {
    let who = aws_ok(env, server, None, &["sts", "get-caller-identity"]);
    let account = who["Account"].as_str().expect("Account");
    format!("arn:aws:iam::{account}:user/{name}")
}

/// A new user `name` with one access key: (access key id, secret).
pub fn user_with_key(env: &TestEnv, server: &Server, name: &str) -> (String, String) {
    aws_ok(
        env,
        server,
        None,
        &["iam", "create-user", "--user-name", name],
    );
    let key = aws_ok(
        env,
        server,
        None,
        &["iam", "create-access-key", "--user-name", name],
    );
    (
        key["AccessKey"]["AccessKeyId"]
            .as_str()
            .expect("AccessKeyId")
            .to_owned(),
        key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .expect("SecretAccessKey")
            .to_owned(),
    )
}

/// Sets access key `key` of `user` Active or Inactive (`status`), as root.
#[track_caller]
pub fn set_key_status(env: &TestEnv, server: &Server, user: &str, key: &str, status: &str) {
    aws_ok(
        env,
        server,
        None,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            user,
            "--access-key-id",
            key,
            "--status",
            status,
        ],
    );
}

/// Sets inline policy `name` of `user` to `document`, as root.
#[track_caller]
pub fn put_user_policy(env: &TestEnv, server: &Server, user: &str, name: &str, document: &str) {
    aws_ok(
        env,
        server,
        None,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            user,
            "--policy-name",
            name,
            "--policy-document",
            document,
        ],
    );
}
