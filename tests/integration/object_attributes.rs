//! GetObjectAttributes (issue 16, item 4) with aws-sdk-s3, raw signed requests and the aws
//! CLI, against the answers AWS gives: the bare ETag, size, STANDARD, the checksum and its
//! type, parts paged by MaxParts and PartNumberMarker for composite-checksum multipart
//! objects (the count alone otherwise), versions and delete markers, the
//! `x-amz-object-attributes` errors, SSE-C, and both permissions AWS asks for.
//! Guards against a quoted ETag, a missing or over-generous access check, and attributes
//! answered for what a HEAD would refuse.

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
    StorageClass,
};
use base64::Engine as _;
use md5::{Digest as _, Md5};

use crate::clients::{aws, require};
use crate::common::iam_cli::{aws_ok, user_with_key};
use crate::common::sign::{self, Payload};
use crate::common::versions::{delete_to_marker, put_version, versioned_bucket};
use crate::common::{TestEnv, assert_s3_err, create_bucket, md5_base64, put, random_bytes, raw};

const MIB: usize = 1024 * 1024;

fn all_attributes() -> Vec<ObjectAttributes> {
    vec![
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::StorageClass,
        ObjectAttributes::ObjectSize,
    ]
}

fn hex_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_part_object_etag_size_storage_class_and_checksum() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "attrs").await;
    let body = b"69\n420\n";
    let put_out = s3
        .put_object()
        .bucket("attrs")
        .key("data.txt")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap();

    let out = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("data.txt")
        .set_object_attributes(Some(all_attributes()))
        .send()
        .await
        .unwrap();
    // Unlike every other S3 response, the ETag of this one is not quoted.
    assert_eq!(out.e_tag(), Some(hex_md5(body).as_str()));
    assert_eq!(out.object_size(), Some(body.len() as i64));
    assert_eq!(out.storage_class(), Some(&StorageClass::Standard));
    let sum = out.checksum().expect("checksum");
    assert_eq!(sum.checksum_sha256(), put_out.checksum_sha256());
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::FullObject));
    assert!(out.object_parts().is_none(), "a single PUT has no parts");
    assert!(out.last_modified().is_some());
    assert!(out.version_id().is_none(), "never versioned: no version id");

    // Only what is asked for. (The SDK adds its default CRC32 to a plain PUT.)
    put(&s3, "attrs", "plain.txt", b"plain").await;
    let out = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("plain.txt")
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::Checksum)
        .send()
        .await
        .unwrap();
    assert_eq!(out.object_size(), Some(5));
    assert!(out.e_tag().is_none() && out.storage_class().is_none());
    assert!(out.object_parts().is_none());
    let sum = out.checksum().expect("the SDK's CRC32");
    assert!(sum.checksum_crc32().is_some() && sum.checksum_sha256().is_none());

    // A missing key and a missing bucket, as for HEAD.
    assert_s3_err(
        s3.get_object_attributes()
            .bucket("attrs")
            .key("absent")
            .object_attributes(ObjectAttributes::Etag)
            .send()
            .await,
        404,
        Some("NoSuchKey"),
    );
    assert_s3_err(
        s3.get_object_attributes()
            .bucket("no-such-bucket")
            .key("k")
            .object_attributes(ObjectAttributes::Etag)
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
}

async fn multipart(
    s3: &Client,
    key: &str,
    alg: Option<ChecksumAlgorithm>,
    bodies: &[&[u8]],
) -> Vec<Option<String>> {
    let id = s3
        .create_multipart_upload()
        .bucket("attrs")
        .key(key)
        .set_checksum_algorithm(alg.clone())
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut done = Vec::new();
    let mut sums = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let out = s3
            .upload_part()
            .bucket("attrs")
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .set_checksum_algorithm(alg.clone())
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap();
        sums.push(out.checksum_crc32().map(str::to_owned));
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("attrs")
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    sums
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_parts_page_by_max_parts_and_marker() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "attrs").await;
    let a = random_bytes(5 * MIB);
    let b = random_bytes(1234);
    // CRC32 multipart objects are COMPOSITE by default: AWS lists their parts.
    let sums = multipart(&s3, "mp", Some(ChecksumAlgorithm::Crc32), &[&a, &b]).await;
    let head = s3
        .head_object()
        .bucket("attrs")
        .key("mp")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let composite = head.checksum_crc32().unwrap();
    assert!(composite.ends_with("-2"), "HEAD: {composite}");

    let first = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("mp")
        .set_object_attributes(Some(all_attributes()))
        .max_parts(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        first.e_tag(),
        Some(head.e_tag().unwrap().trim_matches('"')),
        "the multipart ETag, bare"
    );
    assert_eq!(first.object_size(), Some((a.len() + b.len()) as i64));
    let sum = first.checksum().unwrap();
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::Composite));
    // This API writes the composite value without its `-N`.
    assert_eq!(
        sum.checksum_crc32(),
        composite.strip_suffix("-2"),
        "composite checksum"
    );
    let parts = first.object_parts().expect("object parts");
    assert_eq!(parts.total_parts_count(), Some(2));
    assert_eq!(parts.max_parts(), Some(1));
    assert_eq!(parts.is_truncated(), Some(true));
    assert_eq!(parts.part_number_marker(), Some("0"));
    assert_eq!(parts.next_part_number_marker(), Some("1"));
    assert_eq!(parts.parts().len(), 1);
    let p1 = &parts.parts()[0];
    assert_eq!(p1.part_number(), Some(1));
    assert_eq!(p1.size(), Some(a.len() as i64));
    assert_eq!(p1.checksum_crc32(), sums[0].as_deref());

    let rest = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("mp")
        .object_attributes(ObjectAttributes::ObjectParts)
        .part_number_marker("1")
        .send()
        .await
        .unwrap();
    let parts = rest.object_parts().unwrap();
    assert_eq!(parts.max_parts(), Some(1000), "the default page size");
    assert_eq!(parts.is_truncated(), Some(false));
    assert_eq!(parts.part_number_marker(), Some("1"));
    assert_eq!(parts.next_part_number_marker(), Some("2"));
    assert_eq!(parts.total_parts_count(), Some(2));
    let listed: Vec<_> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size(), p.checksum_crc32()))
        .collect();
    assert_eq!(
        listed,
        [(Some(2), Some(b.len() as i64), sums[1].as_deref())]
    );

    // Without an additional checksum AWS gives the count alone.
    multipart(&s3, "mp-plain", None, &[&a, &b]).await;
    let plain = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("mp-plain")
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::Checksum)
        .send()
        .await
        .unwrap();
    let parts = plain.object_parts().unwrap();
    assert_eq!(parts.total_parts_count(), Some(2));
    assert!(parts.parts().is_empty() && parts.is_truncated().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_by_id_and_delete_markers() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    versioned_bucket(&s3, "attrs").await;
    let v1 = put_version(&s3, "attrs", "k", b"first").await;
    let v2 = put_version(&s3, "attrs", "k", b"second!").await;

    let latest = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("k")
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap();
    assert_eq!(latest.version_id(), Some(v2.as_str()));
    assert_eq!(latest.object_size(), Some(7));
    let old = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("k")
        .version_id(&v1)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap();
    assert_eq!(old.version_id(), Some(v1.as_str()));
    assert_eq!(old.object_size(), Some(5));
    assert_eq!(old.e_tag(), Some(hex_md5(b"first").as_str()));

    // A delete marker on top: 404 NoSuchKey saying it is one; named by id, 405.
    let marker = delete_to_marker(&s3, "attrs", "k").await;
    let err = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("k")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap_err();
    let resp = err.raw_response().expect("a response");
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.headers().get("x-amz-delete-marker"), Some("true"));
    assert_eq!(crate::common::code_of(&err).as_deref(), Some("NoSuchKey"));
    assert_s3_err(
        s3.get_object_attributes()
            .bucket("attrs")
            .key("k")
            .version_id(&marker)
            .object_attributes(ObjectAttributes::Etag)
            .send()
            .await,
        405,
        Some("MethodNotAllowed"),
    );
    // The older version still answers by id.
    s3.get_object_attributes()
        .bucket("attrs")
        .key("k")
        .version_id(&v1)
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap();
}

/// A signed raw GET `?attributes` of `bucket/key` with `headers` (all signed).
async fn raw_attributes(
    server: &crate::common::Server,
    path: &str,
    headers: &[(&str, &str)],
) -> raw::RawResponse {
    let url = format!("{}/{path}?attributes", server.endpoint);
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "GET",
        &url,
        headers,
        &Payload::Bytes(b""),
        SystemTime::now(),
    );
    raw::request(
        server.addr,
        "GET",
        &signed.path_and_query,
        &signed.header_refs(),
        b"",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attributes_header_is_required_and_checked() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "attrs").await;
    put(&s3, "attrs", "k", b"hello").await;

    // Missing (s3s refuses before Coffer sees it), empty, or only commas: InvalidRequest.
    let missing = raw_attributes(&server, "attrs/k", &[]).await;
    assert_eq!(missing.status, 400, "{}", missing.text());
    assert_eq!(missing.s3_code().as_deref(), Some("InvalidRequest"));
    for value in ["", " , "] {
        let empty = raw_attributes(&server, "attrs/k", &[("x-amz-object-attributes", value)]).await;
        assert_eq!(empty.status, 400, "{value:?}: {}", empty.text());
        assert_eq!(empty.s3_code().as_deref(), Some("InvalidRequest"));
        assert!(
            empty.text().contains("either missing or empty"),
            "{}",
            empty.text()
        );
    }
    assert_s3_err(
        s3.get_object_attributes()
            .bucket("attrs")
            .key("k")
            .set_object_attributes(Some(Vec::new()))
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );

    // An unknown name, alone or beside good ones, even for a missing key: InvalidArgument.
    for (key, names) in [
        ("k", vec![ObjectAttributes::from("Dummy")]),
        (
            "k",
            vec![ObjectAttributes::Etag, ObjectAttributes::from("ETags")],
        ),
        ("absent", vec![ObjectAttributes::from("etag")]),
    ] {
        assert_s3_err(
            s3.get_object_attributes()
                .bucket("attrs")
                .key(key)
                .set_object_attributes(Some(names))
                .send()
                .await,
            400,
            Some("InvalidArgument"),
        );
    }

    // One header line listing names with spaces, as newer SDKs send it: the XML root and
    // the bare ETag are AWS's.
    let ok = raw_attributes(
        &server,
        "attrs/k",
        &[("x-amz-object-attributes", "ETag, ObjectSize, StorageClass")],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let text = ok.text();
    assert!(text.contains("<GetObjectAttributesResponse"), "{text}");
    assert!(
        text.contains(&format!("<ETag>{}</ETag>", hex_md5(b"hello"))),
        "{text}"
    );
    assert!(text.contains("<ObjectSize>5</ObjectSize>"), "{text}");
    assert!(ok.header("last-modified").is_some(), "{:?}", ok.headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_objects_need_their_key() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "attrs").await;
    let key = random_bytes(32);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&key);
    let md5 = md5_base64(&key);
    s3.put_object()
        .bucket("attrs")
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&b64)
        .sse_customer_key_md5(&md5)
        .body(ByteStream::from_static(b"sealed"))
        .send()
        .await
        .unwrap();
    assert_s3_err(
        s3.get_object_attributes()
            .bucket("attrs")
            .key("secret")
            .object_attributes(ObjectAttributes::ObjectSize)
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    let other = base64::engine::general_purpose::STANDARD.encode(random_bytes(32));
    let other_md5 = md5_base64(
        &base64::engine::general_purpose::STANDARD
            .decode(&other)
            .unwrap(),
    );
    assert_s3_err(
        s3.get_object_attributes()
            .bucket("attrs")
            .key("secret")
            .object_attributes(ObjectAttributes::ObjectSize)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other)
            .sse_customer_key_md5(&other_md5)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    let out = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("secret")
        .object_attributes(ObjectAttributes::ObjectSize)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&b64)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(out.object_size(), Some(6));
}

/// AWS asks for `s3:GetObjectAttributes` besides `s3:GetObject`: a user the bucket policy
/// lets read the object, but not its attributes, is refused, and allowed once it may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_needs_both_get_object_and_get_object_attributes() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "shared").await;
    put(&s3, "shared", "scan.txt", b"scan").await;
    let (ak, sk) = user_with_key(&env, &server, "reader");
    let me = aws_ok(
        &env,
        &server,
        Some((&ak, &sk)),
        &["sts", "get-caller-identity"],
    );
    let arn = me["Arn"].as_str().expect("Arn");
    let allow = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":{actions},"Resource":"arn:aws:s3:::shared/*"}}]}}"#
        )
    };
    let reader = crate::common::s3_client(&server.endpoint, &ak, &sk, None);
    let attributes = || {
        reader
            .get_object_attributes()
            .bucket("shared")
            .key("scan.txt")
            .object_attributes(ObjectAttributes::ObjectSize)
            .send()
    };

    // No grant at all.
    assert_s3_err(attributes().await, 403, Some("AccessDenied"));
    // s3:GetObject alone reads the object, not its attributes.
    s3.put_bucket_policy()
        .bucket("shared")
        .policy(allow(r#""s3:GetObject""#))
        .send()
        .await
        .unwrap();
    reader
        .get_object()
        .bucket("shared")
        .key("scan.txt")
        .send()
        .await
        .expect("s3:GetObject reads");
    assert_s3_err(attributes().await, 403, Some("AccessDenied"));
    // s3:GetObjectAttributes alone is not enough either.
    s3.put_bucket_policy()
        .bucket("shared")
        .policy(allow(r#""s3:GetObjectAttributes""#))
        .send()
        .await
        .unwrap();
    assert_s3_err(attributes().await, 403, Some("AccessDenied"));
    // Both: allowed.
    s3.put_bucket_policy()
        .bucket("shared")
        .policy(allow(r#"["s3:GetObject","s3:GetObjectAttributes"]"#))
        .send()
        .await
        .unwrap();
    let out = attributes().await.expect("both actions allowed");
    assert_eq!(out.object_size(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_get_object_attributes() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "attrs").await;
    let body = b"from the cli";
    put(&s3, "attrs", "k.txt", body).await;
    let out = aws(
        &env,
        &server,
        &[
            "s3api",
            "get-object-attributes",
            "--bucket",
            "attrs",
            "--key",
            "k.txt",
            "--object-attributes",
            "ETag",
            "ObjectSize",
            "StorageClass",
            "--output",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["ETag"], hex_md5(body).as_str(), "{json}");
    assert_eq!(json["ObjectSize"], body.len(), "{json}");
    assert_eq!(json["StorageClass"], "STANDARD", "{json}");
    assert!(json["LastModified"].is_string(), "{json}");
}
