//! Object Lock as AWS does it (issue 10): buckets created with it, default retention,
//! GOVERNANCE and COMPLIANCE retention against every way to remove data (as root and as a
//! user), the GOVERNANCE bypass (header and permission, both needed), legal holds, expiry,
//! and the Content-MD5/checksum rule for writes that set a lock.
//!
//! Users are made through the IAM API (aws CLI). As between AWS accounts, a user reaches
//! root's bucket through the bucket's policy: the clerk is granted everything but
//! s3:BypassGovernanceRetention, the supervisor s3:*; a user's own bucket is fully its own
//! unless an identity policy denies.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, ObjectLockRule,
};

use crate::clients::require;
use crate::common::iam_cli::{put_user_policy, user_arn, user_with_key};
use crate::common::versions::{delete_to_marker, get_version, put_version};
use crate::common::{
    Server, TestEnv, assert_s3_err, create_bucket, md5_base64, raw, s3_config, sign,
};

const B: &str = "locked";

async fn create_locked_bucket(s3: &Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create locked bucket: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
}

fn in_secs(secs: i64) -> DateTime {
    let now = SystemTime::now();
    let at = if secs >= 0 {
        now + Duration::from_secs(secs.unsigned_abs())
    } else {
        now - Duration::from_secs(secs.unsigned_abs())
    };
    DateTime::from(at)
}

fn retention(mode: &ObjectLockMode, until: DateTime) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::from(mode.as_str()))
        .retain_until_date(until)
        .build()
}

/// PutObject with a retention (the SDK adds its default CRC32 checksum); the version id.
async fn put_locked(
    s3: &Client,
    bucket: &str,
    key: &str,
    mode: &ObjectLockMode,
    until: DateTime,
) -> String {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .object_lock_mode(mode.clone())
        .object_lock_retain_until_date(until)
        .body(ByteStream::from(format!("kept: {key}").into_bytes()))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "put locked {key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    out.version_id().expect("version id").to_owned()
}

/// A user client in the server's region.
fn client_for(server: &Server, key: &(String, String)) -> Client {
    Client::from_conf(
        s3_config(&server.endpoint, &key.0, &key.1, None)
            .region(aws_sdk_s3::config::Region::new(server.region.clone()))
            .build(),
    )
}

/// DeleteObjects of one version: the error code for it (`None`: deleted).
async fn delete_objects_one(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: &str,
    bypass: bool,
) -> Option<String> {
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .set_bypass_governance_retention(bypass.then_some(true))
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key(key)
                        .version_id(version)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "delete objects: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    match (out.deleted(), out.errors()) {
        ([d], []) => {
            assert_eq!(d.version_id(), Some(version));
            None
        }
        ([], [e]) => {
            assert_eq!(e.key(), Some(key));
            assert_eq!(e.version_id(), Some(version));
            Some(e.code().expect("error code").to_owned())
        }
        other => panic!("one key, one answer: {other:?}"),
    }
}

/// Every way `who` could remove or shorten the locked version `(key, v)`, none of which
/// may work without the bypass; overwriting and delete markers work and keep `v`.
async fn nothing_removes(who: &str, s3: &Client, key: &str, v: &str, mode: &ObjectLockMode) {
    let ctx = format!("{who}, {}", mode.as_str());
    let res = s3
        .delete_object()
        .bucket(B)
        .key(key)
        .version_id(v)
        .send()
        .await;
    assert_s3_err(res, 403, Some("AccessDenied"));
    assert_eq!(
        delete_objects_one(s3, B, key, v, false).await.as_deref(),
        Some("AccessDenied"),
        "{ctx}: DeleteObjects"
    );
    // A shorter retention, or none, is refused; a longer one is not.
    let res = s3
        .put_object_retention()
        .bucket(B)
        .key(key)
        .version_id(v)
        .retention(retention(mode, in_secs(60)))
        .send()
        .await;
    assert_s3_err(res, 403, Some("AccessDenied"));
    if mode.as_str() == "COMPLIANCE" {
        let res = s3
            .put_object_retention()
            .bucket(B)
            .key(key)
            .version_id(v)
            .retention(retention(&ObjectLockMode::Governance, in_secs(7200)))
            .send()
            .await;
        assert_s3_err(res, 403, Some("AccessDenied"));
    }
    s3.put_object_retention()
        .bucket(B)
        .key(key)
        .version_id(v)
        .retention(retention(mode, in_secs(7200)))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{ctx}: extend: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    // Overwrite: a new version on top, the locked one untouched.
    let newer = put_version(s3, B, key, b"overwritten").await;
    assert_ne!(newer, v);
    assert_eq!(
        get_version(s3, B, key, v).await,
        format!("kept: {key}").as_bytes()
    );
    // A delete marker hides it but removes nothing.
    delete_to_marker(s3, B, key).await;
    assert_eq!(
        get_version(s3, B, key, v).await,
        format!("kept: {key}").as_bytes()
    );
    assert_s3_err(
        s3.delete_bucket().bucket(B).send().await,
        409,
        Some("BucketNotEmpty"),
    );
    let got = s3
        .get_object_retention()
        .bucket(B)
        .key(key)
        .version_id(v)
        .send()
        .await
        .unwrap();
    let r = got.retention().unwrap();
    assert_eq!(
        r.mode().map(ObjectLockRetentionMode::as_str),
        Some(mode.as_str()),
        "{ctx}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_enabled_buckets_are_versioned_and_apply_default_retention() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_locked_bucket(&s3, B).await;
    let v = s3.get_bucket_versioning().bucket(B).send().await.unwrap();
    assert_eq!(
        v.status()
            .map(aws_sdk_s3::types::BucketVersioningStatus::as_str),
        Some("Enabled")
    );
    let cfg = s3
        .get_object_lock_configuration()
        .bucket(B)
        .send()
        .await
        .unwrap();
    let cfg = cfg.object_lock_configuration().unwrap();
    assert_eq!(cfg.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(cfg.rule().is_none());
    // Versioning of a locked bucket cannot be suspended.
    let res = s3
        .put_bucket_versioning()
        .bucket(B)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await;
    assert_s3_err(res, 409, Some("InvalidBucketState"));

    // A plain bucket has no configuration, and takes none while unversioned.
    create_bucket(&s3, "plain").await;
    assert_s3_err(
        s3.get_object_lock_configuration()
            .bucket("plain")
            .send()
            .await,
        404,
        Some("ObjectLockConfigurationNotFoundError"),
    );
    put_version_less(&s3, "plain").await;
    let res = s3
        .put_object_retention()
        .bucket("plain")
        .key("k")
        .retention(retention(&ObjectLockMode::Governance, in_secs(3600)))
        .send()
        .await;
    assert_s3_err(res, 400, Some("InvalidRequest"));
    let res = s3
        .put_object()
        .bucket("plain")
        .key("k2")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(3600))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err(res, 400, Some("InvalidRequest"));

    // Before a default: a new version has no retention.
    let before = put_version(&s3, B, "k", b"before").await;
    assert_s3_err(
        s3.get_object_retention()
            .bucket(B)
            .key("k")
            .version_id(&before)
            .send()
            .await,
        404,
        Some("NoSuchObjectLockConfiguration"),
    );
    let config = |mode: ObjectLockRetentionMode, days: i32| {
        ObjectLockConfiguration::builder()
            .object_lock_enabled(ObjectLockEnabled::Enabled)
            .rule(
                ObjectLockRule::builder()
                    .default_retention(DefaultRetention::builder().mode(mode).days(days).build())
                    .build(),
            )
            .build()
    };
    s3.put_object_lock_configuration()
        .bucket(B)
        .object_lock_configuration(config(ObjectLockRetentionMode::Governance, 2))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_lock_configuration()
        .bucket(B)
        .send()
        .await
        .unwrap();
    let rule = got
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .expect("the default retention");
    assert_eq!(rule.mode(), Some(&ObjectLockRetentionMode::Governance));
    assert_eq!(rule.days(), Some(2));
    assert_eq!(rule.years(), None);

    // After: a new version (PUT, and a copy) gets it; the old one keeps none.
    let start = SystemTime::now();
    let after = put_version(&s3, B, "k", b"after").await;
    let copied = s3
        .copy_object()
        .bucket(B)
        .key("copy")
        .copy_source(format!("{B}/k?versionId={before}"))
        .send()
        .await
        .unwrap();
    let copied = copied.version_id().unwrap().to_owned();
    for (key, v) in [("k", &after), ("copy", &copied)] {
        let r = s3
            .get_object_retention()
            .bucket(B)
            .key(key)
            .version_id(v)
            .send()
            .await
            .unwrap();
        let r = r.retention().unwrap();
        assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Governance));
        let until = SystemTime::try_from(*r.retain_until_date().unwrap()).unwrap();
        let two_days = Duration::from_secs(2 * 86_400);
        assert!(
            until >= start + two_days - Duration::from_secs(5)
                && until <= SystemTime::now() + two_days + Duration::from_secs(5),
            "{key}: retain until {until:?}"
        );
        let head = s3
            .head_object()
            .bucket(B)
            .key(key)
            .version_id(v)
            .send()
            .await
            .unwrap();
        assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
        assert!(head.object_lock_retain_until_date().is_some());
    }
    assert_s3_err(
        s3.delete_object()
            .bucket(B)
            .key("k")
            .version_id(&after)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    s3.delete_object()
        .bucket(B)
        .key("k")
        .version_id(&before)
        .send()
        .await
        .expect("a version without retention may go");
    // Explicit headers win over the default.
    let explicit = put_locked(&s3, B, "e", &ObjectLockMode::Compliance, in_secs(600)).await;
    let r = s3
        .get_object_retention()
        .bucket(B)
        .key("e")
        .version_id(&explicit)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.retention().unwrap().mode(),
        Some(&ObjectLockRetentionMode::Compliance)
    );
    // COMPLIANCE by default, in years.
    s3.put_object_lock_configuration()
        .bucket(B)
        .object_lock_configuration(config(ObjectLockRetentionMode::Compliance, 1))
        .send()
        .await
        .unwrap();
    let c = put_version(&s3, B, "c", b"c").await;
    let head = s3
        .head_object()
        .bucket(B)
        .key("c")
        .version_id(&c)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
}

/// A bucket with one object, unversioned.
async fn put_version_less(s3: &Client, bucket: &str) {
    crate::common::put(s3, bucket, "k", b"plain").await;
}

/// Root's locked bucket, reached by `clerk` (everything but the bypass) and `supervisor`
/// (s3:*) through its bucket policy; both made through the IAM API.
async fn locked_with_users(env: &TestEnv, server: &Server) -> (Client, Client, Client) {
    let s3 = server.client();
    create_locked_bucket(&s3, B).await;
    let clerk = user_with_key(env, server, "clerk");
    let supervisor = user_with_key(env, server, "supervisor");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"{clerk}"}},"NotAction":"s3:BypassGovernanceRetention","Resource":["arn:aws:s3:::{B}","arn:aws:s3:::{B}/*"]}},
          {{"Effect":"Allow","Principal":{{"AWS":"{supervisor}"}},"Action":"s3:*","Resource":["arn:aws:s3:::{B}","arn:aws:s3:::{B}/*"]}}]}}"#,
        clerk = user_arn(env, server, "clerk"),
        supervisor = user_arn(env, server, "supervisor"),
    );
    s3.put_bucket_policy()
        .bucket(B)
        .policy(policy)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "bucket policy: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    (
        s3,
        client_for(server, &clerk),
        client_for(server, &supervisor),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_refuses_every_removal_to_root_and_users_in_both_modes() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let (root, clerk, _) = locked_with_users(&env, &server).await;
    for mode in [ObjectLockMode::Governance, ObjectLockMode::Compliance] {
        for (who, s3) in [("root", &root), ("clerk", &clerk)] {
            let key = format!("{who}-{}", mode.as_str());
            // The clerk writes its own locked versions too.
            let v = put_locked(s3, B, &key, &mode, in_secs(3600)).await;
            nothing_removes(who, s3, &key, &v, &mode).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_bypass_needs_the_header_and_the_permission_compliance_has_none() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let (root, clerk, supervisor) = locked_with_users(&env, &server).await;
    let gov = ObjectLockMode::Governance;
    let comp = ObjectLockMode::Compliance;

    let v = put_locked(&root, B, "g", &gov, in_secs(3600)).await;
    // Without the header: refused to everyone, root included.
    for s3 in [&root, &supervisor, &clerk] {
        assert_s3_err(
            s3.delete_object()
                .bucket(B)
                .key("g")
                .version_id(&v)
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
    }
    // The header without the permission: refused as a whole, on every operation.
    assert_s3_err(
        clerk
            .delete_object()
            .bucket(B)
            .key("g")
            .version_id(&v)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    let res = clerk
        .delete_objects()
        .bucket(B)
        .bypass_governance_retention(true)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("g")
                        .version_id(&v)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_s3_err(res, 403, Some("AccessDenied"));
    assert_s3_err(
        clerk
            .put_object_retention()
            .bucket(B)
            .key("g")
            .version_id(&v)
            .bypass_governance_retention(true)
            .retention(retention(&gov, in_secs(60)))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(get_version(&root, B, "g", &v).await, b"kept: g");

    // Header and permission: the supervisor shortens, DeleteObjects removes.
    supervisor
        .put_object_retention()
        .bucket(B)
        .key("g")
        .version_id(&v)
        .bypass_governance_retention(true)
        .retention(retention(&gov, in_secs(1800)))
        .send()
        .await
        .expect("shorten GOVERNANCE with bypass");
    assert_eq!(
        delete_objects_one(&supervisor, B, "g", &v, true).await,
        None
    );
    // Root may bypass too, with the header.
    let v2 = put_locked(&clerk, B, "g", &gov, in_secs(3600)).await;
    root.delete_object()
        .bucket(B)
        .key("g")
        .version_id(&v2)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("root bypasses GOVERNANCE with the header");
    let v3 = put_locked(&root, B, "g", &gov, in_secs(3600)).await;
    supervisor
        .delete_object()
        .bucket(B)
        .key("g")
        .version_id(&v3)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("supervisor bypasses GOVERNANCE");

    // COMPLIANCE: nobody, with or without the header.
    let c = put_locked(&root, B, "c", &comp, in_secs(3600)).await;
    for s3 in [&root, &supervisor] {
        assert_s3_err(
            s3.delete_object()
                .bucket(B)
                .key("c")
                .version_id(&c)
                .bypass_governance_retention(true)
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
        assert_eq!(
            delete_objects_one(s3, B, "c", &c, true).await.as_deref(),
            Some("AccessDenied")
        );
        assert_s3_err(
            s3.put_object_retention()
                .bucket(B)
                .key("c")
                .version_id(&c)
                .bypass_governance_retention(true)
                .retention(retention(&comp, in_secs(60)))
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
        // Not even down to GOVERNANCE.
        assert_s3_err(
            s3.put_object_retention()
                .bucket(B)
                .key("c")
                .version_id(&c)
                .bypass_governance_retention(true)
                .retention(retention(&gov, in_secs(7200)))
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
    }
    assert_eq!(get_version(&root, B, "c", &c).await, b"kept: c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_own_bucket_is_bypassable_until_an_identity_policy_denies_it() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let key = user_with_key(&env, &server, "keeper");
    let keeper = client_for(&server, &key);
    create_locked_bucket(&keeper, B).await;
    let gov = ObjectLockMode::Governance;
    let v = put_locked(&keeper, B, "g", &gov, in_secs(3600)).await;
    assert_s3_err(
        keeper
            .delete_object()
            .bucket(B)
            .key("g")
            .version_id(&v)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // The owner has full control: the bypass included.
    keeper
        .delete_object()
        .bucket(B)
        .key("g")
        .version_id(&v)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("owner bypasses GOVERNANCE");
    // An inline policy denying the bypass takes it away.
    put_user_policy(
        &env,
        &server,
        "keeper",
        "no-bypass",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}]}"#,
    );
    let v = put_locked(&keeper, B, "g", &gov, in_secs(3600)).await;
    assert_s3_err(
        keeper
            .delete_object()
            .bucket(B)
            .key("g")
            .version_id(&v)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(get_version(&keeper, B, "g", &v).await, b"kept: g");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legal_hold_is_independent_and_retention_expires() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_locked_bucket(&s3, B).await;
    let hold = |on: bool| {
        ObjectLockLegalHold::builder()
            .status(if on {
                ObjectLockLegalHoldStatus::On
            } else {
                ObjectLockLegalHoldStatus::Off
            })
            .build()
    };

    // Short retentions first, so their clock runs while the legal hold is tested.
    let started = SystemTime::now();
    let until = in_secs(3);
    let g = put_locked(&s3, B, "g", &ObjectLockMode::Governance, until).await;
    let c = put_locked(&s3, B, "c", &ObjectLockMode::Compliance, until).await;

    // A hold, no retention: nothing deletes it, not even root with the bypass.
    let h = put_version(&s3, B, "h", b"held").await;
    s3.put_object_legal_hold()
        .bucket(B)
        .key("h")
        .version_id(&h)
        .legal_hold(hold(true))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_legal_hold()
        .bucket(B)
        .key("h")
        .version_id(&h)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.legal_hold().and_then(|l| l.status()),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    assert_s3_err(
        s3.get_object_retention()
            .bucket(B)
            .key("h")
            .version_id(&h)
            .send()
            .await,
        404,
        Some("NoSuchObjectLockConfiguration"),
    );
    assert_s3_err(
        s3.delete_object()
            .bucket(B)
            .key("h")
            .version_id(&h)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(
        delete_objects_one(&s3, B, "h", &h, true).await.as_deref(),
        Some("AccessDenied")
    );
    // A hold set on PUT, on a version that also has an expiring retention.
    let hr = s3
        .put_object()
        .bucket(B)
        .key("hr")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(until)
        .body(ByteStream::from_static(b"held and retained"))
        .send()
        .await
        .unwrap();
    let hr = hr.version_id().unwrap().to_owned();
    // Hold off: deletable again.
    s3.put_object_legal_hold()
        .bucket(B)
        .key("h")
        .version_id(&h)
        .legal_hold(hold(false))
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(B)
        .key("h")
        .version_id(&h)
        .send()
        .await
        .expect("hold off: the version may go");

    // Retention until it passes (server time), then the delete succeeds.
    for (key, v) in [("g", &g), ("c", &c)] {
        assert_s3_err(
            s3.delete_object()
                .bucket(B)
                .key(key)
                .version_id(v)
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
    }
    let wait = (started + Duration::from_secs(4)).duration_since(SystemTime::now());
    tokio::time::sleep(wait.unwrap_or_default()).await;
    for (key, v) in [("g", &g), ("c", &c)] {
        s3.delete_object()
            .bucket(B)
            .key(key)
            .version_id(v)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{key}: retention passed, yet: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            });
    }
    // The expired retention no longer matters; the hold still does.
    assert_s3_err(
        s3.delete_object()
            .bucket(B)
            .key("hr")
            .version_id(&hr)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    s3.put_object_legal_hold()
        .bucket(B)
        .key("hr")
        .version_id(&hr)
        .legal_hold(hold(false))
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(B)
        .key("hr")
        .version_id(&hr)
        .send()
        .await
        .unwrap();
    // Nothing left: the bucket may go.
    s3.delete_bucket().bucket(B).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_setting_a_lock_needs_content_md5_or_a_checksum() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_locked_bucket(&s3, B).await;
    let until = aws_smithy_types::DateTime::from(SystemTime::now() + Duration::from_secs(600))
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let body = b"kept for years";
    let md5 = md5_base64(body);
    let send = |key: &'static str, with_md5: bool| {
        let until = until.clone();
        let md5 = md5.clone();
        let server = &server;
        async move {
            let mut headers = vec![
                ("x-amz-object-lock-mode", "COMPLIANCE".to_owned()),
                ("x-amz-object-lock-retain-until-date", until),
            ];
            if with_md5 {
                headers.push(("content-md5", md5));
            }
            let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let signed = sign::sign_v4_headers_in(
                &server.region,
                &server.access_key,
                &server.secret_key,
                "PUT",
                &format!("{}/{B}/{key}", server.endpoint),
                &refs,
                &sign::Payload::Bytes(body),
                SystemTime::now(),
            );
            raw::request(
                server.addr,
                "PUT",
                &signed.path_and_query,
                &signed.header_refs(),
                body,
            )
            .await
        }
    };
    let refused = send("no-md5", false).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.s3_code().as_deref(), Some("InvalidRequest"));
    assert_s3_err(
        s3.head_object().bucket(B).key("no-md5").send().await,
        404,
        None,
    );
    let ok = send("md5", true).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.header("x-amz-version-id").is_some());
    let head = s3.head_object().bucket(B).key("md5").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    // A legal hold alone counts as a lock setting too.
    let signed = sign::sign_v4_headers_in(
        &server.region,
        &server.access_key,
        &server.secret_key,
        "PUT",
        &format!("{}/{B}/hold", server.endpoint),
        &[("x-amz-object-lock-legal-hold", "ON")],
        &sign::Payload::Bytes(body),
        SystemTime::now(),
    );
    let refused = raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &signed.header_refs(),
        body,
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.s3_code().as_deref(), Some("InvalidRequest"));
    // A checksum in an aws-chunked trailer counts too (announced by `x-amz-trailer`, with
    // no `x-amz-sdk-checksum-algorithm`, as a hand-rolled client may send it).
    let chunked = sign::aws_chunked_body(body);
    let decoded = body.len().to_string();
    let trailer_headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("x-amz-object-lock-legal-hold", "ON"),
    ];
    let signed = sign::sign_v4_headers_in(
        &server.region,
        &server.access_key,
        &server.secret_key,
        "PUT",
        &format!("{}/{B}/trailer", server.endpoint),
        &trailer_headers,
        &sign::Payload::StreamingUnsignedTrailer,
        SystemTime::now(),
    );
    let ok = raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &signed.header_refs(),
        &chunked,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let head = s3
        .head_object()
        .bucket(B)
        .key("trailer")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    // A write without lock settings needs neither.
    let signed = sign::sign_v4_headers_in(
        &server.region,
        &server.access_key,
        &server.secret_key,
        "PUT",
        &format!("{}/{B}/plain", server.endpoint),
        &[],
        &sign::Payload::Bytes(body),
        SystemTime::now(),
    );
    let ok = raw::request(
        server.addr,
        "PUT",
        &signed.path_and_query,
        &signed.header_refs(),
        body,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_settings_come_with_multipart_uploads_and_copies_and_never_on_markers() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_locked_bucket(&s3, B).await;
    let comp = ObjectLockMode::Compliance;

    // CreateMultipartUpload with a retention: the completed version carries it.
    let up = s3
        .create_multipart_upload()
        .bucket(B)
        .key("mp")
        .object_lock_mode(comp.clone())
        .object_lock_retain_until_date(in_secs(3600))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create mp: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    let id = up.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(B)
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .body(ByteStream::from_static(b"multipart kept"))
        .send()
        .await
        .unwrap();
    let done = s3
        .complete_multipart_upload()
        .bucket(B)
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    let mp = done.version_id().unwrap().to_owned();
    let head = s3
        .head_object()
        .bucket(B)
        .key("mp")
        .version_id(&mp)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(
        head.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    assert_s3_err(
        s3.delete_object()
            .bucket(B)
            .key("mp")
            .version_id(&mp)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );

    // CopyObject with lock headers: the copy is locked, the source keeps its own.
    let plain = put_version(&s3, B, "plain", b"plain").await;
    let copied = s3
        .copy_object()
        .bucket(B)
        .key("copy")
        .copy_source(format!("{B}/plain?versionId={plain}"))
        .object_lock_mode(comp.clone())
        .object_lock_retain_until_date(in_secs(3600))
        .send()
        .await
        .unwrap_or_else(|e| panic!("copy: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    let copy = copied.version_id().unwrap().to_owned();
    let head = s3
        .head_object()
        .bucket(B)
        .key("copy")
        .version_id(&copy)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let head = s3
        .head_object()
        .bucket(B)
        .key("plain")
        .version_id(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), None);
    // Copying a locked version does not copy its lock (AWS: the destination's own).
    let again = s3
        .copy_object()
        .bucket(B)
        .key("copy-of-locked")
        .copy_source(format!("{B}/copy?versionId={copy}"))
        .send()
        .await
        .unwrap();
    let again = again.version_id().unwrap().to_owned();
    s3.delete_object()
        .bucket(B)
        .key("copy-of-locked")
        .version_id(&again)
        .send()
        .await
        .expect("a copy without lock headers (and no default) is not locked");

    // A delete marker has no lock settings: 405, as AWS answers.
    let dm = delete_to_marker(&s3, B, "plain").await;
    let res = s3
        .put_object_legal_hold()
        .bucket(B)
        .key("plain")
        .version_id(&dm)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await;
    assert_s3_err(res, 405, Some("MethodNotAllowed"));
    let res = s3
        .put_object_retention()
        .bucket(B)
        .key("plain")
        .version_id(&dm)
        .retention(retention(&comp, in_secs(60)))
        .send()
        .await;
    assert_s3_err(res, 405, Some("MethodNotAllowed"));
    // A retention date in the past is refused.
    let res = s3
        .put_object_retention()
        .bucket(B)
        .key("plain")
        .version_id(&plain)
        .retention(retention(&comp, in_secs(-60)))
        .send()
        .await;
    assert_s3_err(res, 400, Some("InvalidArgument"));
    // Quiet DeleteObjects still reports the refused version.
    let out = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .quiet(true)
                .objects(
                    ObjectIdentifier::builder()
                        .key("mp")
                        .version_id(&mp)
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("plain")
                        .version_id(&plain)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty());
    assert_eq!(out.errors().len(), 1, "{:?}", out.errors());
    assert_eq!(out.errors()[0].key(), Some("mp"));
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    assert_s3_err(
        s3.head_object()
            .bucket(B)
            .key("plain")
            .version_id(&plain)
            .send()
            .await,
        404,
        None,
    );
    // Lock operations on a bucket without Object Lock.
    create_bucket(&s3, "plain-bucket").await;
    put_version_less(&s3, "plain-bucket").await;
    let res = s3
        .put_object_legal_hold()
        .bucket("plain-bucket")
        .key("k")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await;
    assert_s3_err(res, 400, Some("InvalidRequest"));
    assert_s3_err(
        s3.get_object_legal_hold()
            .bucket("plain-bucket")
            .key("k")
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
}
