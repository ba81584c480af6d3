//! Bucket lifecycle configuration (issue 16, item 2): Put/Get/DeleteBucketLifecycleConfiguration
//! round-trip every filter and action form, refuse what AWS refuses with AWS's codes (and leave
//! the stored rules alone), answer transitions NotImplemented, and a bucket without rules 404.
//! Objects a rule expires report when, as `x-amz-expiration`, on every read and write.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Tag, Transition, TransitionStorageClass,
};

use crate::common::versions::{put_version, versioned_bucket};
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

/// The `(expiry date, rule id)` of an `x-amz-expiration` value, as AWS writes it:
/// `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"`.
fn parse_expiration(header: &str) -> (DateTime, String) {
    let rest = header
        .strip_prefix("expiry-date=\"")
        .unwrap_or_else(|| panic!("no expiry-date in {header:?}"));
    let (date, id) = rest
        .split_once("\", rule-id=\"")
        .unwrap_or_else(|| panic!("no rule-id in {header:?}"));
    let id = id
        .strip_suffix('"')
        .unwrap_or_else(|| panic!("rule-id not quoted in {header:?}"));
    let date = DateTime::from_str(date, aws_sdk_s3::primitives::DateTimeFormat::HttpDate)
        .unwrap_or_else(|e| panic!("expiry-date of {header:?}: {e}"));
    (date, id.to_owned())
}

/// Asserts `header` names `rule` and the first midnight UTC at or after `written` plus
/// `days` (`written` is to the second, as HTTP dates are, so one midnight later is allowed
/// when it was exactly midnight).
fn assert_expires(header: Option<&str>, written: DateTime, days: i64, rule: &str) {
    let header = header.unwrap_or_else(|| panic!("no x-amz-expiration, {rule:?} expected"));
    let (date, id) = parse_expiration(header);
    assert_eq!(id, rule, "{header}");
    let at = date.secs();
    let earliest = written.secs() + days * 86_400;
    assert_eq!(at % 86_400, 0, "not midnight UTC: {header}");
    assert!(
        (earliest..=earliest + 86_400).contains(&at),
        "{header} for an object written at {written}"
    );
}

async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> HeadObjectOutput {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("head")
}

/// Written at, and the `x-amz-expiration` of HEAD and GET, which must agree.
async fn read_expiration(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> (DateTime, Option<String>) {
    let head = head(s3, bucket, key).await;
    let get = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get");
    assert_eq!(head.expiration(), get.expiration(), "HEAD and GET of {key}");
    let written = *head.last_modified().expect("last modified");
    (written, head.expiration().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_report_their_expiration_as_aws_does() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    versioned_bucket(&s3, "expiring").await;
    put_rules(
        &s3,
        "expiring",
        vec![
            base("tmp-rule").expiration(days(3)).build().expect("rule"),
            base("tag-rule")
                .filter(
                    LifecycleRuleFilter::builder()
                        .tag(tag("expire", "yes"))
                        .build(),
                )
                .expiration(days(5))
                .build()
                .expect("rule"),
            // Neither counts for current versions.
            base("disabled")
                .status(ExpirationStatus::Disabled)
                .filter(prefix_filter(""))
                .expiration(days(1))
                .build()
                .expect("rule"),
            LifecycleRule::builder()
                .id("noncurrent")
                .status(ExpirationStatus::Enabled)
                .filter(prefix_filter(""))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect("put rules");

    // PutObject, then HEAD and GET, say the same.
    let first = s3
        .put_object()
        .bucket("expiring")
        .key("tmp/scan")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"one"))
        .send()
        .await
        .expect("put");
    let (written, read) = read_expiration(&s3, "expiring", "tmp/scan").await;
    assert_expires(first.expiration(), written, 3, "tmp-rule");
    assert_eq!(read.as_deref(), first.expiration());

    // Outside every enabled rule's filter: no header.
    let other = s3
        .put_object()
        .bucket("expiring")
        .key("keep/scan")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"kept"))
        .send()
        .await
        .expect("put");
    assert_eq!(other.expiration(), None);
    assert_eq!(read_expiration(&s3, "expiring", "keep/scan").await.1, None);

    // A tag filter applies to tagged objects only.
    put_tagged(&s3, "expiring", "study/a", "expire=yes").await;
    put_tagged(&s3, "expiring", "study/b", "expire=no").await;
    let (written, tagged) = read_expiration(&s3, "expiring", "study/a").await;
    assert_expires(tagged.as_deref(), written, 5, "tag-rule");
    assert_eq!(read_expiration(&s3, "expiring", "study/b").await.1, None);

    // CopyObject and CompleteMultipartUpload report the new object's.
    let copied = s3
        .copy_object()
        .bucket("expiring")
        .key("tmp/copy")
        .copy_source("expiring/keep/scan")
        .send()
        .await
        .expect("copy");
    let (written, read) = read_expiration(&s3, "expiring", "tmp/copy").await;
    assert_expires(copied.expiration(), written, 3, "tmp-rule");
    assert_eq!(read.as_deref(), copied.expiration());
    let upload = s3
        .create_multipart_upload()
        .bucket("expiring")
        .key("tmp/upload")
        .send()
        .await
        .expect("create upload");
    let id = upload.upload_id().expect("upload id");
    let part = s3
        .upload_part()
        .bucket("expiring")
        .key("tmp/upload")
        .upload_id(id)
        .part_number(1)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"part"))
        .send()
        .await
        .expect("upload part");
    let etag = part.e_tag().expect("etag").to_owned();
    let done = crate::common::complete_upload(&s3, "expiring", "tmp/upload", id, &[etag]).await;
    let (written, read) = read_expiration(&s3, "expiring", "tmp/upload").await;
    assert_expires(done.expiration(), written, 3, "tmp-rule");
    assert_eq!(read.as_deref(), done.expiration());

    // A noncurrent version, read by its id, gets none; the current one, by id too, does.
    let old = first.version_id().expect("version id");
    let newer = put_version(&s3, "expiring", "tmp/scan", b"two").await;
    let by_id = |version: &str| {
        s3.head_object()
            .bucket("expiring")
            .key("tmp/scan")
            .version_id(version)
            .send()
    };
    assert_eq!(by_id(old).await.expect("head old").expiration(), None);
    let current = by_id(&newer).await.expect("head current");
    assert_expires(
        current.expiration(),
        *current.last_modified().expect("last modified"),
        3,
        "tmp-rule",
    );
    let old_get = s3
        .get_object()
        .bucket("expiring")
        .key("tmp/scan")
        .version_id(old)
        .send()
        .await
        .expect("get old");
    assert_eq!(old_get.expiration(), None);

    // Without rules, nothing.
    s3.delete_bucket_lifecycle()
        .bucket("expiring")
        .send()
        .await
        .expect("delete rules");
    assert_eq!(read_expiration(&s3, "expiring", "tmp/scan").await.1, None);
}
