//! The verifier against requests signed by AWS's own signer (`aws-sigv4`) for `iam`, as
//! IAM clients sign them: no payload-hash header, default path encoding.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::{Failure, Signed, verify};
use crate::guard::{AdminService, HeaderSignature, Scope};

const SECRET: &str = "iam-test-secret-that-is-long-enough";
const BODY: &[u8] = b"Action=CreateUser&UserName=alice&Version=2010-05-08";

struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    sig: HeaderSignature,
}

fn signed(region: &str, service: &str, uri: &str, body: &[u8], at: SystemTime) -> Req {
    let creds = aws_credential_types::Credentials::new("CFUSERKEY", SECRET, None, None, "test");
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [
        ("host", "127.0.0.1:9000"),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ];
    let signable = SignableRequest::new(
        "POST",
        format!("http://127.0.0.1:9000{uri}"),
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(uri)
        .body(())
        .unwrap();
    for (k, v) in headers {
        req.headers_mut()
            .insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    instructions.apply_to_request_http1x(&mut req);
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let sig = parse(&auth);
    let (parts, ()) = req.into_parts();
    Req {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        sig,
    }
}

/// `AWS4-HMAC-SHA256 Credential=K/D/R/S/aws4_request, SignedHeaders=…, Signature=…`.
fn parse(auth: &str) -> HeaderSignature {
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=").unwrap();
    let (credential, rest) = rest.split_once(", SignedHeaders=").unwrap();
    let (signed_headers, signature) = rest.split_once(", Signature=").unwrap();
    let parts: Vec<&str> = credential.split('/').collect();
    HeaderSignature {
        scope: Scope {
            access_key: parts[0].to_owned(),
            region: parts[2].to_owned(),
        },
        date: parts[1].to_owned(),
        service: match parts[3] {
            "iam" => AdminService::Iam,
            _ => AdminService::Sts,
        },
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
    }
}

fn check(req: &Req, body: &[u8], secret: &str, now: SystemTime) -> Result<(), Failure> {
    let signed = Signed {
        method: &req.method,
        uri: &req.uri,
        headers: &req.headers,
        body,
    };
    verify(&signed, &req.sig, secret, &["eu-west-3", "us-east-1"], now)
}

#[test]
fn a_request_signed_by_aws_sigv4_for_iam_verifies() {
    let now = SystemTime::now();
    let req = signed("us-east-1", "iam", "/", BODY, now);
    assert_eq!(check(&req, BODY, SECRET, now), Ok(()));
    // The server's own region is accepted too, and STS.
    let req = signed("eu-west-3", "sts", "/", BODY, now);
    assert_eq!(check(&req, BODY, SECRET, now), Ok(()));
}

#[test]
fn paths_and_queries_are_canonicalised_as_for_non_s3_services() {
    let now = SystemTime::now();
    for uri in [
        "/a/./b/../c//d/",
        "/x%20y/%E2%82%AC",
        "/?Version=2010-05-08&Action=ListUsers&Marker=a%2Bb%20c",
    ] {
        let req = signed("us-east-1", "iam", uri, b"", now);
        assert_eq!(check(&req, b"", SECRET, now), Ok(()), "{uri}");
    }
}

#[test]
fn a_wrong_secret_or_an_altered_request_does_not_verify() {
    let now = SystemTime::now();
    let req = signed("us-east-1", "iam", "/", BODY, now);
    assert_eq!(
        check(&req, BODY, "another-secret-that-is-long-enough", now),
        Err(Failure::Mismatch)
    );
    let altered = b"Action=CreateUser&UserName=mallory&Version=2010-05-08";
    assert_eq!(check(&req, altered, SECRET, now), Err(Failure::Mismatch));
    let mut moved = signed("us-east-1", "iam", "/", BODY, now);
    moved.uri = "/other".parse().unwrap();
    assert_eq!(check(&moved, BODY, SECRET, now), Err(Failure::Mismatch));
    let mut hashed = signed("us-east-1", "iam", "/", BODY, now);
    hashed.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    assert_eq!(check(&hashed, BODY, SECRET, now), Err(Failure::Incomplete));
}

#[test]
fn region_date_and_clock_are_checked() {
    let now = SystemTime::now();
    let elsewhere = signed("ap-south-1", "iam", "/", BODY, now);
    assert_eq!(
        check(&elsewhere, BODY, SECRET, now),
        Err(Failure::WrongRegion)
    );
    let old = signed("us-east-1", "iam", "/", BODY, now - Duration::from_mins(16));
    assert_eq!(check(&old, BODY, SECRET, now), Err(Failure::Expired));
    let ahead = signed("us-east-1", "iam", "/", BODY, now + Duration::from_mins(16));
    assert_eq!(check(&ahead, BODY, SECRET, now), Err(Failure::Expired));
    let recent = signed("us-east-1", "iam", "/", BODY, now - Duration::from_mins(14));
    assert_eq!(check(&recent, BODY, SECRET, now), Ok(()));
    let mut other_day = signed("us-east-1", "iam", "/", BODY, now);
    other_day.sig.date = "19990101".to_owned();
    assert_eq!(
        check(&other_day, BODY, SECRET, now),
        Err(Failure::DateMismatch)
    );
    let mut no_host = signed("us-east-1", "iam", "/", BODY, now);
    no_host.sig.signed_headers = "x-amz-date".to_owned();
    assert_eq!(check(&no_host, BODY, SECRET, now), Err(Failure::Incomplete));
}
