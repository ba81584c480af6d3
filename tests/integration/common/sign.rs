//! Hand-made signatures for raw requests: SigV4 (via `aws-sigv4`, so the canonical request
//! is AWS's own), presigned URLs with any expiry, and valid SigV2 signatures (to prove SigV2
//! is refused as such, not merely mis-signed).

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;

/// A request ready to go on the wire: the path-and-query and all headers to send.
#[derive(Debug, Clone)]
pub struct Signed {
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
}

impl Signed {
    pub fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// What the payload hash should claim.
pub enum Payload<'a> {
    /// The SHA-256 of these bytes (`x-amz-content-sha256: <hex>`).
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (aws-chunked with a trailer checksum).
    StreamingUnsignedTrailer,
    /// Any other `x-amz-content-sha256` value, e.g. `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    Precomputed(&'a str),
}

fn settings(location: SignatureLocation, expires: Option<Duration>) -> SigningSettings {
    let mut s = SigningSettings::default();
    // S3 signs the path as sent: single encoding, no normalisation of `//` or `..`.
    s.percent_encoding_mode = PercentEncodingMode::Single;
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.signature_location = location;
    s.expires_in = expires;
    s.payload_checksum_kind = match location {
        SignatureLocation::Headers => PayloadChecksumKind::XAmzSha256,
        _ => PayloadChecksumKind::NoHeader,
    };
    s
}

/// The region every helper signs for unless told otherwise (the server's default).
pub const REGION: &str = "us-east-1";

/// `scope` is the credential scope's region and service.
#[allow(clippy::too_many_arguments)]
fn sign_any(
    (region, service): (&str, &str),
    access_key: &str,
    secret_key: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: &Payload<'_>,
    time: SystemTime,
    location: SignatureLocation,
    expires: Option<Duration>,
) -> Signed {
    let creds = aws_credential_types::Credentials::new(access_key, secret_key, None, None, "test");
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings(location, expires))
        .build()
        .expect("signing params")
        .into();
    let body = match payload {
        Payload::Bytes(b) => SignableBody::Bytes(b),
        Payload::Unsigned => SignableBody::UnsignedPayload,
        Payload::StreamingUnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
        Payload::Precomputed(value) => SignableBody::Precomputed((*value).to_owned()),
    };
    let signable =
        SignableRequest::new(method, url, headers.iter().copied(), body).expect("signable request");
    let (instructions, _sig) = sign(signable, &params).expect("sign").into_parts();
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .body(())
        .expect("http request");
    instructions.apply_to_request_http1x(&mut req);
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (k, v) in req.headers() {
        if !out
            .iter()
            .any(|(ok, _)| ok.eq_ignore_ascii_case(k.as_str()))
        {
            out.push((
                k.as_str().to_owned(),
                v.to_str().expect("ascii header").to_owned(),
            ));
        }
    }
    Signed {
        path_and_query: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        headers: out,
    }
}

/// SigV4 in the `Authorization` header. `url` is absolute (`http://127.0.0.1:port/b/k`);
/// every header in `headers` is signed.
pub fn sign_v4_headers(
    access_key: &str,
    secret_key: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: &Payload<'_>,
    time: SystemTime,
) -> Signed {
    sign_v4_headers_in(
        REGION, access_key, secret_key, method, url, headers, payload, time,
    )
}

/// A SigV4 `Authorization` header for another service than S3 (`iam`, `audit`…), signing
/// the SHA-256 of `body` as IAM clients do.
pub fn sign_v4_service(
    service: &str,
    access_key: &str,
    secret_key: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Signed {
    sign_any(
        (REGION, service),
        access_key,
        secret_key,
        method,
        url,
        headers,
        &Payload::Bytes(body),
        SystemTime::now(),
        SignatureLocation::Headers,
        None,
    )
}

/// [`sign_v4_headers`] with the credential scoped to `region`.
#[allow(clippy::too_many_arguments)]
pub fn sign_v4_headers_in(
    region: &str,
    access_key: &str,
    secret_key: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: &Payload<'_>,
    time: SystemTime,
) -> Signed {
    sign_any(
        (region, "s3"),
        access_key,
        secret_key,
        method,
        url,
        headers,
        payload,
        time,
        SignatureLocation::Headers,
        None,
    )
}

/// A presigned URL (query-string SigV4) valid for `expires`, with no upper bound enforced
/// here (the SDK refuses > 7 days; the server must too).
pub fn presign_v4(
    access_key: &str,
    secret_key: &str,
    method: &str,
    url: &str,
    expires: Duration,
    time: SystemTime,
) -> Signed {
    presign_v4_in(REGION, access_key, secret_key, method, url, expires, time)
}

/// [`presign_v4`] with the credential scoped to `region`.
pub fn presign_v4_in(
    region: &str,
    access_key: &str,
    secret_key: &str,
    method: &str,
    url: &str,
    expires: Duration,
    time: SystemTime,
) -> Signed {
    sign_any(
        (region, "s3"),
        access_key,
        secret_key,
        method,
        url,
        &[],
        &Payload::Unsigned,
        time,
        SignatureLocation::QueryParams,
        Some(expires),
    )
}

fn hmac_sha1_b64(secret: &str, string_to_sign: &str) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// RFC 1123 date, as SigV2 uses.
pub fn http_date(t: SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::HttpDate)
        .expect("format date")
}

/// A correctly computed SigV2 header signature for a body-less request to `resource`
/// (`/bucket/key`). Returns the headers to send (`Date`, `Authorization: AWS ak:sig`).
pub fn sign_v2_header(
    access_key: &str,
    secret_key: &str,
    method: &str,
    resource: &str,
) -> Vec<(String, String)> {
    let date = http_date(SystemTime::now());
    let sts = format!("{method}\n\n\n{date}\n{resource}");
    let sig = hmac_sha1_b64(secret_key, &sts);
    vec![
        ("Date".into(), date),
        ("Authorization".into(), format!("AWS {access_key}:{sig}")),
    ]
}

/// A correctly computed SigV2 presigned query string for `resource` (`/bucket/key`).
pub fn presign_v2_query(
    access_key: &str,
    secret_key: &str,
    method: &str,
    resource: &str,
) -> String {
    let expires = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        + 600;
    let sts = format!("{method}\n\n\n{expires}\n{resource}");
    let sig = hmac_sha1_b64(secret_key, &sts);
    let sig = percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC);
    format!("{resource}?AWSAccessKeyId={access_key}&Expires={expires}&Signature={sig}")
}

/// CRC-32 (IEEE), as `x-amz-checksum-crc32` uses.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Base64 of the big-endian CRC-32, the `x-amz-checksum-crc32` value.
#[allow(clippy::big_endian_bytes)] // the header value is defined as the big-endian CRC
pub fn crc32_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc32(data).to_be_bytes())
}

/// An aws-chunked body (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`): one data chunk, the final
/// zero chunk, and an `x-amz-checksum-crc32` trailer that is correct for `data`.
pub fn aws_chunked_body(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n0\r\n");
    out.extend_from_slice(format!("x-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(data)).as_bytes());
    out
}

/// The fields of a browser form upload signed with SigV4 (as boto3's
/// `generate_presigned_post` builds them): a policy allowing any key in `bucket` plus an
/// `eq` condition for each of `extra`, and the signature. `extra` fields are sent too.
pub fn post_form_v4(
    access_key: &str,
    secret_key: &str,
    bucket: &str,
    extra: &[(&str, &str)],
    time: SystemTime,
) -> Vec<(String, String)> {
    post_form_v4_in(REGION, access_key, secret_key, bucket, extra, time)
}

/// [`post_form_v4`] with the credential scoped to `region`.
pub fn post_form_v4_in(
    region: &str,
    access_key: &str,
    secret_key: &str,
    bucket: &str,
    extra: &[(&str, &str)],
    time: SystemTime,
) -> Vec<(String, String)> {
    let date = aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("format date");
    // 2025-01-01T00:00:00Z -> 20250101T000000Z
    let amz_date: String = date
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(15)
        .chain(std::iter::once('Z'))
        .collect();
    let credential = format!("{access_key}/{}/{region}/s3/aws4_request", &amz_date[..8]);
    let mut conditions = vec![
        serde_json_value_eq("bucket", bucket),
        "[\"starts-with\", \"$key\", \"\"]".to_owned(),
        serde_json_value_eq("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        serde_json_value_eq("x-amz-credential", &credential),
        serde_json_value_eq("x-amz-date", &amz_date),
    ];
    conditions.extend(extra.iter().map(|(k, v)| serde_json_value_eq(k, v)));
    let policy = format!(
        "{{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [{}]}}",
        conditions.join(", ")
    );
    let policy = base64::engine::general_purpose::STANDARD.encode(policy);
    let key = aws_sigv4::sign::v4::generate_signing_key(secret_key, time, region, "s3");
    let signature = aws_sigv4::sign::v4::calculate_signature(key, policy.as_bytes());
    let mut fields: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    fields.extend([
        ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
        ("policy".to_owned(), policy),
        ("x-amz-signature".to_owned(), signature),
    ]);
    fields
}

fn serde_json_value_eq(name: &str, value: &str) -> String {
    format!("{{\"{name}\": \"{value}\"}}")
}

/// The fields of a browser form upload signed with SigV2: `AWSAccessKeyId`, a `policy`
/// (valid until 2099) and `signature` = base64(HMAC-SHA1(secret, policy)), with a
/// correctly computed signature, to prove SigV2 forms are refused as such.
pub fn post_form_v2(access_key: &str, secret_key: &str, bucket: &str) -> Vec<(String, String)> {
    let policy = format!(
        "{{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [{{\"bucket\": \"{bucket}\"}}, [\"starts-with\", \"$key\", \"\"]]}}"
    );
    let policy = base64::engine::general_purpose::STANDARD.encode(policy);
    let signature = hmac_sha1_b64(secret_key, &policy);
    vec![
        ("AWSAccessKeyId".to_owned(), access_key.to_owned()),
        ("policy".to_owned(), policy),
        ("signature".to_owned(), signature),
    ]
}

/// A `multipart/form-data` body with boundary `xyz`: `key`, then `fields`, then the file.
pub fn form_body(key: &str, fields: &[(String, String)], file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut part = |name: &str, value: &[u8]| {
        body.extend_from_slice(
            format!("--xyz\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    part("key", key.as_bytes());
    for (name, value) in fields {
        part(name, value.as_bytes());
    }
    body.extend_from_slice(
        b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n",
    );
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--xyz--\r\n");
    body
}
