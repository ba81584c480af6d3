//! Object and bucket tagging (issue 16): tags set with a write or afterwards, per version,
//! copied or replaced, carried through multipart uploads, held to AWS's limits, needing
//! their own permission, and sealed at rest like the rest of the metadata.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, Tag, Tagging, TaggingDirective};

use crate::common::iam_cli::{aws_ok, user_arn, user_with_key};
use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::versions::set_versioning;
use crate::common::*;

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                .collect(),
        ))
        .build()
        .expect("tagging")
}

async fn tags_of(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Vec<(String, String)> {
    let out = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .expect("get tagging");
    out.tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_ride_with_writes_versions_copies_and_multipart_uploads() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "tags").await;

    // With the write, as a query string; the count on GET, not on HEAD.
    s3.put_object()
        .bucket("tags")
        .key("scan")
        .tagging("study=x-ray&patient%20ref=P%2F17")
        .body(ByteStream::from_static(b"img"))
        .send()
        .await
        .expect("put");
    assert_eq!(
        tags_of(&s3, "tags", "scan", None).await,
        pairs(&[("study", "x-ray"), ("patient ref", "P/17")])
    );
    let got = s3
        .get_object()
        .bucket("tags")
        .key("scan")
        .send()
        .await
        .expect("get");
    assert_eq!(got.tag_count(), Some(2));
    let untagged = put(&s3, "tags", "plain", b"x").await;
    assert!(!untagged.is_empty());
    let got = s3
        .get_object()
        .bucket("tags")
        .key("plain")
        .send()
        .await
        .expect("get");
    assert_eq!(got.tag_count(), None);

    // Copies keep the source's tags unless told to replace them.
    s3.copy_object()
        .bucket("tags")
        .key("kept")
        .copy_source("tags/scan")
        .send()
        .await
        .expect("copy");
    assert_eq!(tags_of(&s3, "tags", "kept", None).await.len(), 2);
    s3.copy_object()
        .bucket("tags")
        .key("replaced")
        .copy_source("tags/scan")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("copy=yes")
        .send()
        .await
        .expect("copy");
    assert_eq!(
        tags_of(&s3, "tags", "replaced", None).await,
        pairs(&[("copy", "yes")])
    );

    // A multipart upload's tags land on the completed object.
    let upload = s3
        .create_multipart_upload()
        .bucket("tags")
        .key("video")
        .tagging("kind=360")
        .send()
        .await
        .expect("create");
    let id = upload.upload_id().expect("id");
    let part = s3
        .upload_part()
        .bucket("tags")
        .key("video")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"frames"))
        .send()
        .await
        .expect("part");
    let etag = part.e_tag().expect("etag").to_owned();
    crate::common::complete_upload(&s3, "tags", "video", id, &[etag]).await;
    assert_eq!(
        tags_of(&s3, "tags", "video", None).await,
        pairs(&[("kind", "360")])
    );

    // Per version: retagging one version leaves the other alone; delete empties a set.
    set_versioning(&s3, "tags", BucketVersioningStatus::Enabled).await;
    let first = s3
        .put_object()
        .bucket("tags")
        .key("v")
        .tagging("n=1")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .expect("put v1");
    let first = first.version_id().expect("version").to_owned();
    s3.put_object()
        .bucket("tags")
        .key("v")
        .tagging("n=2")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await
        .expect("put v2");
    let out = s3
        .put_object_tagging()
        .bucket("tags")
        .key("v")
        .version_id(&first)
        .tagging(tagging(&[("n", "one")]))
        .send()
        .await
        .expect("retag v1");
    assert_eq!(out.version_id(), Some(first.as_str()));
    assert_eq!(
        tags_of(&s3, "tags", "v", Some(&first)).await,
        pairs(&[("n", "one")])
    );
    assert_eq!(tags_of(&s3, "tags", "v", None).await, pairs(&[("n", "2")]));
    s3.delete_object_tagging()
        .bucket("tags")
        .key("v")
        .send()
        .await
        .expect("delete tagging");
    assert!(tags_of(&s3, "tags", "v", None).await.is_empty());
    let missing = s3
        .get_object_tagging()
        .bucket("tags")
        .key("nothing")
        .send()
        .await;
    assert_s3_err(missing, 404, Some("NoSuchKey"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_limits_are_enforced_with_aws_errors_and_nothing_changes() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "limits").await;
    put(&s3, "limits", "k", b"x").await;
    let eleven: Vec<(String, String)> =
        (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for (set, code) in [
        (eleven.clone(), "BadRequest"),
        (vec![("a", "1"), ("a", "2")], "InvalidTag"),
        (vec![("aws:system", "x")], "InvalidTag"),
        (vec![(long_key.as_str(), "v")], "InvalidTag"),
        (vec![("k", long_value.as_str())], "InvalidTag"),
        (vec![("semi;colon", "v")], "InvalidTag"),
    ] {
        let refused = s3
            .put_object_tagging()
            .bucket("limits")
            .key("k")
            .tagging(tagging(&set))
            .send()
            .await;
        assert_s3_err(refused, 400, Some(code));
    }
    assert!(tags_of(&s3, "limits", "k", None).await.is_empty());
    // In the header: a duplicate name is a malformed header; over 10 is refused, and no
    // object is written.
    let refused = s3
        .put_object()
        .bucket("limits")
        .key("dup")
        .tagging("a=1&a=2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err(refused, 400, Some("InvalidArgument"));
    let header: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let refused = s3
        .put_object()
        .bucket("limits")
        .key("many")
        .tagging(header.join("&"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err(refused, 400, Some("BadRequest"));
    let gone = s3.head_object().bucket("limits").key("many").send().await;
    assert_s3_err(gone, 404, None);

    // Buckets: up to 50 tags; none set is NoSuchTagSet.
    let none = s3.get_bucket_tagging().bucket("limits").send().await;
    assert_s3_err(none, 404, Some("NoSuchTagSet"));
    s3.put_bucket_tagging()
        .bucket("limits")
        .tagging(tagging(&eleven))
        .send()
        .await
        .expect("11 bucket tags");
    let out = s3
        .get_bucket_tagging()
        .bucket("limits")
        .send()
        .await
        .expect("get");
    assert_eq!(out.tag_set().len(), 11);
    let fifty_one: Vec<(String, String)> =
        (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    let fifty_one: Vec<(&str, &str)> = fifty_one
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = s3
        .put_bucket_tagging()
        .bucket("limits")
        .tagging(tagging(&fifty_one))
        .send()
        .await;
    assert_s3_err(refused, 400, Some("BadRequest"));
    s3.delete_bucket_tagging()
        .bucket("limits")
        .send()
        .await
        .expect("delete");
    let none = s3.get_bucket_tagging().bucket("limits").send().await;
    assert_s3_err(none, 404, Some("NoSuchTagSet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagging_on_write_needs_its_own_permission_and_the_cli_speaks_it() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "perm").await;
    let (key, secret) = user_with_key(&env, &server, "camera");
    // The bucket lets the camera put objects, nothing more.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::perm/*"}}]}}"#,
        user_arn(&env, &server, "camera")
    );
    s3.put_bucket_policy()
        .bucket("perm")
        .policy(policy)
        .send()
        .await
        .expect("policy");
    let camera = s3_client(&server.endpoint, &key, &secret, None);
    put(&camera, "perm", "plain", b"x").await;
    let refused = camera
        .put_object()
        .bucket("perm")
        .key("tagged")
        .tagging("a=b")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err(refused, 403, Some("AccessDenied"));

    // The aws CLI, as an administrator would use it.
    aws_ok(
        &env,
        &server,
        None,
        &[
            "s3api",
            "put-object-tagging",
            "--bucket",
            "perm",
            "--key",
            "plain",
            "--tagging",
            "TagSet=[{Key=ward,Value=3}]",
        ],
    );
    let out = aws_ok(
        &env,
        &server,
        None,
        &[
            "s3api",
            "get-object-tagging",
            "--bucket",
            "perm",
            "--key",
            "plain",
        ],
    );
    assert_eq!(out["TagSet"][0]["Key"], "ward");
    assert_eq!(out["TagSet"][0]["Value"], "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_tags_are_sealed_at_rest() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "sealed").await;
    let (key_marker, value_marker, bucket_marker) =
        (marker("tagkey"), marker("tagvalue"), marker("buckettag"));
    s3.put_object()
        .bucket("sealed")
        .key("o")
        .tagging(format!("{key_marker}={value_marker}"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    s3.put_bucket_tagging()
        .bucket("sealed")
        .tagging(tagging(&[("owner", &bucket_marker)]))
        .send()
        .await
        .expect("bucket tags");
    server.stop();
    assert_no_marker_anywhere(
        &env,
        &[
            ("tag key", key_marker),
            ("tag value", value_marker),
            ("bucket tag", bucket_marker),
        ],
        "after tagging",
    );
}

/// boto3 through the bucket API of issue 16 and its neighbours: tagging, object
/// attributes, lifecycle, ownership controls, ListBuckets paging and the plain bucket
/// settings, each answer and error code as AWS gives it (the script says where Coffer
/// refuses by design what AWS accepts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_covers_the_bucket_api() {
    use crate::clients::{require, run_ok, tool};
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/integration/py/boto3_bucket_api.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script);
    let out = run_ok(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("boto3 bucket api ok"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
