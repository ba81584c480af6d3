//! The IAM query API (and STS GetCallerIdentity) on the S3 listener, driven by the stock
//! aws CLI and boto3: users, access keys and inline policies are managed with them; a key
//! created there works for S3 until it is set Inactive; a plain user may not manage users
//! unless an identity policy grants it IAM rights; a wrong signature changes nothing; user names and policies never reach the disk in
//! clear (P3).

use std::path::Path;

use serde_json::Value;

use crate::clients::{require, run_ok, tool};
use crate::common::iam_cli::{aws_err, aws_ok, put_user_policy, set_key_status, user_with_key};
use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::{
    Server, TestEnv, create_bucket, get, list_all_keys, put, raw, s3_config, status_of,
};

/// The deployment's account id, as STS tells root.
fn account(env: &TestEnv, server: &Server) -> String {
    let who = aws_ok(env, server, None, &["sts", "get-caller-identity"]);
    who["Account"].as_str().expect("Account").to_owned()
}

fn user_names(env: &TestEnv, server: &Server) -> Vec<String> {
    let users = aws_ok(env, server, None, &["iam", "list-users"]);
    users["Users"]
        .as_array()
        .expect("Users")
        .iter()
        .map(|u| u["UserName"].as_str().expect("UserName").to_owned())
        .collect()
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::alice-photos/*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_manages_users_keys_and_policies_and_the_key_works_for_s3() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    // Not us-east-1: IAM requests may be signed for either.
    let server = env.start_ephemeral_with(&["--region", "eu-west-3"]);
    let (ak, sk) = user_with_key(&env, &server, "alice");
    let key = Some((ak.as_str(), sk.as_str()));
    put_user_policy(&env, &server, "alice", "photos", POLICY);
    let got = aws_ok(
        &env,
        &server,
        None,
        &[
            "iam",
            "get-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "photos",
        ],
    );
    let want: Value = serde_json::from_str(POLICY).unwrap();
    assert_eq!(got["PolicyDocument"], want);
    assert_eq!(user_names(&env, &server), ["alice"]);
    let keys = aws_ok(
        &env,
        &server,
        None,
        &["iam", "list-access-keys", "--user-name", "alice"],
    );
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], ak.as_str());
    assert_eq!(keys["AccessKeyMetadata"][0]["Status"], "Active");

    let me = aws_ok(&env, &server, key, &["sts", "get-caller-identity"]);
    assert!(me["Arn"].as_str().unwrap().ends_with(":user/alice"), "{me}");
    let root = aws_ok(&env, &server, None, &["sts", "get-caller-identity"]);
    assert!(root["Arn"].as_str().unwrap().ends_with(":root"), "{root}");
    assert_eq!(me["Account"], root["Account"]);

    // The new key works for S3.
    let s3 = aws_sdk_s3::Client::from_conf(
        s3_config(&server.endpoint, &ak, &sk, None)
            .region(aws_sdk_s3::config::Region::new("eu-west-3"))
            .build(),
    );
    create_bucket(&s3, "alice-photos").await;
    put(&s3, "alice-photos", "x.jpg", b"photo").await;
    assert_eq!(get(&s3, "alice-photos", "x.jpg").await, b"photo");

    // Inactive: refused from the next request on; Active again: served again.
    let update = |status: &str| set_key_status(&env, &server, "alice", &ak, status);
    update("Inactive");
    let refused = s3
        .get_object()
        .bucket("alice-photos")
        .key("x.jpg")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&refused), 403);
    aws_err(
        &env,
        &server,
        key,
        &["sts", "get-caller-identity"],
        "SignatureDoesNotMatch",
    );
    update("Active");
    assert_eq!(get(&s3, "alice-photos", "x.jpg").await, b"photo");

    // A user who owns a bucket cannot be deleted, even once its keys and policies are gone.
    aws_ok(
        &env,
        &server,
        None,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            &ak,
        ],
    );
    // A deleted key is refused on its next request, like an unknown one.
    let refused = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(status_of(&refused), 403);
    // What Terraform reads of a user besides the user: Coffer has none of it.
    for (args, list) in [
        ("list-groups-for-user", "Groups"),
        ("list-attached-user-policies", "AttachedPolicies"),
        ("list-user-tags", "Tags"),
    ] {
        let out = aws_ok(&env, &server, None, &["iam", args, "--user-name", "alice"]);
        assert_eq!(out[list], serde_json::json!([]), "{args}");
    }
    aws_err(
        &env,
        &server,
        None,
        &["iam", "get-login-profile", "--user-name", "alice"],
        "NoSuchEntity",
    );
    aws_ok(
        &env,
        &server,
        None,
        &[
            "iam",
            "delete-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "photos",
        ],
    );
    aws_err(
        &env,
        &server,
        None,
        &["iam", "delete-user", "--user-name", "alice"],
        "DeleteConflict",
    );
    // Only a bucket's owner may remove it: alice, with a fresh key.
    let key = aws_ok(
        &env,
        &server,
        None,
        &["iam", "create-access-key", "--user-name", "alice"],
    );
    let (ak2, sk2) = (
        key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        s3_config(&server.endpoint, ak2, sk2, None)
            .region(aws_sdk_s3::config::Region::new("eu-west-3"))
            .build(),
    );
    s3.delete_object()
        .bucket("alice-photos")
        .key("x.jpg")
        .send()
        .await
        .unwrap();
    s3.delete_bucket()
        .bucket("alice-photos")
        .send()
        .await
        .unwrap();
    aws_ok(
        &env,
        &server,
        None,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            ak2,
        ],
    );
    aws_ok(
        &env,
        &server,
        None,
        &["iam", "delete-user", "--user-name", "alice"],
    );
    assert!(user_names(&env, &server).is_empty());
    aws_err(
        &env,
        &server,
        None,
        &["iam", "get-user", "--user-name", "alice"],
        "NoSuchEntity",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_iam_flow_and_error_codes() {
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/integration/py/boto3_iam.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script);
    let out = run_ok(cmd);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 iam ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_user_cannot_manage_users() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let (ak, sk) = user_with_key(&env, &server, "bob");
    let bob = Some((ak.as_str(), sk.as_str()));
    aws_err(
        &env,
        &server,
        bob,
        &["iam", "create-user", "--user-name", "eve"],
        "AccessDenied",
    );
    aws_err(
        &env,
        &server,
        bob,
        &["iam", "create-access-key", "--user-name", "bob"],
        "AccessDenied",
    );
    aws_err(&env, &server, bob, &["iam", "list-users"], "AccessDenied");
    // Who am I needs no right.
    let me = aws_ok(&env, &server, bob, &["sts", "get-caller-identity"]);
    assert!(me["Arn"].as_str().unwrap().ends_with(":user/bob"), "{me}");
    assert_eq!(user_names(&env, &server), ["bob"]);
    // Root's own key is not IAM's to manage.
    aws_err(
        &env,
        &server,
        None,
        &["iam", "create-access-key"],
        "ValidationError",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_signature_or_none_is_refused_and_changes_nothing() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let wrong = Some((
        server.access_key.as_str(),
        "a-wrong-secret-that-is-long-enough",
    ));
    aws_err(
        &env,
        &server,
        wrong,
        &["iam", "create-user", "--user-name", "mallory"],
        "SignatureDoesNotMatch",
    );
    // An unknown key gets the same answer.
    aws_err(
        &env,
        &server,
        Some(("CFNOSUCHKEY00000000", "a-wrong-secret-that-is-long-enough")),
        &["iam", "create-user", "--user-name", "mallory"],
        "SignatureDoesNotMatch",
    );
    assert!(user_names(&env, &server).is_empty());

    // Unsigned: an IAM-style refusal, with the request id of the header.
    let body = b"Action=CreateUser&UserName=mallory&Version=2010-05-08";
    let resp = raw::request(
        server.addr,
        "POST",
        "/",
        &[
            ("Host", "127.0.0.1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body,
    )
    .await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    let text = resp.text();
    assert!(
        text.contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">")
            && text.contains("<Code>AccessDenied</Code>"),
        "{text}"
    );
    let id = resp.header("x-amz-request-id").expect("request id");
    assert!(
        text.contains(&format!("<RequestId>{id}</RequestId></ErrorResponse>")),
        "{text}"
    );
    assert_eq!(text.matches("<RequestId>").count(), 1, "{text}");
    assert!(user_names(&env, &server).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_user_names_and_policies_are_not_on_disk_in_clear() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let name = marker("user");
    let resource = marker("policy");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{resource}/*"}}]}}"#
    );
    user_with_key(&env, &server, &name);
    put_user_policy(&env, &server, &name, "read", &policy);
    assert_eq!(user_names(&env, &server), std::slice::from_ref(&name));
    // And a bucket policy naming that user under a marked prefix.
    let prefix = marker("bucket-policy");
    let account = account(&env, &server);
    let bucket_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:user/{name}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::clinic/{prefix}/*"}}]}}"#
    );
    create_bucket(&server.client(), "clinic").await;
    server
        .client()
        .put_bucket_policy()
        .bucket("clinic")
        .policy(bucket_policy)
        .send()
        .await
        .unwrap();
    let markers = [
        ("user name", name),
        ("policy", resource),
        ("bucket policy", prefix),
    ];
    assert_no_marker_anywhere(&env, &markers, "while serving");
    server.stop();
    assert_no_marker_anywhere(&env, &markers, "after a clean stop");
}

/// A presigned URL is decided with its signer's rights when it is used: once the key is
/// Inactive the URL stops working, and works again when the key is Active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presigned_url_stops_working_when_its_key_is_disabled() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "1"]);
    let key = server.vars["COFFER_USER_1_ACCESS_KEY_ID"].clone();
    let secret = server.vars["COFFER_USER_1_SECRET_ACCESS_KEY"].clone();
    let s3 = server.user_client(1);
    create_bucket(&s3, "consents").await;
    put(&s3, "consents", "form-0042.pdf", b"signed consent").await;
    let url = crate::common::sign::presign_v4(
        &key,
        &secret,
        "GET",
        &format!("{}/consents/form-0042.pdf", server.endpoint),
        std::time::Duration::from_secs(600),
        std::time::SystemTime::now(),
    );
    let fetch = || raw::request(server.addr, "GET", &url.path_and_query, &[], b"");
    assert_eq!(fetch().await.status, 200);

    let status = |s: &str| set_key_status(&env, &server, "user1", &key, s);
    status("Inactive");
    assert_eq!(
        fetch().await.status,
        403,
        "a disabled key's URL still works"
    );
    status("Active");
    assert_eq!(fetch().await.status, 200);
}

/// The README's clinic example, run as it stands against a fresh server: the block checks
/// its own expectations (`refused …` fails the script if a request is allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_clinic_example_runs_as_written() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let block = readme
        .split_once("<!-- clinic-example:begin -->")
        .and_then(|(_, rest)| rest.split_once("<!-- clinic-example:end -->"))
        .map(|(block, _)| block)
        .expect("the README has the clinic example");
    let script = block
        .trim()
        .strip_prefix("```sh")
        .and_then(|s| s.strip_suffix("```"))
        .expect("a sh code block");
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let mut cmd = tool(&env, &server, "bash");
    cmd.current_dir(env.scratch())
        .args(["-euo", "pipefail", "-c", script]);
    let out = cmd.output().expect("run bash");
    assert!(
        out.status.success(),
        "the README example failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("wound, day 3"));
}

/// An Inactive key, and then a deleted one, is refused for every operation of the users
/// matrix, on its own user's bucket too, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_and_deleted_keys_are_refused_for_every_operation() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "1"]);
    let key = server.vars["COFFER_USER_1_ACCESS_KEY_ID"].clone();
    let user = server.user_client(1);
    let root = server.client();
    create_bucket(&user, "photos").await;
    put(&user, "photos", "patients/0042/scan.jpg", b"patient 42").await;
    create_bucket(&user, "mine").await;
    put(&user, "mine", "mine", b"own").await;
    let state = || async {
        let mut all = Vec::new();
        for bucket in ["photos", "mine"] {
            for k in list_all_keys(&root, bucket).await {
                all.push((bucket, get(&root, bucket, &k).await, k));
            }
        }
        all
    };
    let before = state().await;
    let iam = |args: &[&str]| {
        let mut full = vec!["iam"];
        full.extend_from_slice(args);
        aws_ok(&env, &server, None, &full);
    };
    let base = ["--user-name", "user1", "--access-key-id", key.as_str()];

    set_key_status(&env, &server, "user1", &key, "Inactive");
    for op in crate::users::OPS {
        assert!(
            !crate::users::attempt(op, &user, "photos", "patients/0042/scan.jpg", "mine").await,
            "{op} with an Inactive key was served"
        );
    }
    assert_eq!(state().await, before);

    iam(&[&["delete-access-key"][..], &base].concat());
    for op in crate::users::OPS {
        assert!(
            !crate::users::attempt(op, &user, "photos", "patients/0042/scan.jpg", "mine").await,
            "{op} with a deleted key was served"
        );
    }
    assert_eq!(state().await, before);
}

/// A browser form is decided with its signer's rights when it is posted: a policy signed
/// by a key disabled since stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_form_stops_working_when_its_key_is_disabled() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "1"]);
    let key = server.vars["COFFER_USER_1_ACCESS_KEY_ID"].clone();
    let secret = server.vars["COFFER_USER_1_SECRET_ACCESS_KEY"].clone();
    let s3 = server.user_client(1);
    create_bucket(&s3, "intake").await;
    let form = |name: &str| {
        let fields = crate::common::sign::post_form_v4(
            &key,
            &secret,
            "intake",
            &[],
            std::time::SystemTime::now(),
        );
        crate::common::sign::form_body(name, &fields, b"consent form")
    };
    let signed_before = form("before.pdf");
    let resp = raw::post_form(server.addr, "intake", &form("first.pdf")).await;
    assert!(matches!(resp.status, 200 | 204), "{}", resp.text());

    let status = |s: &str| set_key_status(&env, &server, "user1", &key, s);
    status("Inactive");
    let resp = raw::post_form(server.addr, "intake", &signed_before).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    status("Active");
    assert_eq!(
        crate::common::list_all_keys(&s3, "intake").await,
        ["first.pdf"],
        "the refused form stored something"
    );
}
