//! The built-in KMS keys, administered through the AWS KMS JSON API on the S3 listener and
//! driven by the stock aws CLI (`aws kms … --endpoint-url`): a key is created, described
//! by id, ARN and alias, listed with paging, disabled and enabled, scheduled for deletion
//! (7–30 days) and the deletion cancelled (the key comes back Disabled, as AWS); a user
//! needs an identity policy allowing `kms:*` actions; each call is in the audit trail as
//! `kms:<Action>`; and a key's description and alias never reach the disk in clear (P3).

use serde_json::Value;

use crate::clients::require;
use crate::common::iam_cli::{aws_err, aws_ok, put_user_policy, user_with_key};
use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::{Server, TestEnv};

fn kms(env: &TestEnv, server: &Server, key: Option<(&str, &str)>, args: &[&str]) -> Value {
    let mut all = vec!["kms"];
    all.extend_from_slice(args);
    aws_ok(env, server, key, &all)
}

fn kms_err(env: &TestEnv, server: &Server, key: Option<(&str, &str)>, args: &[&str], code: &str) {
    let mut all = vec!["kms"];
    all.extend_from_slice(args);
    aws_err(env, server, key, &all, code);
}

fn state(env: &TestEnv, server: &Server, key: &str) -> Value {
    kms(env, server, None, &["describe-key", "--key-id", key])["KeyMetadata"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_creates_describes_lists_and_schedules_keys() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--region", "eu-west-3"]);
    let created = kms(
        &env,
        &server,
        None,
        &["create-key", "--description", "study 7 photos"],
    );
    let meta = &created["KeyMetadata"];
    let id = meta["KeyId"].as_str().unwrap().to_owned();
    let arn = meta["Arn"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{meta}");
    assert!(
        arn.starts_with("arn:aws:kms:eu-west-3:") && arn.ends_with(&format!(":key/{id}")),
        "{meta}"
    );
    assert_eq!(meta["KeyState"], "Enabled");
    assert_eq!(meta["Enabled"], true);
    assert_eq!(meta["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(meta["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(meta["Origin"], "AWS_KMS");
    assert_eq!(meta["KeyManager"], "CUSTOMER");
    assert_eq!(meta["Description"], "study 7 photos");
    assert!(meta["CreationDate"].is_number(), "{meta}");

    // Only symmetric encryption keys.
    kms_err(
        &env,
        &server,
        None,
        &["create-key", "--key-spec", "RSA_2048"],
        "UnsupportedOperationException",
    );

    // Aliases: AWS's rules, then the key is found through it (and its ARN).
    kms(
        &env,
        &server,
        None,
        &[
            "create-alias",
            "--alias-name",
            "alias/study-7",
            "--target-key-id",
            &id,
        ],
    );
    kms_err(
        &env,
        &server,
        None,
        &[
            "create-alias",
            "--alias-name",
            "alias/aws/s3",
            "--target-key-id",
            &id,
        ],
        "ValidationException",
    );
    kms_err(
        &env,
        &server,
        None,
        &[
            "create-alias",
            "--alias-name",
            "alias/study-7",
            "--target-key-id",
            &id,
        ],
        "AlreadyExistsException",
    );
    assert_eq!(state(&env, &server, "alias/study-7")["KeyId"], id.as_str());
    assert_eq!(state(&env, &server, &arn)["KeyId"], id.as_str());
    let alias_arn = arn.replace(&format!("key/{id}"), "alias/study-7");
    assert_eq!(state(&env, &server, &alias_arn)["KeyId"], id.as_str());
    let aliases = kms(&env, &server, None, &["list-aliases", "--key-id", &id]);
    assert_eq!(
        aliases["Aliases"][0]["AliasName"], "alias/study-7",
        "{aliases}"
    );
    assert_eq!(aliases["Aliases"][0]["AliasArn"], alias_arn.as_str());
    assert_eq!(aliases["Aliases"][0]["TargetKeyId"], id.as_str());
    kms_err(
        &env,
        &server,
        None,
        &["describe-key", "--key-id", "alias/nothing"],
        "NotFoundException",
    );

    // Listing, a page at a time (the CLI follows the markers itself unless told not to).
    let second = kms(&env, &server, None, &["create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = kms(
        &env,
        &server,
        None,
        &["list-keys", "--limit", "1", "--no-paginate"],
    );
    assert_eq!(page["Keys"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["Truncated"], true, "{page}");
    let all = kms(&env, &server, None, &["list-keys", "--page-size", "1"]);
    let ids: Vec<&str> = all["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), second.as_str()], "{all}");

    // What Terraform's aws_kms_key reads after creating a key, and aliases that move.
    let policy = kms(&env, &server, None, &["get-key-policy", "--key-id", &id]);
    let policy: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], "kms:*", "{policy}");
    let rotation = kms(
        &env,
        &server,
        None,
        &["get-key-rotation-status", "--key-id", &id],
    );
    assert_eq!(rotation["KeyRotationEnabled"], false);
    let tags = kms(
        &env,
        &server,
        None,
        &["list-resource-tags", "--key-id", &id],
    );
    assert_eq!(tags["Tags"], serde_json::json!([]));
    kms(
        &env,
        &server,
        None,
        &[
            "update-alias",
            "--alias-name",
            "alias/study-7",
            "--target-key-id",
            &second,
        ],
    );
    assert_eq!(
        state(&env, &server, "alias/study-7")["KeyId"],
        second.as_str()
    );
    kms(
        &env,
        &server,
        None,
        &["delete-alias", "--alias-name", "alias/study-7"],
    );
    kms_err(
        &env,
        &server,
        None,
        &["describe-key", "--key-id", "alias/study-7"],
        "NotFoundException",
    );
    kms(
        &env,
        &server,
        None,
        &[
            "create-alias",
            "--alias-name",
            "alias/study-7",
            "--target-key-id",
            &id,
        ],
    );

    // Disable and enable.
    kms(&env, &server, None, &["disable-key", "--key-id", &id]);
    let meta = state(&env, &server, &id);
    assert_eq!(
        (meta["KeyState"].as_str(), meta["Enabled"].as_bool()),
        (Some("Disabled"), Some(false))
    );
    kms(
        &env,
        &server,
        None,
        &["enable-key", "--key-id", "alias/study-7"],
    );
    assert_eq!(state(&env, &server, &id)["KeyState"], "Enabled");

    // Deletion: 7 to 30 days; pending keys cannot be enabled; a cancel leaves it Disabled.
    kms_err(
        &env,
        &server,
        None,
        &[
            "schedule-key-deletion",
            "--key-id",
            &id,
            "--pending-window-in-days",
            "6",
        ],
        "ValidationException",
    );
    let scheduled = kms(
        &env,
        &server,
        None,
        &[
            "schedule-key-deletion",
            "--key-id",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    );
    assert_eq!(scheduled["KeyId"], arn.as_str(), "{scheduled}");
    assert_eq!(scheduled["KeyState"], "PendingDeletion", "{scheduled}");
    let created_at = meta["CreationDate"].as_f64().unwrap();
    let deletion = scheduled["DeletionDate"].as_f64().unwrap();
    assert!(
        (deletion - created_at - 7.0 * 86400.0).abs() < 3600.0,
        "{scheduled} vs {meta}"
    );
    let meta = state(&env, &server, &id);
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert!(meta["DeletionDate"].is_number(), "{meta}");
    kms_err(
        &env,
        &server,
        None,
        &["enable-key", "--key-id", &id],
        "KMSInvalidStateException",
    );
    kms_err(
        &env,
        &server,
        None,
        &[
            "create-alias",
            "--alias-name",
            "alias/late",
            "--target-key-id",
            &id,
        ],
        "KMSInvalidStateException",
    );
    let cancelled = kms(
        &env,
        &server,
        None,
        &["cancel-key-deletion", "--key-id", &id],
    );
    assert_eq!(cancelled["KeyId"], arn.as_str());
    let meta = state(&env, &server, &id);
    assert_eq!(meta["KeyState"], "Disabled");
    assert!(meta.get("DeletionDate").is_none(), "{meta}");
    kms_err(
        &env,
        &server,
        None,
        &["cancel-key-deletion", "--key-id", &id],
        "KMSInvalidStateException",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_needs_a_kms_policy() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let key_id = kms(&env, &server, None, &["create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ak, sk) = user_with_key(&env, &server, "dora");
    let dora = Some((ak.as_str(), sk.as_str()));
    kms_err(
        &env,
        &server,
        dora,
        &["create-key"],
        "AccessDeniedException",
    );
    kms_err(&env, &server, dora, &["list-keys"], "AccessDeniedException");
    kms_err(
        &env,
        &server,
        dora,
        &["describe-key", "--key-id", &key_id],
        "AccessDeniedException",
    );
    // A key that does not exist is refused the same way: no probing.
    kms_err(
        &env,
        &server,
        dora,
        &[
            "describe-key",
            "--key-id",
            "00000000-0000-4000-8000-000000000000",
        ],
        "AccessDeniedException",
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateKey","kms:DescribeKey","kms:ListKeys"],"Resource":"*"}]}"#;
    put_user_policy(&env, &server, "dora", "kms", policy);
    let mine = kms(&env, &server, dora, &["create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(state(&env, &server, &mine)["KeyState"], "Enabled");
    kms(&env, &server, dora, &["describe-key", "--key-id", &key_id]);
    assert_eq!(
        kms(&env, &server, dora, &["list-keys"])["Keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Not granted: disabling.
    kms_err(
        &env,
        &server,
        dora,
        &["disable-key", "--key-id", &mine],
        "AccessDeniedException",
    );
    // A wrong secret is refused before anything.
    kms_err(
        &env,
        &server,
        Some((ak.as_str(), "wrong-secret-wrong-secret-wrong-secret")),
        &["list-keys"],
        "InvalidSignatureException",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_key_descriptions_and_aliases_are_not_on_disk_in_clear_and_calls_are_audited() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let description = marker("kms-description");
    let alias = marker("patient");
    let id = kms(
        &env,
        &server,
        None,
        &["create-key", "--description", &description],
    )["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let alias_name = format!("alias/{alias}");
    kms(
        &env,
        &server,
        None,
        &[
            "create-alias",
            "--alias-name",
            &alias_name,
            "--target-key-id",
            &id,
        ],
    );
    kms(
        &env,
        &server,
        None,
        &["disable-key", "--key-id", &alias_name],
    );
    kms_err(
        &env,
        &server,
        None,
        &["describe-key", "--key-id", "alias/none"],
        "NotFoundException",
    );
    let markers = [("key description", description), ("alias", alias)];
    assert_no_marker_anywhere(&env, &markers, "while serving");
    server.stop();
    assert_no_marker_anywhere(&env, &markers, "after a clean stop");

    // The stopped server's trail names each call.
    let data = env.data();
    let (ok, stdout, stderr) = env.run(
        &["audit", "show", "--data", data.to_str().unwrap(), "--json"],
        &[],
        b"",
    );
    assert!(ok, "coffer audit show failed: {stderr}");
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let ops: Vec<&str> = records
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "kms:CreateKey",
            "kms:CreateAlias",
            "kms:DisableKey",
            "kms:DescribeKey"
        ],
        "{stdout}"
    );
    assert!(records.iter().all(|r| r["user"] == "root"), "{stdout}");
    assert_eq!(records[3]["status"], 400, "{stdout}");
    assert_eq!(records[3]["error_code"], "NotFoundException", "{stdout}");
}
