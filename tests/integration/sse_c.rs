//! SSE-C (issue 12): objects under a customer key, driven by aws-sdk-s3. Round trips with
//! ranges and multipart, AWS's answers to a missing, wrong or surplus key, a presigned GET,
//! and at rest: no body marker or key on disk, and a server restarted on the same data
//! directory and master key cannot read the object without the customer key.
//! Guards against a key that is stored or logged, or a read path that skips the key check.

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;

use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::{TestEnv, assert_s3_err, create_bucket, files_under, md5_base64, put, raw};

const MIB: usize = 1024 * 1024;

/// A customer key: its bytes, base64 and base64 MD5.
struct Key {
    bytes: Vec<u8>,
    b64: String,
    md5: String,
}

/// The SSE-C headers of a key, on any request builder that takes them.
trait CustomerKey {
    /// The object's key: `x-amz-server-side-encryption-customer-*`.
    fn customer_key(self, k: &Key) -> Self;
}

/// The copy source's key: `x-amz-copy-source-server-side-encryption-customer-*`.
trait SourceCustomerKey {
    fn source_customer_key(self, k: &Key) -> Self;
}

macro_rules! customer_key_on {
    ($($builder:ty),+) => {$(
        impl CustomerKey for $builder {
            fn customer_key(self, k: &Key) -> Self {
                self.sse_customer_algorithm("AES256")
                    .sse_customer_key(&k.b64)
                    .sse_customer_key_md5(&k.md5)
            }
        }
    )+};
}

macro_rules! source_customer_key_on {
    ($($builder:ty),+) => {$(
        impl SourceCustomerKey for $builder {
            fn source_customer_key(self, k: &Key) -> Self {
                self.copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(&k.b64)
                    .copy_source_sse_customer_key_md5(&k.md5)
            }
        }
    )+};
}

customer_key_on!(
    aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
    aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
    aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder,
    aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder,
    aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    aws_sdk_s3::operation::upload_part::builders::UploadPartFluentBuilder,
    aws_sdk_s3::operation::upload_part_copy::builders::UploadPartCopyFluentBuilder,
    aws_sdk_s3::operation::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder
);
source_customer_key_on!(
    aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder,
    aws_sdk_s3::operation::upload_part_copy::builders::UploadPartCopyFluentBuilder
);

fn new_key() -> Key {
    let bytes = crate::common::random_bytes(32);
    Key {
        b64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        md5: md5_base64(&bytes),
        bytes,
    }
}

async fn put_c(s3: &Client, bucket: &str, key: &str, body: &[u8], k: &Key) {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .customer_key(k)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    assert_eq!(out.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()));
    assert!(
        out.server_side_encryption().is_none(),
        "SSE-C is not SSE-S3"
    );
}

async fn get_c(s3: &Client, bucket: &str, key: &str, k: &Key, range: Option<&str>) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_owned))
        .customer_key(k)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_round_trip_ranges_and_wrong_keys() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let k = new_key();
    let other = new_key();
    let body = crate::common::random_bytes(9 * MIB + 123);
    put_c(&s3, "clinic", "scan.bin", &body, &k).await;

    assert_eq!(get_c(&s3, "clinic", "scan.bin", &k, None).await, body);
    assert_eq!(
        get_c(&s3, "clinic", "scan.bin", &k, Some("bytes=8388600-8388700")).await,
        &body[8_388_600..=8_388_700]
    );
    let head = s3
        .head_object()
        .bucket("clinic")
        .key("scan.bin")
        .customer_key(&k)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.sse_customer_algorithm(), Some("AES256"));

    // Missing key: 400 InvalidRequest; wrong key: 403; HEAD likewise (no body, no code).
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("scan.bin")
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("scan.bin")
            .customer_key(&other)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        s3.head_object()
            .bucket("clinic")
            .key("scan.bin")
            .send()
            .await,
        400,
        None,
    );
    assert_s3_err(
        s3.head_object()
            .bucket("clinic")
            .key("scan.bin")
            .customer_key(&other)
            .send()
            .await,
        403,
        None,
    );
    // A key for a plain object, a bad MD5, a short key: 400.
    put(&s3, "clinic", "plain.txt", b"plain").await;
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("plain.txt")
            .customer_key(&k)
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    assert_s3_err(
        s3.put_object()
            .bucket("clinic")
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.b64)
            .sse_customer_key_md5(&other.md5)
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );
    let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
    assert_s3_err(
        s3.put_object()
            .bucket("clinic")
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&short)
            .sse_customer_key_md5(md5_base64(&[1u8; 16]))
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );
    // A plain copy of an SSE-C object is refused, not linked.
    assert_s3_err(
        s3.copy_object()
            .bucket("clinic")
            .key("copy.bin")
            .copy_source("clinic/scan.bin")
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );

    // A presigned GET: the SSE-C headers are signed and sent along.
    let req = s3
        .get_object()
        .bucket("clinic")
        .key("scan.bin")
        .range("bytes=0-99")
        .customer_key(&k)
        .presigned(PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let headers: Vec<(&str, &str)> = req.headers().collect();
    let path = raw::path_and_query(req.uri());
    let resp = raw::request(server.addr, "GET", &path, &headers, b"").await;
    assert_eq!(resp.status, 206, "{}", resp.text());
    assert_eq!(resp.body, &body[..100]);
    let without: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(n, _)| !n.starts_with("x-amz-server-side-encryption-customer-key"))
        .collect();
    let resp = raw::request(server.addr, "GET", &path, &without, b"").await;
    assert_ne!(resp.status, 206, "presigned GET without the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_multipart_needs_the_key_on_every_part() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let k = new_key();
    let other = new_key();
    let upload = s3
        .create_multipart_upload()
        .bucket("clinic")
        .key("video.bin")
        .customer_key(&k)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.sse_customer_key_md5(), Some(k.md5.as_str()));
    let id = upload.upload_id().unwrap().to_owned();
    let part1 = crate::common::random_bytes(5 * MIB);
    let part2 = crate::common::random_bytes(1000);
    // A part without the key, or with another, is refused.
    assert_s3_err(
        s3.upload_part()
            .bucket("clinic")
            .key("video.bin")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(part2.clone()))
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    assert_s3_err(
        s3.upload_part()
            .bucket("clinic")
            .key("video.bin")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(part2.clone()))
            .customer_key(&other)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    let mut completed = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2)] {
        let out = s3
            .upload_part()
            .bucket("clinic")
            .key("video.bin")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .customer_key(&k)
            .send()
            .await
            .unwrap();
        assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()));
        completed.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("clinic")
        .key("video.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let whole = [part1.as_slice(), part2.as_slice()].concat();
    assert_eq!(get_c(&s3, "clinic", "video.bin", &k, None).await, whole);
    let r = format!("bytes={}-{}", 5 * MIB - 10, 5 * MIB + 9);
    assert_eq!(
        get_c(&s3, "clinic", "video.bin", &k, Some(&r)).await,
        &whole[5 * MIB - 10..5 * MIB + 10]
    );
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("video.bin")
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_at_rest_data_dir_and_master_key_do_not_open_it() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let k = new_key();
    let body_marker = marker("ssecbody");
    let body = format!("patient scan {body_marker} end")
        .repeat(1000)
        .into_bytes();
    put_c(&s3, "clinic", "scan.txt", &body, &k).await;
    assert_eq!(get_c(&s3, "clinic", "scan.txt", &k, None).await, body);
    let markers = vec![("body", body_marker.clone())];
    assert_no_marker_anywhere(&env, &markers, "SSE-C PUT");
    server.stop();

    // Neither the key nor its base64 is in any file the server wrote (logs included).
    let mut files = files_under(&env.data());
    files.extend(files_under(&env.root().join("logs")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for needle in [&k.bytes[..], k.b64.as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "customer key in {}",
                file.display()
            );
        }
    }

    // Same data directory, same master key: without the customer key, nothing opens.
    let server = env.start_durable();
    let s3 = server.client();
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("scan.txt")
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    let guess = new_key();
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("scan.txt")
            .customer_key(&guess)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(get_c(&s3, "clinic", "scan.txt", &k, None).await, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_copy_between_keys_reencrypts() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    create_bucket(&s3, "archive").await;
    let k1 = new_key();
    let k2 = new_key();
    let body = crate::common::random_bytes(3 * MIB + 7);
    put_c(&s3, "clinic", "a.bin", &body, &k1).await;

    // k1 → k2, in the same bucket and across buckets.
    for bucket in ["clinic", "archive"] {
        let out = s3
            .copy_object()
            .bucket(bucket)
            .key("b.bin")
            .copy_source("clinic/a.bin")
            .source_customer_key(&k1)
            .customer_key(&k2)
            .send()
            .await
            .unwrap_or_else(|e| panic!("copy: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
        assert_eq!(out.sse_customer_key_md5(), Some(k2.md5.as_str()));
        assert_eq!(get_c(&s3, bucket, "b.bin", &k2, None).await, body);
        assert_s3_err(
            s3.get_object()
                .bucket(bucket)
                .key("b.bin")
                .customer_key(&k1)
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
    }
    // Wrong source key: 403.
    assert_s3_err(
        s3.copy_object()
            .bucket("clinic")
            .key("c.bin")
            .copy_source("clinic/a.bin")
            .source_customer_key(&k2)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // SSE-C → plain, and re-keying an object in place.
    s3.copy_object()
        .bucket("clinic")
        .key("plain.bin")
        .copy_source("clinic/a.bin")
        .source_customer_key(&k1)
        .send()
        .await
        .unwrap();
    assert_eq!(crate::common::get(&s3, "clinic", "plain.bin").await, body);
    s3.copy_object()
        .bucket("clinic")
        .key("a.bin")
        .copy_source("clinic/a.bin")
        .source_customer_key(&k1)
        .customer_key(&k2)
        .send()
        .await
        .unwrap();
    assert_eq!(get_c(&s3, "clinic", "a.bin", &k2, None).await, body);

    // UploadPartCopy from an SSE-C source into an SSE-C upload under another key.
    let upload = s3
        .create_multipart_upload()
        .bucket("clinic")
        .key("mp.bin")
        .customer_key(&k1)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap().to_owned();
    let part = s3
        .upload_part_copy()
        .bucket("clinic")
        .key("mp.bin")
        .upload_id(&id)
        .part_number(1)
        .copy_source("clinic/a.bin")
        .copy_source_range("bytes=0-999")
        .source_customer_key(&k2)
        .customer_key(&k1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("part copy: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    let etag = part.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    s3.complete_multipart_upload()
        .bucket("clinic")
        .key("mp.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_c(&s3, "clinic", "mp.bin", &k1, None).await,
        &body[..1000]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_with_the_aws_cli() {
    use crate::clients::{aws, path_str, require, tool};
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let scratch = env.scratch();
    let key = scratch.join("key.bin");
    std::fs::write(&key, crate::common::random_bytes(32)).unwrap();
    let key_arg = format!("fileb://{}", path_str(&key));
    // Above the CLI's 8 MiB threshold: a multipart upload and a ranged, parallel download.
    let body = crate::common::random_bytes(9 * MIB + 5);
    let up = scratch.join("up.bin");
    std::fs::write(&up, &body).unwrap();
    let down = scratch.join("down.bin");

    aws(&env, &server, &["s3", "mb", "s3://cli-ssec"]);
    let sse = ["--sse-c", "AES256", "--sse-c-key", key_arg.as_str()];
    let mut args = vec!["s3", "cp", path_str(&up), "s3://cli-ssec/scan.bin"];
    args.extend(sse);
    aws(&env, &server, &args);
    let mut args = vec!["s3", "cp", "s3://cli-ssec/scan.bin", path_str(&down)];
    args.extend(sse);
    aws(&env, &server, &args);
    assert_eq!(std::fs::read(&down).unwrap(), body);

    // Without the key the download fails.
    let mut cmd = tool(&env, &server, "aws");
    cmd.args(["s3", "cp", "s3://cli-ssec/scan.bin", path_str(&down)]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "download without the key succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_with_boto3() {
    use crate::clients::{require, run_ok, tool};
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/integration/py/boto3_sse_c.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script);
    let out = run_ok(cmd);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 sse-c ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_versions_keep_their_own_keys() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    s3.put_bucket_versioning()
        .bucket("clinic")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let k = new_key();
    put_c(&s3, "clinic", "doc", b"version one, secret", &k).await;
    let v1 = s3
        .head_object()
        .bucket("clinic")
        .key("doc")
        .customer_key(&k)
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    put(&s3, "clinic", "doc", b"version two, plain").await;
    assert_eq!(
        crate::common::get(&s3, "clinic", "doc").await,
        b"version two, plain"
    );
    assert_s3_err(
        s3.get_object()
            .bucket("clinic")
            .key("doc")
            .version_id(&v1)
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    let old = s3
        .get_object()
        .bucket("clinic")
        .key("doc")
        .version_id(&v1)
        .customer_key(&k)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.body.collect().await.unwrap().into_bytes().as_ref(),
        b"version one, secret"
    );
}
