//! Every checksum algorithm in every body form: a header value, an unsigned aws-chunked
//! trailer, and signed aws-chunked bodies (with and without a signed trailer). The object
//! stored is exactly the decoded payload; a wrong checksum or a tampered chunk signature
//! leaves nothing stored (and an existing object untouched).

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;

use crate::common::raw::{self, RawResponse};
use crate::common::sign::{self, Payload};
use crate::common::{Server, TestEnv, assert_s3_err, create_bucket, get, put, random_bytes};

const ALGORITHMS: [&str; 5] = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

fn sdk_alg(alg: &str) -> ChecksumAlgorithm {
    ChecksumAlgorithm::from(alg)
}

/// The server's own checksum of `body` (a probe PUT with the algorithm).
async fn checksum_of(s3: &Client, alg: &str, body: &[u8]) -> String {
    let out = s3
        .put_object()
        .bucket("forms")
        .key("probe")
        .checksum_algorithm(sdk_alg(alg))
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    match alg {
        "CRC32" => out.checksum_crc32(),
        "CRC32C" => out.checksum_crc32_c(),
        "CRC64NVME" => out.checksum_crc64_nvme(),
        "SHA1" => out.checksum_sha1(),
        _ => out.checksum_sha256(),
    }
    .unwrap()
    .to_owned()
}

fn trailer_name(alg: &str) -> String {
    format!("x-amz-checksum-{}", alg.to_ascii_lowercase())
}

/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` PUT of `data` in two chunks with `trailer` value.
async fn put_unsigned_trailer(
    server: &Server,
    key: &str,
    data: &[u8],
    alg: &str,
    value: &str,
) -> RawResponse {
    let name = trailer_name(alg);
    let half = data.len() / 2;
    let mut body = Vec::new();
    for piece in [&data[..half], &data[half..]] {
        body.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0\r\n{name}:{value}\r\n\r\n").as_bytes());
    let url = format!("{}/forms/{key}", server.endpoint);
    let decoded = data.len().to_string();
    let headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
        ("x-amz-trailer", name.as_str()),
    ];
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &headers,
        &Payload::StreamingUnsignedTrailer,
        SystemTime::now(),
    );
    let mut h = signed.header_refs();
    let len = body.len().to_string();
    h.push(("Content-Length", &len));
    raw::request(server.addr, "PUT", &signed.path_and_query, &h, &body).await
}

fn sha256_hex(data: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    hex::encode(s3s::crypto::Sha256::checksum(data))
}

/// A signed aws-chunked PUT (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`), each chunk
/// signed in turn; `tamper` flips a byte of the second chunk after signing.
async fn put_signed_chunks(
    server: &Server,
    key: &str,
    data: &[u8],
    trailer: Option<(&str, &str)>,
    tamper: bool,
) -> RawResponse {
    let now = SystemTime::now();
    let url = format!("{}/forms/{key}", server.endpoint);
    let decoded = data.len().to_string();
    let mode = if trailer.is_some() {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    } else {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    };
    let trailer_header = trailer.map(|(alg, _)| trailer_name(alg));
    let mut headers = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
    ];
    if let Some(t) = &trailer_header {
        headers.push(("x-amz-trailer", t.as_str()));
    }
    let signed = sign::sign_v4_headers(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        &headers,
        &Payload::Precomputed(mode),
        now,
    );
    let auth = signed
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .unwrap()
        .1
        .clone();
    let amz_date = signed
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-date"))
        .unwrap()
        .1
        .clone();
    let seed = auth.rsplit("Signature=").next().unwrap().to_owned();
    let scope = format!("{}/us-east-1/s3/aws4_request", &amz_date[..8]);
    let key_bytes =
        aws_sigv4::sign::v4::generate_signing_key(&server.secret_key, now, "us-east-1", "s3");
    let empty = sha256_hex(b"");

    let mut prev = seed;
    let mut body = Vec::new();
    let third = data.len() / 3 + 1;
    let mut pieces: Vec<&[u8]> = data.chunks(third).collect();
    pieces.push(&[]);
    for (i, piece) in pieces.iter().enumerate() {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{empty}\n{}",
            sha256_hex(piece)
        );
        let sig = aws_sigv4::sign::v4::calculate_signature(key_bytes.as_ref(), sts.as_bytes());
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", piece.len()).as_bytes());
        let mut bytes = piece.to_vec();
        if tamper && i == 1 {
            bytes[0] ^= 1;
        }
        body.extend_from_slice(&bytes);
        if !piece.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
        prev = sig;
    }
    match trailer {
        Some((alg, value)) => {
            let line = format!("{}:{value}", trailer_name(alg));
            let sts = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{prev}\n{}",
                sha256_hex(format!("{line}\n").as_bytes())
            );
            let sig = aws_sigv4::sign::v4::calculate_signature(key_bytes.as_ref(), sts.as_bytes());
            body.extend_from_slice(
                format!("{line}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").as_bytes(),
            );
        }
        None => body.extend_from_slice(b"\r\n"),
    }
    let mut h = signed.header_refs();
    let len = body.len().to_string();
    h.push(("Content-Length", &len));
    raw::request(server.addr, "PUT", &signed.path_and_query, &h, &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_checksum_for_each_algorithm_and_form_stores_nothing() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "forms").await;
    let data = random_bytes(200_000);
    let other = random_bytes(1000);
    let old = b"previous version".to_vec();

    for alg in ALGORITHMS {
        let right = checksum_of(&s3, alg, &data).await;
        let wrong = checksum_of(&s3, alg, &other).await;

        // Header form (aws-sdk-s3 sends the value we give it).
        let key = format!("hdr-{alg}");
        let req = s3
            .put_object()
            .bucket("forms")
            .key(&key)
            .body(ByteStream::from(data.clone()));
        let req = match alg {
            "CRC32" => req.checksum_crc32(&wrong),
            "CRC32C" => req.checksum_crc32_c(&wrong),
            "CRC64NVME" => req.checksum_crc64_nvme(&wrong),
            "SHA1" => req.checksum_sha1(&wrong),
            _ => req.checksum_sha256(&wrong),
        };
        assert_s3_err(req.send().await, 400, Some("BadDigest"));
        assert_s3_err(
            s3.head_object().bucket("forms").key(&key).send().await,
            404,
            None,
        );

        // Unsigned trailer form: wrong refused (old object kept), right stored byte-exact.
        let key = format!("trl-{alg}");
        put(&s3, "forms", &key, &old).await;
        let resp = put_unsigned_trailer(&server, &key, &data, alg, &wrong).await;
        assert_eq!(resp.status, 400, "{alg} wrong trailer: {}", resp.text());
        assert_eq!(resp.s3_code().as_deref(), Some("BadDigest"), "{alg}");
        assert_eq!(
            get(&s3, "forms", &key).await,
            old,
            "{alg}: old object replaced"
        );
        let resp = put_unsigned_trailer(&server, &key, &data, alg, &right).await;
        assert_eq!(resp.status, 200, "{alg} right trailer: {}", resp.text());
        assert!(
            get(&s3, "forms", &key).await == data,
            "{alg}: stored bytes differ"
        );

        // Signed chunks with a signed trailer.
        let key = format!("sig-{alg}");
        let resp = put_signed_chunks(&server, &key, &data, Some((alg, &wrong)), false).await;
        assert_eq!(
            resp.status,
            400,
            "{alg} signed, wrong trailer: {}",
            resp.text()
        );
        assert_s3_err(
            s3.head_object().bucket("forms").key(&key).send().await,
            404,
            None,
        );
        let resp = put_signed_chunks(&server, &key, &data, Some((alg, &right)), false).await;
        assert_eq!(resp.status, 200, "{alg} signed trailer: {}", resp.text());
        assert!(
            get(&s3, "forms", &key).await == data,
            "{alg}: signed bytes differ"
        );
        let head = s3
            .head_object()
            .bucket("forms")
            .key(&key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let stored = match alg {
            "CRC32" => head.checksum_crc32(),
            "CRC32C" => head.checksum_crc32_c(),
            "CRC64NVME" => head.checksum_crc64_nvme(),
            "SHA1" => head.checksum_sha1(),
            _ => head.checksum_sha256(),
        };
        assert_eq!(stored, Some(right.as_str()), "{alg}: checksum not kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_chunks_store_decoded_bytes_and_refuse_tampering() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "forms").await;
    let data = random_bytes(300_001);

    let resp = put_signed_chunks(&server, "signed", &data, None, false).await;
    assert_eq!(resp.status, 200, "signed aws-chunked: {}", resp.text());
    assert!(
        get(&s3, "forms", "signed").await == data,
        "chunk framing leaked into the object"
    );

    let old = b"keep me".to_vec();
    put(&s3, "forms", "tampered", &old).await;
    let resp = put_signed_chunks(&server, "tampered", &data, None, true).await;
    assert_eq!(resp.status, 403, "tampered chunk: {}", resp.text());
    assert_eq!(resp.s3_code().as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(get(&s3, "forms", "tampered").await, old);
    let crc = checksum_of(&s3, "CRC32", &data).await;
    let resp = put_signed_chunks(&server, "tampered", &data, Some(("CRC32", &crc)), true).await;
    assert_eq!(
        resp.status,
        403,
        "tampered chunk with trailer: {}",
        resp.text()
    );
    assert_eq!(get(&s3, "forms", "tampered").await, old);
    let resp = put_signed_chunks(&server, "fresh", &data, None, true).await;
    assert_eq!(resp.status, 403);
    assert_s3_err(
        s3.head_object().bucket("forms").key("fresh").send().await,
        404,
        None,
    );
}
