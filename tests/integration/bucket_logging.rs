//! Server access logging (issue 11, item 6): PutBucketLogging on a source bucket makes the
//! server deliver, within its `--bucket-log-interval`, log objects into the target bucket
//! whose every line parses as AWS's server access log format and names the source's
//! requests (operation, key, status, error code, requester); partitioned key names follow
//! AWS's layout; GetBucketLogging returns what was put; a target that is missing, another
//! user's, or not writable by the caller is refused; and a deleted target makes delivery
//! drop lines with a warning, not fail.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLoggingStatus, BucketLogsPermission, Grantee, LoggingEnabled, PartitionDateSource,
    PartitionedPrefix, TargetGrant, TargetObjectKeyFormat, Type,
};
use regex::Regex;

use crate::common::{Server, TestEnv, assert_s3_err, create_bucket, get, list_all_keys, put, raw};

/// How long a test waits for a delivery (the server delivers every second here).
const DELIVERY_WITHIN: Duration = Duration::from_secs(30);

/// One line of AWS's server access log format, field by field
/// (docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html).
fn line_format() -> Regex {
    Regex::new(concat!(
        r#"^(?P<owner>\S+) (?P<bucket>\S+) "#,
        r#"\[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "#,
        r#"(?P<ip>\S+) (?P<requester>\S+) (?P<request_id>\S+) (?P<operation>\S+) (?P<key>\S+) "#,
        r#""(?P<request_uri>[^"]*)" (?P<status>\d{3}) (?P<error_code>\S+) (?P<bytes_sent>-|\d+) "#,
        r#"(?P<object_size>-|\d+) (?P<total_time>-|\d+) (?P<turn_around>-|\d+) "#,
        r#""(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" (?P<version_id>\S+) (?P<host_id>\S+) "#,
        r#"(?P<signature>\S+) (?P<cipher>\S+) (?P<auth_type>\S+) (?P<host>\S+) (?P<tls>\S+) "#,
        r#"(?P<access_point>\S+) (?P<acl_required>\S+)$"#,
    ))
    .unwrap()
}

/// One parsed line: the fields the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    owner: String,
    bucket: String,
    ip: String,
    requester: String,
    operation: String,
    key: String,
    request_uri: String,
    status: u16,
    error_code: String,
    bytes_sent: String,
    signature: String,
}

/// Every log object under `prefix` in `target`, by key, with its lines parsed (a line that
/// does not parse fails the test).
async fn log_objects(client: &Client, target: &str, prefix: &str) -> Vec<(String, Vec<Line>)> {
    let format = line_format();
    let mut out = Vec::new();
    for key in list_all_keys(client, target).await {
        if !key.starts_with(prefix) {
            continue;
        }
        let body = String::from_utf8(get(client, target, &key).await).unwrap();
        assert!(body.ends_with('\n'), "{key}: {body:?}");
        let lines = body
            .lines()
            .map(|l| {
                let c = format
                    .captures(l)
                    .unwrap_or_else(|| panic!("not an AWS server access log line: {l:?}"));
                Line {
                    owner: c["owner"].to_owned(),
                    bucket: c["bucket"].to_owned(),
                    ip: c["ip"].to_owned(),
                    requester: c["requester"].to_owned(),
                    operation: c["operation"].to_owned(),
                    key: c["key"].to_owned(),
                    request_uri: c["request_uri"].to_owned(),
                    status: c["status"].parse().unwrap(),
                    error_code: c["error_code"].to_owned(),
                    bytes_sent: c["bytes_sent"].to_owned(),
                    signature: c["signature"].to_owned(),
                }
            })
            .collect();
        out.push((key, lines));
    }
    out
}

/// Polls until the log objects under `prefix` hold at least `n` lines.
async fn wait_for_lines(
    client: &Client,
    target: &str,
    prefix: &str,
    n: usize,
) -> Vec<(String, Vec<Line>)> {
    let deadline = Instant::now() + DELIVERY_WITHIN;
    loop {
        let objects = log_objects(client, target, prefix).await;
        let count: usize = objects.iter().map(|(_, l)| l.len()).sum();
        if count >= n {
            return objects;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} of {n} log lines after {DELIVERY_WITHIN:?}: {objects:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn logging(
    target: &str,
    prefix: &str,
    format: Option<TargetObjectKeyFormat>,
) -> BucketLoggingStatus {
    BucketLoggingStatus::builder()
        .logging_enabled(
            LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(prefix)
                .set_target_object_key_format(format)
                .build()
                .unwrap(),
        )
        .build()
}

async fn put_logging(client: &Client, source: &str, status: BucketLoggingStatus) {
    client
        .put_bucket_logging()
        .bucket(source)
        .bucket_logging_status(status)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)));
}

fn server(env: &TestEnv) -> Server {
    env.start_ephemeral_with(&["--users", "1", "--bucket-log-interval", "1"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_logging_delivers_parseable_aws_lines_for_the_source_operations() {
    let env = TestEnv::new();
    let server = server(&env);
    let root = server.client();
    let user = server.user_client(1);
    let account = server.vars["COFFER_ACCOUNT_ID"].clone();
    create_bucket(&root, "source").await;
    create_bucket(&root, "logs").await;
    let root_id = root
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .and_then(|o| o.id())
        .unwrap()
        .to_owned();

    // Off until set. Asked of the target, not the source: a request to the source just
    // before logging is turned on may be delivered too, if no delivery pass ran between
    // them (passes route records by the configuration they find, best effort as AWS's).
    let off = root
        .get_bucket_logging()
        .bucket("logs")
        .send()
        .await
        .unwrap();
    assert!(off.logging_enabled().is_none());
    put_logging(&root, "source", logging("logs", "access/", None)).await;
    let on = root
        .get_bucket_logging()
        .bucket("source")
        .send()
        .await
        .unwrap();
    let enabled = on.logging_enabled().unwrap();
    assert_eq!(enabled.target_bucket(), "logs");
    assert_eq!(enabled.target_prefix(), "access/");
    assert!(
        enabled
            .target_object_key_format()
            .and_then(TargetObjectKeyFormat::simple_prefix)
            .is_some()
    );

    // The source's requests: served, missing, refused (another user, anonymous).
    put(&root, "source", "dir/a b.txt", b"hello").await;
    assert_eq!(get(&root, "source", "dir/a b.txt").await, b"hello");
    root.head_object()
        .bucket("source")
        .key("dir/a b.txt")
        .send()
        .await
        .unwrap();
    assert_s3_err(
        root.get_object()
            .bucket("source")
            .key("missing")
            .send()
            .await,
        404,
        Some("NoSuchKey"),
    );
    assert_s3_err(
        user.get_object()
            .bucket("source")
            .key("dir/a b.txt")
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    let anonymous = raw::request(server.addr, "GET", "/source/dir/a%20b.txt", &[], b"").await;
    assert_eq!(anonymous.status, 403);
    root.list_objects_v2()
        .bucket("source")
        .send()
        .await
        .unwrap();
    root.delete_object()
        .bucket("source")
        .key("dir/a b.txt")
        .send()
        .await
        .unwrap();

    let expected = [
        ("REST.GET.LOGGING_STATUS", "-", 200, "-", "root"),
        ("REST.PUT.OBJECT", "dir/a%20b.txt", 200, "-", "root"),
        ("REST.GET.OBJECT", "dir/a%20b.txt", 200, "-", "root"),
        ("REST.HEAD.OBJECT", "dir/a%20b.txt", 200, "-", "root"),
        ("REST.GET.OBJECT", "missing", 404, "NoSuchKey", "root"),
        (
            "REST.GET.OBJECT",
            "dir/a%20b.txt",
            403,
            "AccessDenied",
            "user1",
        ),
        ("REST.GET.OBJECT", "dir/a%20b.txt", 403, "AccessDenied", "-"),
        ("REST.GET.BUCKET", "-", 200, "-", "root"),
        ("REST.DELETE.OBJECT", "dir/a%20b.txt", 204, "-", "root"),
    ];
    let objects = wait_for_lines(&root, "logs", "access/", expected.len()).await;
    let simple_key =
        Regex::new(r"^access/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$").unwrap();
    for (key, _) in &objects {
        assert!(simple_key.is_match(key), "log object key {key:?}");
    }
    let mut lines: Vec<Line> = objects.into_iter().flat_map(|(_, l)| l).collect();
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    // Compared as sets: lines delivered by different passes are in objects listed by name.
    let mut got: Vec<(String, String, u16, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l.operation.clone(),
                l.key.clone(),
                l.status,
                l.error_code.clone(),
                l.requester.clone(),
            )
        })
        .collect();
    let mut want: Vec<(String, String, u16, String, String)> = expected
        .iter()
        .map(|(op, key, status, code, who)| {
            let requester = match *who {
                "-" => "-".to_owned(),
                "root" => format!("arn:aws:iam::{account}:root"),
                user => format!("arn:aws:iam::{account}:user/{user}"),
            };
            (
                (*op).to_owned(),
                (*key).to_owned(),
                *status,
                (*code).to_owned(),
                requester,
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{lines:#?}");
    for l in &lines {
        assert_eq!(l.owner, root_id, "{l:?}");
        assert_eq!(l.bucket, "source", "{l:?}");
        assert_eq!(l.ip, "127.0.0.1", "{l:?}");
        assert_eq!(
            l.signature,
            if l.requester == "-" { "-" } else { "SigV4" },
            "{l:?}"
        );
        assert!(l.request_uri.ends_with(" HTTP/1.1"), "{l:?}");
    }
    lines.retain(|l| l.operation == "REST.GET.OBJECT" && l.status == 200);
    assert_eq!(lines[0].bytes_sent, "5");
    assert_eq!(lines[0].request_uri, "GET /source/dir/a%20b.txt HTTP/1.1");
    // Reading the logs is not logged (the target does not log), and deliveries are not
    // requests: nothing new appears however long we wait.
    let before = log_objects(&root, "logs", "access/").await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(log_objects(&root, "logs", "access/").await.len(), before);

    // Partitioned keys, by event day: [prefix][account]/[region]/[bucket]/YYYY/MM/DD/….
    create_bucket(&root, "second").await;
    let partitioned = TargetObjectKeyFormat::builder()
        .partitioned_prefix(
            PartitionedPrefix::builder()
                .partition_date_source(PartitionDateSource::EventTime)
                .build(),
        )
        .build();
    put_logging(&root, "second", logging("logs", "p/", Some(partitioned))).await;
    let got = root
        .get_bucket_logging()
        .bucket("second")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.logging_enabled()
            .and_then(LoggingEnabled::target_object_key_format)
            .and_then(TargetObjectKeyFormat::partitioned_prefix)
            .and_then(PartitionedPrefix::partition_date_source),
        Some(&PartitionDateSource::EventTime)
    );
    put(&root, "second", "x", b"x").await;
    let objects = wait_for_lines(&root, "logs", "p/", 2).await;
    let region = &server.region;
    let partitioned_key = Regex::new(&format!(
        r"^p/{account}/{region}/second/(\d{{4}})/(\d{{2}})/(\d{{2}})/(\d{{4}})-(\d{{2}})-(\d{{2}})-00-00-00-[0-9A-F]{{16}}$"
    ))
    .unwrap();
    for (key, lines) in &objects {
        let c = partitioned_key
            .captures(key)
            .unwrap_or_else(|| panic!("partitioned log object key {key:?}"));
        assert_eq!((&c[1], &c[2], &c[3]), (&c[4], &c[5], &c[6]), "{key}");
        assert!(lines.iter().all(|l| l.bucket == "second"), "{lines:?}");
    }

    // Turned off: nothing more is delivered for it (not even the lines of requests not yet
    // delivered, this one included), so "logs" can now be emptied.
    root.put_bucket_logging()
        .bucket("second")
        .bucket_logging_status(BucketLoggingStatus::builder().build())
        .send()
        .await
        .unwrap();
    let off = root
        .get_bucket_logging()
        .bucket("second")
        .send()
        .await
        .unwrap();
    assert!(off.logging_enabled().is_none());
    // The target deleted while "source" still logs into it: delivery drops the lines with
    // a warning, the server goes on.
    for key in list_all_keys(&root, "logs").await {
        root.delete_object()
            .bucket("logs")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    root.delete_bucket().bucket("logs").send().await.unwrap();
    put(&root, "source", "after", b"after").await;
    let deadline = Instant::now() + DELIVERY_WITHIN;
    while !std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .contains("target bucket was deleted")
    {
        assert!(
            Instant::now() < deadline,
            "no warning about the deleted target"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&root, "source", "after").await, b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_bucket_logging_refuses_targets_that_cannot_take_the_logs() {
    let env = TestEnv::new();
    let server = server(&env);
    let root = server.client();
    let user = server.user_client(1);
    let account = server.vars["COFFER_ACCOUNT_ID"].clone();
    create_bucket(&root, "source").await;
    create_bucket(&root, "target").await;
    create_bucket(&user, "strangers").await;

    let refuse = |status: BucketLoggingStatus| {
        root.put_bucket_logging()
            .bucket("source")
            .bucket_logging_status(status)
            .send()
    };
    assert_s3_err(
        refuse(logging("no-such-bucket", "", None)).await,
        400,
        Some("InvalidTargetBucketForLogging"),
    );
    assert_s3_err(
        refuse(logging("strangers", "", None)).await,
        400,
        Some("InvalidTargetBucketForLogging"),
    );
    assert_s3_err(
        refuse(logging("target", &"p".repeat(900), None)).await,
        400,
        Some("InvalidArgument"),
    );
    let grant = TargetGrant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id("someone")
                .build()
                .unwrap(),
        )
        .permission(BucketLogsPermission::Read)
        .build();
    let with_grants = BucketLoggingStatus::builder()
        .logging_enabled(
            LoggingEnabled::builder()
                .target_bucket("target")
                .target_prefix("")
                .target_grants(grant)
                .build()
                .unwrap(),
        )
        .build();
    assert_s3_err(refuse(with_grants).await, 501, Some("NotImplemented"));
    let nothing = root
        .get_bucket_logging()
        .bucket("source")
        .send()
        .await
        .unwrap();
    assert!(
        nothing.logging_enabled().is_none(),
        "a refused put stored something"
    );

    // user1 may set root's "source" logging (a bucket policy says so), but may not write
    // into "target": AccessDenied, until a policy lets it write there too.
    let arn = format!("arn:aws:iam::{account}:user/user1");
    let allow = |bucket: &str, actions: &str, resource: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":{actions},"Resource":"arn:aws:s3:::{bucket}{resource}"}}]}}"#
        )
    };
    root.put_bucket_policy()
        .bucket("source")
        .policy(allow(
            "source",
            r#"["s3:PutBucketLogging","s3:GetBucketLogging"]"#,
            "",
        ))
        .send()
        .await
        .unwrap();
    let by_user = || {
        user.put_bucket_logging()
            .bucket("source")
            .bucket_logging_status(logging("target", "from-user/", None))
            .send()
    };
    assert_s3_err(by_user().await, 403, Some("AccessDenied"));
    root.put_bucket_policy()
        .bucket("target")
        .policy(allow("target", r#""s3:PutObject""#, "/from-user/*"))
        .send()
        .await
        .unwrap();
    by_user().await.unwrap();
    let set = user
        .get_bucket_logging()
        .bucket("source")
        .send()
        .await
        .unwrap();
    assert_eq!(set.logging_enabled().unwrap().target_prefix(), "from-user/");

    // Logs go to the target's owner, and only there: user1 still cannot read them.
    root.put_object()
        .bucket("source")
        .key("k")
        .body(ByteStream::from_static(b"k"))
        .send()
        .await
        .unwrap();
    let objects = wait_for_lines(&root, "target", "from-user/", 1).await;
    assert_s3_err(
        user.get_object()
            .bucket("target")
            .key(&objects[0].0)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
}

/// A durable server with deliveries an hour apart: what it has not delivered yet goes out
/// when it stops, and the cursor kept in the index means a restart delivers nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_lines_go_out_at_shutdown_and_a_restart_repeats_none() {
    use crate::common::{Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY};
    let env = TestEnv::new();
    let data = env.data();
    let start = || {
        env.start(
            &[
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--bucket-log-interval",
                "3600",
            ],
            &[
                ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
                ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
            ],
            &Expect::Known {
                access_key: ROOT_ACCESS_KEY.to_owned(),
                secret_key: ROOT_SECRET_KEY.to_owned(),
            },
        )
    };
    let mut server = start();
    let root = server.client();
    create_bucket(&root, "source").await;
    create_bucket(&root, "logs").await;
    put_logging(&root, "source", logging("logs", "l/", None)).await;
    put(&root, "source", "first", b"1").await;
    assert!(log_objects(&root, "logs", "l/").await.is_empty());
    assert!(server.stop().success());
    drop(server);

    let mut server = start();
    let root = server.client();
    let objects = log_objects(&root, "logs", "l/").await;
    let ops: Vec<(String, String)> = objects
        .iter()
        .flat_map(|(_, l)| l)
        .map(|l| (l.operation.clone(), l.key.clone()))
        .collect();
    assert_eq!(ops, [("REST.PUT.OBJECT".to_owned(), "first".to_owned())]);
    put(&root, "source", "second", b"2").await;
    assert!(server.stop().success());
    drop(server);

    let server = start();
    let root = server.client();
    let mut ops: Vec<(String, String)> = log_objects(&root, "logs", "l/")
        .await
        .iter()
        .flat_map(|(_, l)| l)
        .map(|l| (l.operation.clone(), l.key.clone()))
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        [
            ("REST.PUT.OBJECT".to_owned(), "first".to_owned()),
            ("REST.PUT.OBJECT".to_owned(), "second".to_owned()),
        ]
    );
}
