//! SSE-KMS (issue 12): objects under Coffer's built-in KMS keys, driven by aws-sdk-s3 with
//! the keys administered by the stock aws CLI. Round trips with ranges, multipart and
//! copies between SSE-KMS, SSE-C and SSE-S3; bucket default encryption applied to PUT, copy
//! and multipart; a disabled key refusing its objects (and only its objects) until enabled;
//! `kms:Decrypt` / `kms:GenerateDataKey` deciding who may use a key; and crypto-shredding:
//! once a key's deletion date has passed, its objects are unreadable for good — to the
//! server, to a copy of the data directory with the master key, and to a new key under the
//! old alias. Guards against an object path that ignores a key's state, a key kept after
//! its deletion, and a body or key name reaching the disk in clear.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine as _;

use crate::clients::require;
use crate::common::iam_cli::{aws_as, aws_ok, put_user_policy, user_with_key};
use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::{
    Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, Server, TestEnv, assert_s3_err, create_bucket,
    future_coffer, md5_base64, put, s3_client,
};

const MIB: usize = 1024 * 1024;

/// A new KMS key (with `alias`, if given): its id and ARN.
fn create_key(env: &TestEnv, server: &Server, alias: Option<&str>) -> (String, String) {
    let meta = aws_ok(env, server, None, &["kms", "create-key"])["KeyMetadata"].clone();
    let id = meta["KeyId"].as_str().expect("KeyId").to_owned();
    if let Some(alias) = alias {
        aws_ok(
            env,
            server,
            None,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                alias,
                "--target-key-id",
                &id,
            ],
        );
    }
    (id, meta["Arn"].as_str().expect("Arn").to_owned())
}

fn kms_cli(env: &TestEnv, server: &Server, args: &[&str]) {
    let mut all = vec!["kms"];
    all.extend_from_slice(args);
    aws_ok(env, server, None, &all);
}

async fn put_kms(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: &[u8],
    kms_key: Option<&str>,
) -> PutObjectOutput {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .set_ssekms_key_id(kms_key.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))
}

/// A one-byte PUT of `clinic/x`, for the requests that must be refused.
fn refused_put(s3: &Client) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
    s3.put_object()
        .bucket("clinic")
        .key("x")
        .body(ByteStream::from_static(b"x"))
}

async fn get(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

/// The encryption HEAD reports: (`x-amz-server-side-encryption`, KMS key ARN).
async fn head_sse(s3: &Client, bucket: &str, key: &str) -> (Option<String>, Option<String>) {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("head {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    (
        head.server_side_encryption().map(|s| s.as_str().to_owned()),
        head.ssekms_key_id().map(str::to_owned),
    )
}

/// A two-part upload (5 MiB + `tail`) under the headers `create` sets; returns the body and
/// what CompleteMultipartUpload said about encryption.
async fn multipart(
    s3: &Client,
    bucket: &str,
    key: &str,
    kms_key: Option<&str>,
) -> (Vec<u8>, Option<String>) {
    let body = crate::common::random_bytes(5 * MIB + 4321);
    let mut create = s3.create_multipart_upload().bucket(bucket).key(key);
    if let Some(kms_key) = kms_key {
        create = create
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(kms_key);
    }
    let upload = create.send().await.unwrap();
    let id = upload.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, piece) in [(1, &body[..5 * MIB]), (2, &body[5 * MIB..])] {
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(piece.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("part: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
        assert_eq!(
            part.server_side_encryption(),
            upload.server_side_encryption()
        );
        assert_eq!(part.ssekms_key_id(), upload.ssekms_key_id());
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(done.ssekms_key_id(), upload.ssekms_key_id());
    (body, done.ssekms_key_id().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_round_trips_copies_multipart_and_bucket_defaults() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let (_, arn_a) = create_key(&env, &server, Some("alias/patient-a"));
    let (id_b, arn_b) = create_key(&env, &server, None);

    // Under a key named by alias, with an encryption context; by ARN; by none (aws/s3).
    let body = crate::common::random_bytes(3 * MIB + 77);
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"patient":"a"}"#);
    let out = s3
        .put_object()
        .bucket("clinic")
        .key("a")
        .body(ByteStream::from(body.clone()))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/patient-a")
        .ssekms_encryption_context(&context)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(out.ssekms_key_id(), Some(arn_a.as_str()));
    assert_eq!(out.ssekms_encryption_context(), Some(context.as_str()));
    let out = put_kms(&s3, "clinic", "b", &body, Some(&arn_b)).await;
    assert_eq!(out.ssekms_key_id(), Some(arn_b.as_str()));
    let out = put_kms(&s3, "clinic", "d", b"default key", None).await;
    let default_arn = out.ssekms_key_id().unwrap().to_owned();
    let managed = aws_ok(
        &env,
        &server,
        None,
        &["kms", "describe-key", "--key-id", "alias/aws/s3"],
    );
    assert_eq!(managed["KeyMetadata"]["Arn"], default_arn.as_str());
    assert_eq!(managed["KeyMetadata"]["KeyManager"], "AWS");

    assert_eq!(get(&s3, "clinic", "a").await, body);
    assert_eq!(get(&s3, "clinic", "d").await, b"default key");
    let ranged = s3
        .get_object()
        .bucket("clinic")
        .key("a")
        .range("bytes=2097100-2097200")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.ssekms_key_id(), Some(arn_a.as_str()));
    assert_eq!(
        ranged.body.collect().await.unwrap().into_bytes(),
        body[2_097_100..=2_097_200]
    );
    assert_eq!(
        head_sse(&s3, "clinic", "a").await,
        (Some("aws:kms".into()), Some(arn_a.clone()))
    );

    // The aws CLI, as the README's per-patient example runs it.
    let photo = env.scratch().join("wound-0412.jpg");
    std::fs::write(&photo, &body[..MIB]).unwrap();
    let copied = aws_as(
        &env,
        &server,
        None,
        &[
            "s3",
            "cp",
            photo.to_str().unwrap(),
            "s3://clinic/1717/",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            "alias/patient-a",
        ],
    );
    assert!(copied.status.success(), "{copied:?}");
    let head = aws_ok(
        &env,
        &server,
        None,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "clinic",
            "--key",
            "1717/wound-0412.jpg",
        ],
    );
    assert_eq!(head["ServerSideEncryption"], "aws:kms", "{head}");
    assert_eq!(head["SSEKMSKeyId"], arn_a.as_str(), "{head}");
    assert_eq!(
        get(&s3, "clinic", "1717/wound-0412.jpg").await,
        &body[..MIB]
    );

    // AWS's answers to what does not fit.
    assert_s3_err(
        refused_put(&s3).ssekms_key_id(&arn_b).send().await,
        400,
        Some("InvalidArgument"),
    );
    assert_s3_err(
        refused_put(&s3)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("alias/nobody")
            .send()
            .await,
        400,
        Some("KMS.NotFoundException"),
    );
    assert_s3_err(
        refused_put(&s3)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_encryption_context("bm90IGpzb24=")
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );
    assert_s3_err(
        refused_put(&s3)
            .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
            .send()
            .await,
        501,
        Some("NotImplemented"),
    );
    let customer = crate::common::random_bytes(32);
    let customer_b64 = base64::engine::general_purpose::STANDARD.encode(&customer);
    let customer_md5 = md5_base64(&customer);
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("a")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&customer_b64)
            .sse_customer_key_md5(&customer_md5)
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );

    // Multipart under a key; a part copied from an object under another key.
    let (mp_body, mp_key) = multipart(&s3, "clinic", "mp", Some("alias/patient-a")).await;
    assert_eq!(mp_key.as_deref(), Some(arn_a.as_str()));
    assert_eq!(get(&s3, "clinic", "mp").await, mp_body);
    let upload = s3
        .create_multipart_upload()
        .bucket("clinic")
        .key("mp-copy")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id_b)
        .send()
        .await
        .unwrap();
    let part = s3
        .upload_part_copy()
        .bucket("clinic")
        .key("mp-copy")
        .upload_id(upload.upload_id().unwrap())
        .part_number(1)
        .copy_source("clinic/a")
        .send()
        .await
        .unwrap();
    assert_eq!(part.ssekms_key_id(), Some(arn_b.as_str()));
    s3.complete_multipart_upload()
        .bucket("clinic")
        .key("mp-copy")
        .upload_id(upload.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.copy_part_result().unwrap().e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "clinic", "mp-copy").await, body);

    // Copies change encryption: SSE-KMS → SSE-C → SSE-S3 → SSE-KMS, and in place.
    let copied = s3
        .copy_object()
        .bucket("clinic")
        .key("as-c")
        .copy_source("clinic/a")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&customer_b64)
        .sse_customer_key_md5(&customer_md5)
        .send()
        .await
        .unwrap();
    assert!(copied.ssekms_key_id().is_none());
    s3.copy_object()
        .bucket("clinic")
        .key("plain")
        .copy_source("clinic/as-c")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&customer_b64)
        .copy_source_sse_customer_key_md5(&customer_md5)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head_sse(&s3, "clinic", "plain").await,
        (Some("AES256".into()), None)
    );
    let copied = s3
        .copy_object()
        .bucket("clinic")
        .key("plain")
        .copy_source("clinic/plain")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn_b)
        .send()
        .await
        .unwrap();
    assert_eq!(copied.ssekms_key_id(), Some(arn_b.as_str()));
    assert_eq!(get(&s3, "clinic", "plain").await, body);

    // Bucket default: aws:kms under B for writes that ask for nothing; AES256 when asked.
    s3.put_bucket_encryption()
        .bucket("clinic")
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(&arn_b)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_encryption()
        .bucket("clinic")
        .send()
        .await
        .unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm(), &ServerSideEncryption::AwsKms);
    assert_eq!(default.kms_master_key_id(), Some(arn_b.as_str()));
    put(&s3, "clinic", "by-default", b"default").await;
    let kms_b = (Some("aws:kms".to_owned()), Some(arn_b.clone()));
    assert_eq!(head_sse(&s3, "clinic", "by-default").await, kms_b);
    let (_, mp_key) = multipart(&s3, "clinic", "mp-default", None).await;
    assert_eq!(mp_key.as_deref(), Some(arn_b.as_str()));
    s3.copy_object()
        .bucket("clinic")
        .key("copy-default")
        .copy_source("clinic/d")
        .send()
        .await
        .unwrap();
    assert_eq!(head_sse(&s3, "clinic", "copy-default").await, kms_b);
    s3.put_object()
        .bucket("clinic")
        .key("asked-aes")
        .body(ByteStream::from_static(b"x"))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head_sse(&s3, "clinic", "asked-aes").await,
        (Some("AES256".into()), None)
    );

    // A disabled key refuses its objects (HEAD still describes them, as AWS), and only
    // its objects, until it is enabled again.
    kms_cli(
        &env,
        &server,
        &["disable-key", "--key-id", "alias/patient-a"],
    );
    for key in ["a", "mp"] {
        assert_s3_err(
            s3.get_object().bucket("clinic").key(key).send().await,
            400,
            Some("KMS.DisabledException"),
        );
    }
    assert_eq!(head_sse(&s3, "clinic", "a").await.1, Some(arn_a.clone()));
    assert_eq!(get(&s3, "clinic", "b").await, body);
    assert_s3_err(
        refused_put(&s3)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("alias/patient-a")
            .send()
            .await,
        400,
        Some("KMS.DisabledException"),
    );
    kms_cli(&env, &server, &["enable-key", "--key-id", &arn_a]);
    assert_eq!(get(&s3, "clinic", "a").await, body);

    // Pending deletion refuses too; cancelling leaves the key Disabled, as AWS.
    kms_cli(
        &env,
        &server,
        &[
            "schedule-key-deletion",
            "--key-id",
            &arn_a,
            "--pending-window-in-days",
            "7",
        ],
    );
    assert_s3_err(
        s3.get_object().bucket("clinic").key("a").send().await,
        400,
        Some("KMS.KMSInvalidStateException"),
    );
    kms_cli(&env, &server, &["cancel-key-deletion", "--key-id", &arn_a]);
    assert_s3_err(
        s3.get_object().bucket("clinic").key("a").send().await,
        400,
        Some("KMS.DisabledException"),
    );
    kms_cli(&env, &server, &["enable-key", "--key-id", &arn_a]);
    assert_eq!(get(&s3, "clinic", "a").await, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_permissions_decide_who_may_use_a_key() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    let (_, arn) = create_key(&env, &server, Some("alias/study-9"));
    let (ak, sk) = user_with_key(&env, &server, "nurse");
    let allow = |actions: &str, resource: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"{resource}"}}]}}"#
        )
    };
    put_user_policy(
        &env,
        &server,
        "nurse",
        "s3",
        &allow(r#"["s3:*"]"#, "arn:aws:s3:::ward*"),
    );
    let nurse = s3_client(&server.endpoint, &ak, &sk, None);
    // The nurse's own bucket; root stores a scan in it under the study's key.
    create_bucket(&nurse, "ward").await;
    put_kms(&s3, "ward", "scan", b"study 9", Some(&arn)).await;

    // S3 rights alone do not open an object under a KMS key, nor seal one.
    assert_s3_err(
        nurse.get_object().bucket("ward").key("scan").send().await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        nurse
            .put_object()
            .bucket("ward")
            .key("new")
            .body(ByteStream::from_static(b"x"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("alias/study-9")
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // Objects under Coffer's own keys are the bucket's business only.
    put(&nurse, "ward", "plain", b"plain").await;

    put_user_policy(
        &env,
        &server,
        "nurse",
        "decrypt",
        &allow(r#"["kms:Decrypt"]"#, &arn),
    );
    assert_eq!(get(&nurse, "ward", "scan").await, b"study 9");
    assert_s3_err(
        nurse
            .put_object()
            .bucket("ward")
            .key("new")
            .body(ByteStream::from_static(b"x"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&arn)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    put_user_policy(
        &env,
        &server,
        "nurse",
        "seal",
        &allow(r#"["kms:GenerateDataKey"]"#, &arn),
    );
    put_kms(&nurse, "ward", "new", b"sealed by the nurse", Some(&arn)).await;
    assert_eq!(get(&nurse, "ward", "new").await, b"sealed by the nurse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_leaves_its_objects_unreadable_forever() {
    if !require("the aws CLI", "aws", &["--version"])
        || !require("libfaketime", "faketime", &["--version"])
    {
        return;
    }
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let alias = "alias/patient-1717";
    let (id_p, arn_p) = create_key(&env, &server, Some(alias));
    let (id_q, _) = create_key(&env, &server, None);
    let mark = marker("sse-kms-shredded");
    let body = format!("{mark} consent form ").repeat(4096).into_bytes();
    put_kms(&s3, "clinic", "p/consent", &body, Some(alias)).await;
    put_kms(&s3, "clinic", "q/consent", &body, Some(&id_q)).await;
    assert_eq!(get(&s3, "clinic", "p/consent").await, body);
    kms_cli(
        &env,
        &server,
        &[
            "schedule-key-deletion",
            "--key-id",
            &id_p,
            "--pending-window-in-days",
            "7",
        ],
    );
    let share = |id: &str| env.data().join("kms-shares").join(id.replace('-', ""));
    assert!(share(&id_p).exists() && share(&id_q).exists());
    server.stop();

    // Eight days later the start-up sweep destroys the key: its share is gone, and so is
    // every way to its objects.
    let later = SystemTime::now() + Duration::from_secs(8 * 86_400);
    let known = Expect::Known {
        access_key: ROOT_ACCESS_KEY.to_owned(),
        secret_key: ROOT_SECRET_KEY.to_owned(),
    };
    let data = env.data();
    let data = data.to_str().unwrap();
    let args = ["serve", "--data", data, "--listen", "127.0.0.1:0"];
    let mut server = env.start_program(&future_coffer(&env, 8), &args, &[], &known);
    let s3 = server.client_at(later);
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("p/consent")
            .send()
            .await,
        400,
        Some("KMS.NotFoundException"),
    );
    assert_eq!(get(&s3, "clinic", "q/consent").await, body);
    assert!(!share(&id_p).exists(), "the deleted key's share is gone");
    assert!(share(&id_q).exists());
    server.stop();

    // The attacker: the master key and a copy of everything left in the data directory,
    // on a server of their own. A new key under the old alias opens nothing either.
    let copy = env.scratch().join("stolen-data");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(env.data())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    let copy_arg = copy.to_str().unwrap();
    let stolen = env.start(
        &["serve", "--data", copy_arg, "--listen", "127.0.0.1:0"],
        &[],
        &known,
    );
    let (_, arn_new) = create_key(&env, &stolen, Some(alias));
    assert_ne!(arn_new, arn_p);
    let s3 = stolen.client();
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("p/consent")
            .send()
            .await,
        400,
        Some("KMS.NotFoundException"),
    );
    assert_eq!(get(&s3, "clinic", "q/consent").await, body);
    drop(stolen);
    assert_no_marker_anywhere(&env, &[("body", mark)], "after crypto-shredding");
}
