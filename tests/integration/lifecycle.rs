//! Bucket lifecycle configuration (issue 16, item 2): Put/Get/DeleteBucketLifecycleConfiguration
//! round-trip every filter and action form, refuse what AWS refuses with AWS's codes (and leave
//! the stored rules alone), answer transitions NotImplemented, and a bucket without rules 404.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Tag, Transition, TransitionStorageClass,
};

use crate::common::*;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

fn prefix_filter(prefix: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(prefix).build()
}

fn days(n: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(n).build()
}

/// A rule `id` expiring `tmp/` after 30 days, to vary.
fn base(id: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(prefix_filter("tmp/"))
        .expiration(days(30))
}

fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .expect("configuration")
}

async fn put_rules(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    rules: Vec<LifecycleRule>,
) -> Result<
    aws_sdk_s3::operation::put_bucket_lifecycle_configuration::PutBucketLifecycleConfigurationOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::put_bucket_lifecycle_configuration::PutBucketLifecycleConfigurationError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
>{
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(config(rules))
        .send()
        .await
}

async fn rules_of(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<LifecycleRule> {
    s3.get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .expect("get lifecycle")
        .rules()
        .to_vec()
}

fn every_form() -> Vec<LifecycleRule> {
    let midnight = DateTime::from_secs(1_893_456_000); // 2030-01-01T00:00:00Z
    vec![
        base("prefix").build().expect("rule"),
        base("tag")
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(tag("study", "x-ray"))
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().date(midnight).build())
            .build()
            .expect("rule"),
        base("and")
            .status(ExpirationStatus::Disabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .and(
                        LifecycleRuleAndOperator::builder()
                            .prefix("scans/")
                            .tags(tag("a", "1"))
                            .tags(tag("b", "2"))
                            .object_size_greater_than(1024)
                            .object_size_less_than(1 << 20)
                            .build(),
                    )
                    .build(),
            )
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(7)
                    .newer_noncurrent_versions(3)
                    .build(),
            )
            .build()
            .expect("rule"),
        base("uploads")
            .filter(prefix_filter(""))
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(2)
                    .build(),
            )
            .build()
            .expect("rule"),
        base("size")
            .filter(
                LifecycleRuleFilter::builder()
                    .object_size_greater_than(10)
                    .build(),
            )
            .build()
            .expect("rule"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_round_trip_and_a_bucket_without_rules_answers_404() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "rules").await;

    let missing = s3
        .get_bucket_lifecycle_configuration()
        .bucket("rules")
        .send()
        .await;
    assert_s3_err(missing, 404, Some("NoSuchLifecycleConfiguration"));

    put_rules(&s3, "rules", every_form()).await.expect("put");
    assert_eq!(rules_of(&s3, "rules").await, every_form());

    // A rule without an ID gets one, as on AWS.
    let anonymous = LifecycleRule::builder()
        .status(ExpirationStatus::Enabled)
        .filter(prefix_filter("a/"))
        .expiration(days(1))
        .build()
        .expect("rule");
    put_rules(&s3, "rules", vec![anonymous]).await.expect("put");
    let got = rules_of(&s3, "rules").await;
    assert_eq!(got.len(), 1);
    assert!(!got[0].id().unwrap_or_default().is_empty());

    let deleted = s3.delete_bucket_lifecycle().bucket("rules").send().await;
    deleted.expect("delete");
    let missing = s3
        .get_bucket_lifecycle_configuration()
        .bucket("rules")
        .send()
        .await;
    assert_s3_err(missing, 404, Some("NoSuchLifecycleConfiguration"));

    let no_bucket = put_rules(&s3, "absent", every_form()).await;
    assert_s3_err(no_bucket, 404, Some("NoSuchBucket"));
}

/// Each rule AWS refuses, with the code it answers.
fn refusals() -> Vec<(&'static str, Vec<LifecycleRule>, u16, &'static str)> {
    let rule = |b: aws_sdk_s3::types::builders::LifecycleRuleBuilder| b.build().expect("rule");
    let abort = AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(1)
        .build();
    vec![
        (
            "zero days",
            vec![rule(base("r").expiration(days(0)))],
            400,
            "InvalidArgument",
        ),
        (
            "date not at midnight",
            vec![rule(
                base("r").expiration(
                    LifecycleExpiration::builder()
                        .date(DateTime::from_secs(1_893_456_001))
                        .build(),
                ),
            )],
            400,
            "InvalidArgument",
        ),
        (
            "days with date",
            vec![rule(
                base("r").expiration(
                    LifecycleExpiration::builder()
                        .days(1)
                        .date(DateTime::from_secs(1_893_456_000))
                        .build(),
                ),
            )],
            400,
            "MalformedXML",
        ),
        (
            "days with expired delete marker",
            vec![rule(
                base("r").expiration(
                    LifecycleExpiration::builder()
                        .days(1)
                        .expired_object_delete_marker(true)
                        .build(),
                ),
            )],
            400,
            "MalformedXML",
        ),
        (
            "zero noncurrent days",
            vec![rule(
                base("r").noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(0)
                        .build(),
                ),
            )],
            400,
            "InvalidArgument",
        ),
        (
            "zero days after initiation",
            vec![rule(
                base("r").abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(0)
                        .build(),
                ),
            )],
            400,
            "InvalidArgument",
        ),
        (
            "abort with a tag filter",
            vec![rule(
                base("r")
                    .filter(LifecycleRuleFilter::builder().tag(tag("k", "v")).build())
                    .abort_incomplete_multipart_upload(abort),
            )],
            400,
            "InvalidRequest",
        ),
        (
            "ID over 255",
            vec![rule(base(&"i".repeat(256)))],
            400,
            "InvalidArgument",
        ),
        (
            "same ID twice",
            vec![rule(base("r")), rule(base("r"))],
            400,
            "InvalidArgument",
        ),
        (
            "status in lower case",
            vec![rule(base("r").status(ExpirationStatus::from("enabled")))],
            400,
            "MalformedXML",
        ),
        (
            "two conditions outside And",
            vec![rule(
                base("r").filter(
                    LifecycleRuleFilter::builder()
                        .prefix("a/")
                        .tag(tag("k", "v"))
                        .build(),
                ),
            )],
            400,
            "MalformedXML",
        ),
        (
            "no action",
            vec![
                LifecycleRule::builder()
                    .id("r")
                    .status(ExpirationStatus::Enabled)
                    .filter(prefix_filter(""))
                    .build()
                    .expect("rule"),
            ],
            400,
            "InvalidRequest",
        ),
        ("no rules", Vec::new(), 400, "MalformedXML"),
        (
            "1001 rules",
            (0..1001).map(|i| rule(base(&format!("r{i}")))).collect(),
            400,
            "MalformedXML",
        ),
        (
            "a transition",
            vec![rule(
                base("r").transitions(
                    Transition::builder()
                        .days(30)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                ),
            )],
            501,
            "NotImplemented",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_refusals_answer_aws_codes_and_keep_the_stored_rules() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "strict").await;
    put_rules(&s3, "strict", every_form()).await.expect("put");

    for (what, rules, status, code) in refusals() {
        let refused = put_rules(&s3, "strict", rules).await;
        match refused {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => {
                assert_eq!(status_of(&e), status, "{what}");
                assert_eq!(code_of(&e).as_deref(), Some(code), "{what}");
            }
        }
    }
    assert_eq!(rules_of(&s3, "strict").await, every_form());

    // An empty or unparsable body is MalformedXML too.
    let raw = s3
        .put_bucket_lifecycle_configuration()
        .bucket("strict")
        .send()
        .await;
    assert_s3_err(raw, 400, Some("MalformedXML"));
}

/// Every (key, is delete marker) of `bucket`, newest version of each key first.
async fn versions_of(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, bool)> {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .expect("list versions");
    let mut all: Vec<(String, bool, String)> = out
        .versions()
        .iter()
        .map(|v| {
            let modified = v
                .last_modified()
                .map(ToString::to_string)
                .unwrap_or_default();
            (v.key().unwrap_or_default().to_owned(), false, modified)
        })
        .chain(out.delete_markers().iter().map(|m| {
            let modified = m
                .last_modified()
                .map(ToString::to_string)
                .unwrap_or_default();
            (m.key().unwrap_or_default().to_owned(), true, modified)
        }))
        .collect();
    all.sort();
    all.into_iter().map(|(k, m, _)| (k, m)).collect()
}

async fn upload_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .expect("list uploads");
    out.uploads()
        .iter()
        .map(|u| u.key().unwrap_or_default().to_owned())
        .collect()
}

async fn put_tagged(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, tagging: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .tagging(tagging)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"tagged"))
        .send()
        .await
        .expect("put tagged");
}

fn sweep_rules_aging() -> Vec<LifecycleRule> {
    let abort = AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(1)
        .build();
    vec![
        base("tmp")
            .expiration(days(2))
            .abort_incomplete_multipart_upload(abort)
            .build()
            .expect("rule"),
        base("tag")
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(tag("expire", "yes"))
                    .build(),
            )
            .expiration(days(2))
            .build()
            .expect("rule"),
        base("big")
            .filter(
                LifecycleRuleFilter::builder()
                    .and(
                        LifecycleRuleAndOperator::builder()
                            .prefix("big/")
                            .object_size_greater_than(1000)
                            .build(),
                    )
                    .build(),
            )
            .expiration(days(2))
            .build()
            .expect("rule"),
        // Not due within three days.
        base("later")
            .filter(prefix_filter("keep/"))
            .expiration(days(30))
            .build()
            .expect("rule"),
    ]
}

fn sweep_rules_history() -> Vec<LifecycleRule> {
    let noncurrent = |newer: Option<i32>| {
        NoncurrentVersionExpiration::builder()
            .noncurrent_days(1)
            .set_newer_noncurrent_versions(newer)
            .build()
    };
    vec![
        LifecycleRule::builder()
            .id("keep-one")
            .status(ExpirationStatus::Enabled)
            .filter(prefix_filter(""))
            .noncurrent_version_expiration(noncurrent(Some(1)))
            .build()
            .expect("rule"),
        LifecycleRule::builder()
            .id("gone")
            .status(ExpirationStatus::Enabled)
            .filter(prefix_filter("gone"))
            .noncurrent_version_expiration(noncurrent(None))
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .build()
            .expect("rule"),
    ]
}

async fn poll<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_expires_what_rules_name_and_spares_locked_versions() {
    if !crate::clients::require("libfaketime", "faketime", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "aging").await;
    for key in ["tmp/scan", "keep/scan", "big/small"] {
        put(&s3, "aging", key, b"small").await;
    }
    put(&s3, "aging", "big/large", &[7u8; 2048]).await;
    put_tagged(&s3, "aging", "study/a", "expire=yes").await;
    put_tagged(&s3, "aging", "study/b", "expire=no").await;
    for key in ["tmp/upload", "keep/upload"] {
        s3.create_multipart_upload()
            .bucket("aging")
            .key(key)
            .send()
            .await
            .expect("create upload");
    }
    put_rules(&s3, "aging", sweep_rules_aging())
        .await
        .expect("put");

    // Object Lock turns versioning on.
    s3.create_bucket()
        .bucket("history")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("lock bucket");
    for body in ["1", "2", "3", "4"] {
        put(&s3, "history", "doc", body.as_bytes()).await;
    }
    s3.put_object()
        .bucket("history")
        .key("held")
        .object_lock_legal_hold_status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"held"))
        .send()
        .await
        .expect("held");
    for body in ["2", "3"] {
        put(&s3, "history", "held", body.as_bytes()).await;
    }
    put(&s3, "history", "gone", b"soon").await;
    s3.delete_object()
        .bucket("history")
        .key("gone")
        .send()
        .await
        .expect("delete");
    put_rules(&s3, "history", sweep_rules_history())
        .await
        .expect("put");
    server.stop();

    // Three days later, with a sweep every second.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3 * 86_400);
    let known = Expect::Known {
        access_key: ROOT_ACCESS_KEY.to_owned(),
        secret_key: ROOT_SECRET_KEY.to_owned(),
    };
    let data = env.data();
    let data = data.to_str().unwrap();
    let args = [
        "serve",
        "--data",
        data,
        "--listen",
        "127.0.0.1:0",
        "--lifecycle-interval",
        "1",
    ];
    let mut server = env.start_program(&future_coffer(&env, 3), &args, &[], &known);
    let s3 = server.client_at(later);
    let aging_done = poll(|| async {
        list_all_keys(&s3, "aging").await == ["big/small", "keep/scan", "study/b"]
            && upload_keys(&s3, "aging").await == ["keep/upload"]
    })
    .await;
    assert!(
        aging_done,
        "{:?} {:?}",
        list_all_keys(&s3, "aging").await,
        upload_keys(&s3, "aging").await
    );
    let expected: Vec<(String, bool)> = [("doc", 2), ("held", 3)]
        .iter()
        .flat_map(|(k, n)| std::iter::repeat_n(((*k).to_owned(), false), *n))
        .collect();
    let history_done = poll(|| async { versions_of(&s3, "history").await == expected }).await;
    assert!(history_done, "{:?}", versions_of(&s3, "history").await);
    // The version under legal hold is the one kept beyond the newest noncurrent.
    assert_eq!(get(&s3, "history", "held").await, b"3");
    server.stop();
}
