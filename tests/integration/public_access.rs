//! P2: nothing can be made public. ACL, bucket-policy and Public Access Block APIs answer as
//! a locked-down AWS account does; every request that would open a door is refused with
//! `AccessDenied` ("public access is disabled in Coffer") and changes nothing. After each
//! test, an unsigned GET is still refused and the visible state is what it was.

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, Permission,
    PublicAccessBlockConfiguration, Type,
};

use crate::clients::{require, run_ok, tool};
use crate::common::raw;
use crate::common::{Server, TestEnv, assert_s3_err, create_bucket, put, status_of};

const REFUSAL: &str = "public access is disabled in Coffer";
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Every bucket, key and body visible to root through signed requests.
pub(crate) async fn snapshot(server: &Server) -> Vec<(String, Vec<(String, Vec<u8>)>)> {
    crate::common::contents(&server.client()).await
}

/// An unsigned GET of an existing object and an unsigned listing are still refused.
pub(crate) async fn assert_still_private(server: &Server, bucket: &str, key: &str) {
    for path in [
        format!("/{bucket}/{key}"),
        format!("/{bucket}"),
        "/".to_owned(),
    ] {
        let resp = raw::request(server.addr, "GET", &path, &[], b"").await;
        assert_eq!(resp.status, 403, "unsigned GET {path}: {}", resp.text());
        assert_eq!(resp.s3_code().as_deref(), Some("AccessDenied"));
    }
}

#[track_caller]
fn assert_public_refused<T: std::fmt::Debug, E>(what: &str, res: Result<T, SdkError<E>>)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match res {
        Ok(v) => panic!("{what}: expected 403 AccessDenied, got success: {v:?}"),
        Err(e) => {
            let detail = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            assert_eq!(status_of(&e), 403, "{what}: {detail}");
            assert_eq!(e.code(), Some("AccessDenied"), "{what}: {detail}");
            assert_eq!(e.message(), Some(REFUSAL), "{what}: {detail}");
        }
    }
}

fn group(uri: &str) -> Grantee {
    Grantee::builder()
        .r#type(Type::Group)
        .uri(uri)
        .build()
        .unwrap()
}

fn acl_document(owner_id: &str, grantee: Grantee, permission: Permission) -> AccessControlPolicy {
    AccessControlPolicy::builder()
        .owner(
            aws_sdk_s3::types::Owner::builder()
                .id(owner_id)
                .display_name(owner_id)
                .build(),
        )
        .grants(
            Grant::builder()
                .grantee(grantee)
                .permission(permission)
                .build(),
        )
        .build()
}

async fn seeded() -> (TestEnv, Server, Client) {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"patient scan").await;
    (env, server, s3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_acls_report_owner_only_and_refuse_public_grants() {
    let (_env, server, s3) = seeded().await;
    let before = snapshot(&server).await;

    // Reads: the owner, FULL_CONTROL, nobody else.
    let acl = s3.get_bucket_acl().bucket("clinic").send().await.unwrap();
    let owner_id = acl.owner().and_then(|o| o.id()).unwrap().to_owned();
    assert_eq!(acl.grants().len(), 1, "{acl:?}");
    let grant = &acl.grants()[0];
    assert_eq!(grant.permission(), Some(&Permission::FullControl));
    assert_eq!(grant.grantee().unwrap().r#type(), &Type::CanonicalUser);
    assert_eq!(grant.grantee().unwrap().id(), Some(owner_id.as_str()));
    let acl = s3
        .get_object_acl()
        .bucket("clinic")
        .key("scan.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.grants()[0].permission(), Some(&Permission::FullControl));
    assert_s3_err(
        s3.get_object_acl()
            .bucket("clinic")
            .key("missing")
            .send()
            .await,
        404,
        Some("NoSuchKey"),
    );

    // Private forms are accepted (and change nothing).
    s3.put_bucket_acl()
        .bucket("clinic")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    for acl in [
        ObjectCannedAcl::Private,
        ObjectCannedAcl::BucketOwnerFullControl,
    ] {
        s3.put_object_acl()
            .bucket("clinic")
            .key("scan.jpg")
            .acl(acl)
            .send()
            .await
            .unwrap();
    }
    let owner_only = acl_document(
        &owner_id,
        Grantee::builder()
            .r#type(Type::CanonicalUser)
            .id(&owner_id)
            .build()
            .unwrap(),
        Permission::FullControl,
    );
    s3.put_bucket_acl()
        .bucket("clinic")
        .access_control_policy(owner_only.clone())
        .send()
        .await
        .unwrap();
    s3.put_object_acl()
        .bucket("clinic")
        .key("scan.jpg")
        .access_control_policy(owner_only)
        .send()
        .await
        .unwrap();

    // Public canned ACLs.
    for acl in [
        BucketCannedAcl::PublicRead,
        BucketCannedAcl::PublicReadWrite,
        BucketCannedAcl::AuthenticatedRead,
    ] {
        assert_public_refused(
            &format!("PutBucketAcl {acl:?}"),
            s3.put_bucket_acl()
                .bucket("clinic")
                .acl(acl.clone())
                .send()
                .await,
        );
    }
    for acl in [
        ObjectCannedAcl::PublicRead,
        ObjectCannedAcl::PublicReadWrite,
        ObjectCannedAcl::AuthenticatedRead,
    ] {
        assert_public_refused(
            &format!("PutObjectAcl {acl:?}"),
            s3.put_object_acl()
                .bucket("clinic")
                .key("scan.jpg")
                .acl(acl.clone())
                .send()
                .await,
        );
    }
    // Group grants, in the document and in the headers.
    for uri in [ALL_USERS, AUTHENTICATED_USERS] {
        let doc = acl_document(&owner_id, group(uri), Permission::Read);
        assert_public_refused(
            "PutBucketAcl group grant",
            s3.put_bucket_acl()
                .bucket("clinic")
                .access_control_policy(doc.clone())
                .send()
                .await,
        );
        assert_public_refused(
            "PutObjectAcl group grant",
            s3.put_object_acl()
                .bucket("clinic")
                .key("scan.jpg")
                .access_control_policy(doc)
                .send()
                .await,
        );
        assert_public_refused(
            "PutBucketAcl x-amz-grant-read",
            s3.put_bucket_acl()
                .bucket("clinic")
                .grant_read(format!("uri=\"{uri}\""))
                .send()
                .await,
        );
    }
    // A grant to an id that names no Coffer user (grants to users: acl_grants.rs).
    assert_s3_err(
        s3.put_bucket_acl()
            .bucket("clinic")
            .grant_read("id=\"someone-else\"")
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );

    // The header forms on the operations that create things: refused, nothing created.
    assert_public_refused(
        "CreateBucket x-amz-acl",
        s3.create_bucket()
            .bucket("opened")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
    );
    assert_public_refused(
        "CreateBucket x-amz-grant-read",
        s3.create_bucket()
            .bucket("opened")
            .grant_read(format!("uri=\"{ALL_USERS}\""))
            .send()
            .await,
    );
    assert_public_refused(
        "PutObject x-amz-acl",
        s3.put_object()
            .bucket("clinic")
            .key("scan.jpg")
            .acl(ObjectCannedAcl::PublicRead)
            .body(b"replaced".to_vec().into())
            .send()
            .await,
    );
    assert_public_refused(
        "PutObject x-amz-grant-read",
        s3.put_object()
            .bucket("clinic")
            .key("new.jpg")
            .grant_read(format!("uri=\"{AUTHENTICATED_USERS}\""))
            .body(b"new".to_vec().into())
            .send()
            .await,
    );
    assert_public_refused(
        "CopyObject x-amz-acl",
        s3.copy_object()
            .bucket("clinic")
            .key("copy.jpg")
            .copy_source("clinic/scan.jpg")
            .acl(ObjectCannedAcl::PublicReadWrite)
            .send()
            .await,
    );
    assert_public_refused(
        "CreateMultipartUpload x-amz-acl",
        s3.create_multipart_upload()
            .bucket("clinic")
            .key("big.mp4")
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await,
    );

    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "clinic", "scan.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_bucket_policies_with_wildcard_principals_are_refused() {
    let (_env, server, s3) = seeded().await;
    let before = snapshot(&server).await;

    let statement = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Open","Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::clinic/*"}}]}}"#
        )
    };
    for principal in [r#""*""#, r#"{"AWS":"*"}"#, r#"{"AWS":["*"]}"#] {
        assert_public_refused(
            &format!("PutBucketPolicy {principal}"),
            s3.put_bucket_policy()
                .bucket("clinic")
                .policy(statement(principal))
                .send()
                .await,
        );
    }
    assert_s3_err(
        s3.put_bucket_policy()
            .bucket("clinic")
            .policy("{\"Statement\": [")
            .send()
            .await,
        400,
        Some("MalformedPolicy"),
    );
    let status = s3
        .get_bucket_policy_status()
        .bucket("clinic")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status
            .policy_status()
            .and_then(aws_sdk_s3::types::PolicyStatus::is_public),
        Some(false)
    );
    assert_s3_err(
        s3.get_bucket_policy().bucket("clinic").send().await,
        404,
        Some("NoSuchBucketPolicy"),
    );

    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "clinic", "scan.jpg").await;

    // A policy naming one user is not public: it is kept, and read back as given.
    let named = statement(r#"{"AWS":"arn:aws:iam::123456789012:user/alice"}"#);
    s3.put_bucket_policy()
        .bucket("clinic")
        .policy(&named)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_policy()
        .bucket("clinic")
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), Some(named.as_str()));
    s3.delete_bucket_policy()
        .bucket("clinic")
        .send()
        .await
        .unwrap();
    assert_s3_err(
        s3.get_bucket_policy().bucket("clinic").send().await,
        404,
        Some("NoSuchBucketPolicy"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_public_access_block_stays_on() {
    let (_env, server, s3) = seeded().await;
    let before = snapshot(&server).await;

    let all_on = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    let assert_all_on =
        |out: &aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockOutput| {
            let c = out.public_access_block_configuration().unwrap();
            assert_eq!(c.block_public_acls(), Some(true));
            assert_eq!(c.ignore_public_acls(), Some(true));
            assert_eq!(c.block_public_policy(), Some(true));
            assert_eq!(c.restrict_public_buckets(), Some(true));
        };
    assert_all_on(
        &s3.get_public_access_block()
            .bucket("clinic")
            .send()
            .await
            .unwrap(),
    );
    s3.put_public_access_block()
        .bucket("clinic")
        .public_access_block_configuration(all_on)
        .send()
        .await
        .unwrap();

    for off in 0..4 {
        let flag = |i| i != off;
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(flag(0))
            .ignore_public_acls(flag(1))
            .block_public_policy(flag(2))
            .restrict_public_buckets(flag(3))
            .build();
        assert_public_refused(
            &format!("PutPublicAccessBlock with flag {off} off"),
            s3.put_public_access_block()
                .bucket("clinic")
                .public_access_block_configuration(config)
                .send()
                .await,
        );
    }
    // A flag left out means off.
    assert_public_refused(
        "PutPublicAccessBlock with flags missing",
        s3.put_public_access_block()
            .bucket("clinic")
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .build(),
            )
            .send()
            .await,
    );
    assert_public_refused(
        "DeletePublicAccessBlock",
        s3.delete_public_access_block()
            .bucket("clinic")
            .send()
            .await,
    );
    assert_all_on(
        &s3.get_public_access_block()
            .bucket("clinic")
            .send()
            .await
            .unwrap(),
    );

    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "clinic", "scan.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_public_canned_acls_from_boto3_and_the_aws_cli_are_refused() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"patient scan").await;
    let before = snapshot(&server).await;

    if require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/integration/py/boto3_public_access.py");
        let mut cmd = tool(&env, &server, "python3");
        cmd.arg(&script);
        let out = run_ok(cmd);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("boto3 public access refused ok"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    if require("the aws CLI", "aws", &["--version"]) {
        let file = env.scratch().join("upload.txt");
        std::fs::write(&file, b"would be public").unwrap();
        let file = file.to_str().unwrap();
        let attempts: [&[&str]; 5] = [
            &[
                "s3",
                "cp",
                file,
                "s3://clinic/public.txt",
                "--acl",
                "public-read",
            ],
            &[
                "s3api",
                "put-bucket-acl",
                "--bucket",
                "clinic",
                "--acl",
                "public-read",
            ],
            &[
                "s3api",
                "put-object-acl",
                "--bucket",
                "clinic",
                "--key",
                "scan.jpg",
                "--acl",
                "public-read",
            ],
            &[
                "s3api",
                "put-bucket-policy",
                "--bucket",
                "clinic",
                "--policy",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::clinic/*"}]}"#,
            ],
            &["s3api", "delete-public-access-block", "--bucket", "clinic"],
        ];
        for args in attempts {
            let mut cmd = tool(&env, &server, "aws");
            cmd.args(args);
            let out = cmd.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "aws {args:?} succeeded");
            assert!(
                err.contains("AccessDenied") && err.contains(REFUSAL),
                "aws {args:?}: {err}"
            );
        }
    }

    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "clinic", "scan.jpg").await;
}
