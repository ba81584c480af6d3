//! Issue 9: users own their buckets; another user reaches them only through the bucket's
//! policy, exactly as far as it says; a refused request changes nothing.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::common::{Server, TestEnv, bucket_names, contents, create_bucket, get, put, status_of};

/// What one operation of the matrix did: `true` if it was served.
pub(crate) async fn attempt(op: &str, s3: &Client, bucket: &str, key: &str, own: &str) -> bool {
    let status = match op {
        "GetObject" => s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "HeadObject" => s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "ListObjectsV2" => s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(key.rsplit_once('/').map_or("", |(p, _)| p))
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "HeadBucket" => s3
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "PutObject" => s3
            .put_object()
            .bucket(bucket)
            .key(format!("{key}.new"))
            .body(ByteStream::from_static(b"written"))
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "CopyFrom" => s3
            .copy_object()
            .bucket(own)
            .key("copied")
            .copy_source(format!("{bucket}/{key}"))
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "CopyInto" => s3
            .copy_object()
            .bucket(bucket)
            .key(format!("{key}.copy"))
            .copy_source(format!("{own}/mine"))
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "CreateMultipartUpload" => s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(format!("{key}.mp"))
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "DeleteObject" => s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "DeleteObjects" => s3
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .objects(ObjectIdentifier::builder().key(key).build().unwrap())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .map_or_else(
                |e| Some(status_of(&e)),
                |out| (!out.errors().is_empty()).then_some(403),
            ),
        "GetBucketPolicy" => s3
            .get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        "DeleteBucket" => s3
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .err()
            .map(|e| status_of(&e)),
        other => panic!("no such operation in the matrix: {other}"),
    };
    match status {
        // Allowed, and refused by the operation itself (DeleteBucket of a full bucket).
        None | Some(409) => true,
        // 503 SlowDown: refused signatures (an Inactive or deleted key) from one address
        // are throttled after a burst.
        Some(403 | 503) => false,
        Some(other) => panic!("{op} on {bucket}/{key}: unexpected status {other}"),
    }
}

pub(crate) const OPS: [&str; 12] = [
    "GetObject",
    "HeadObject",
    "ListObjectsV2",
    "HeadBucket",
    "PutObject",
    "CopyFrom",
    "CopyInto",
    "CreateMultipartUpload",
    "DeleteObject",
    "DeleteObjects",
    "GetBucketPolicy",
    "DeleteBucket",
];

/// A bucket policy for `photos` granting `actions` on `resource` to `user_arn`, plus
/// optional extra statements.
fn policy(user_arn: &str, actions: &[&str], resources: &[&str], extra: &str) -> String {
    let actions = serde_json::to_string(actions).unwrap();
    let resources = serde_json::to_string(resources).unwrap();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":{actions},"Resource":{resources}}}{extra}]}}"#
    )
}

/// The ARN of `--users` user `i`, in the account id the server printed.
fn user_arn(server: &Server, i: usize) -> String {
    let account = &server.vars["COFFER_ACCOUNT_ID"];
    format!("arn:aws:iam::{account}:user/user{i}")
}

async fn seeded() -> (TestEnv, Server, Client, Client) {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "2"]);
    let (owner, other) = (server.user_client(1), server.user_client(2));
    create_bucket(&owner, "photos").await;
    put(&owner, "photos", "patients/0042/scan.jpg", b"patient 42").await;
    put(&owner, "photos", "patients/0043/scan.jpg", b"patient 43").await;
    create_bucket(&other, "mine").await;
    put(&other, "mine", "mine", b"other's own object").await;
    (env, server, owner, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_bucket_is_invisible_and_untouchable_without_a_policy() {
    let (_env, server, owner, other) = seeded().await;
    let before = contents(&owner).await;

    assert_eq!(bucket_names(&other).await, ["mine"]);
    assert_eq!(bucket_names(&owner).await, ["photos"]);
    // Root sees only its own buckets in ListBuckets, but may act on any by name.
    assert!(bucket_names(&server.client()).await.is_empty());
    assert_eq!(
        get(&server.client(), "photos", "patients/0042/scan.jpg").await,
        b"patient 42"
    );

    for op in OPS {
        assert!(
            !attempt(op, &other, "photos", "patients/0042/scan.jpg", "mine").await,
            "{op} by another user without a policy was served"
        );
    }
    assert_eq!(
        contents(&owner).await,
        before,
        "a refused request changed something"
    );
    // The owner itself is not limited.
    for op in [
        "GetObject",
        "ListObjectsV2",
        "PutObject",
        "CreateMultipartUpload",
    ] {
        assert!(attempt(op, &owner, "photos", "patients/0042/scan.jpg", "photos").await);
    }
}

/// Each scenario: a bucket policy (or none), and which operations on
/// `patients/0042/scan.jpg` (and, for the prefix scenario, on `patients/0043/…`) it allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_policy_lets_another_user_in_exactly_as_far_as_it_says() {
    let (_env, server, owner, other) = seeded().await;
    let bob = user_arn(&server, 2);
    let read_only = policy(
        &bob,
        &["s3:GetObject", "s3:ListBucket"],
        &["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
        "",
    );
    let write_only = policy(&bob, &["s3:PutObject"], &["arn:aws:s3:::photos/*"], "");
    let prefix_scoped = policy(
        &bob,
        &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        &["arn:aws:s3:::photos/patients/0042/*"],
        "",
    );
    let deny_over_allow = policy(
        &bob,
        &["s3:*"],
        &["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
        &format!(
            r#",{{"Effect":"Deny","Principal":{{"AWS":"{bob}"}},"Action":["s3:DeleteObject","s3:PutObject"],"Resource":"arn:aws:s3:::photos/*"}}"#
        ),
    );
    let scenarios: [(&str, &str, &[&str]); 4] = [
        (
            "read-only",
            &read_only,
            &[
                "GetObject",
                "HeadObject",
                "ListObjectsV2",
                "HeadBucket",
                "CopyFrom",
            ],
        ),
        (
            "write-only",
            &write_only,
            &["PutObject", "CopyInto", "CreateMultipartUpload"],
        ),
        (
            "prefix-scoped",
            &prefix_scoped,
            &[
                "GetObject",
                "HeadObject",
                "PutObject",
                "CopyFrom",
                "CopyInto",
                "CreateMultipartUpload",
                "DeleteObject",
                "DeleteObjects",
            ],
        ),
        (
            "deny over allow",
            &deny_over_allow,
            &[
                "GetObject",
                "HeadObject",
                "ListObjectsV2",
                "HeadBucket",
                "CopyFrom",
                "GetBucketPolicy",
                "DeleteBucket",
            ],
        ),
    ];
    for (name, text, allowed) in scenarios {
        owner
            .put_bucket_policy()
            .bucket("photos")
            .policy(text)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for op in OPS {
            // Deletes would change the fixture for the next op: run them last, on a copy.
            let key = if op.starts_with("Delete") {
                put(&owner, "photos", "patients/0042/victim.jpg", b"victim").await;
                "patients/0042/victim.jpg"
            } else {
                "patients/0042/scan.jpg"
            };
            let before = contents(&owner).await;
            let was_served = attempt(op, &other, "photos", key, "mine").await;
            assert_eq!(
                was_served,
                allowed.contains(&op),
                "{name}: {op} served={was_served}"
            );
            if !was_served {
                assert_eq!(
                    contents(&owner).await,
                    before,
                    "{name}: refused {op} changed something"
                );
            }
        }
        if name == "prefix-scoped" {
            assert!(
                !attempt(
                    "GetObject",
                    &other,
                    "photos",
                    "patients/0043/scan.jpg",
                    "mine"
                )
                .await,
                "a prefix-scoped grant reached another patient"
            );
        }
        // Clean up what the allowed writes left, for the next scenario.
        for stray in ["patients/0042/scan.jpg.new", "patients/0042/scan.jpg.copy"] {
            let _ = owner
                .delete_object()
                .bucket("photos")
                .key(stray)
                .send()
                .await;
        }
    }
    // Without the policy, nothing again.
    owner
        .delete_bucket_policy()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert!(
        !attempt(
            "GetObject",
            &other,
            "photos",
            "patients/0042/scan.jpg",
            "mine"
        )
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_for_another_bucket_or_everyone_is_refused() {
    let (_env, server, owner, _other) = seeded().await;
    let bob = user_arn(&server, 2);
    let elsewhere = policy(&bob, &["s3:GetObject"], &["arn:aws:s3:::mine/*"], "");
    let err = owner
        .put_bucket_policy()
        .bucket("photos")
        .policy(elsewhere)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 400);
    let everyone = policy("*", &["s3:GetObject"], &["arn:aws:s3:::photos/*"], "");
    let err = owner
        .put_bucket_policy()
        .bucket("photos")
        .policy(everyone)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 403);
}
