//! Screening of authentication parameters, before s3s verifies the signature (P1).
//!
//! s3s 0.14.1 reads authentication exactly: the query names `X-Amz-Signature`,
//! `X-Amz-Expires`… spelled so and given once (`get_unique`), the `Authorization` header
//! given once, and it picks the method in a fixed order (s3s notes §3, §8.16–17). Anything
//! we check in front of it must read the request the same way, or a case-variant or repeated
//! twin can carry a value s3s never sees (a second `x-amz-expires` once slipped a 136-year
//! link past the 7-day cap). So this screen refuses every repeated or case-variant
//! authentication parameter, every request carrying two methods at once, and then decides
//! "form, presigned, header or anonymous" as s3s does:
//!
//! 1. `POST` with `multipart/form-data`: a browser form, signed by its policy (checked by s3s
//!    and the access layer, which refuses a SigV2 form from what s3s verified);
//! 2. a query `X-Amz-Signature`: a presigned URL;
//! 3. an `Authorization` header: header signature;
//! 4. otherwise anonymous, which the access layer refuses.
//!
//! It also refuses what s3s would accept but AWS does not: SigV2 (header and query), an
//! algorithm other than `AWS4-HMAC-SHA256` (s3s never looks at it), a service other than
//! `s3`, presigned URLs beyond the configured lifetime, and `x-amz-*` headers outside the
//! signed list (s3s acts on unsigned ones, notes §8.0).
//!
//! And it refuses a signature scoped to another region than the server's `--region`, which
//! s3s never compares (notes §2.1), with the answer AWS gives: clients read the region it
//! names to find the right one. (Browser forms carry their credential in the body; the
//! form intake checks it with [`check_form_credential`].)
//!
//! A signature scoped to service `iam` or `sts` is not for s3s at all: the screen hands it
//! back as [`AuthForm::Admin`] for `crate::iam`, which verifies it itself (IAM is global, so
//! the region, date and payload rules differ). Only the repeat checks above apply to it.

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method, Uri};

use super::refusal::Refusal;
use crate::limits::Limits;

/// The only signing algorithm accepted.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SigV4a, which s3s does not implement: 501 rather than 400.
const SIGV4A: &str = "AWS4-ECDSA-P256-SHA256";
/// Query parameters of presigned SigV4, with the spelling s3s requires.
pub(super) const AUTH_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];
/// Query parameters of SigV2 presigned URLs (refused in any spelling).
const SIGV2_PARAMS: [&str; 2] = ["Signature", "AWSAccessKeyId"];

/// How a request that passed the screen is authenticated, as s3s will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthForm {
    /// No signature at all; the access layer refuses it.
    Anonymous,
    /// A browser form upload, signed by the policy inside it.
    Form,
    /// SigV4 in the `Authorization` header.
    Header(Scope),
    /// A request for the IAM or STS query API (`crate::iam`), not for s3s.
    Admin(AdminAuth),
    /// A presigned URL valid for `expires` seconds.
    Presigned {
        /// The credential scope.
        scope: Scope,
        /// `X-Amz-Expires`.
        expires: u64,
    },
}

/// How an IAM or STS request is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AdminAuth {
    /// SigV4 in the `Authorization` header, for the IAM handler to verify.
    Header(HeaderSignature),
    /// A presigned URL: IAM does not take those here.
    Presigned,
}

/// An IAM/STS service named in a credential scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdminService {
    /// `iam`.
    Iam,
    /// `sts`.
    Sts,
    /// `audit`: Coffer's `ReadAuditTrail`, in the same Query API form (`iam/audit_api.rs`).
    Audit,
    /// `kms`: the AWS KMS JSON API for Coffer's built-in keys (`kms/`).
    Kms,
}

impl AdminService {
    fn from_scope(service: &str) -> Option<AdminService> {
        match service {
            "iam" => Some(AdminService::Iam),
            "sts" => Some(AdminService::Sts),
            "audit" => Some(AdminService::Audit),
            "kms" => Some(AdminService::Kms),
            _ => None,
        }
    }

    /// The name as it appears in the credential scope.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AdminService::Iam => "iam",
            AdminService::Sts => "sts",
            AdminService::Audit => "audit",
            AdminService::Kms => "kms",
        }
    }
}

/// The parts of a SigV4 `Authorization` header, as the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderSignature {
    /// Access key and region.
    pub(crate) scope: Scope,
    /// The scope's date, `YYYYMMDD`.
    pub(crate) date: String,
    /// The scope's service.
    pub(crate) service: AdminService,
    /// `SignedHeaders`, `;`-separated.
    pub(crate) signed_headers: String,
    /// `Signature`, hex.
    pub(crate) signature: String,
}

/// The credential scope of a SigV4 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The access key id.
    pub(crate) access_key: String,
    /// The region the client signed for.
    pub(crate) region: String,
}

/// Decides how the request is authenticated, refusing what must not reach s3s.
pub(crate) fn screen(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    limits: &Limits,
    region: &str,
) -> Result<AuthForm, Refusal> {
    let query = parse_query(uri.query())?;
    check_query_names(&query)?;
    check_header_repeats(headers)?;

    let authorization = match headers.get(AUTHORIZATION) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Refusal::UNSUPPORTED_AUTHORIZATION)?,
        ),
        None => None,
    };
    if let Some(a) = authorization
        && a.split_ascii_whitespace()
            .next()
            .is_some_and(|alg| alg.eq_ignore_ascii_case("AWS"))
    {
        return Err(Refusal::SIGV2);
    }
    let auth_query = query
        .iter()
        .any(|(name, _)| AUTH_PARAMS.contains(&name.as_str()));

    if is_form(method, headers) {
        if authorization.is_some() || auth_query {
            return Err(Refusal::FORM_EXTRA_AUTH);
        }
        return Ok(AuthForm::Form);
    }
    let presigned = get(&query, "X-Amz-Signature").is_some();
    if auth_query && authorization.is_some() {
        return Err(Refusal::TWO_AUTH_MECHANISMS);
    }
    if presigned {
        return presigned_form(&query, headers, limits, region);
    }
    if auth_query {
        return Err(Refusal::INCOMPLETE_PRESIGNED);
    }
    match authorization {
        Some(value) => header_form(value, headers, region),
        None => Ok(AuthForm::Anonymous),
    }
}

/// A browser form's `x-amz-credential` field must be scoped to `region` too (a malformed
/// one is left to s3s, which refuses it).
pub(crate) fn check_form_credential(credential: &str, region: &str) -> Result<(), Refusal> {
    match parse_credential(credential) {
        Some((scope, _)) if scope.region != region => {
            Err(Refusal::credential_wrong_region(region, &scope.region))
        }
        _ => Ok(()),
    }
}

/// The query as s3s reads it: `application/x-www-form-urlencoded` pairs, decoded.
fn parse_query(query: Option<&str>) -> Result<Vec<(String, String)>, Refusal> {
    match query {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|_| Refusal::BAD_QUERY),
    }
}

/// SigV2 names in any spelling; authentication names only in s3s's spelling; no `X-Amz-*`
/// name twice in any spelling.
fn check_query_names(query: &[(String, String)]) -> Result<(), Refusal> {
    for (i, (name, _)) in query.iter().enumerate() {
        if SIGV2_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            return Err(Refusal::SIGV2);
        }
        let auth = AUTH_PARAMS.iter().find(|p| p.eq_ignore_ascii_case(name));
        if auth.is_some_and(|exact| exact != name) {
            return Err(Refusal::CASE_VARIANT_PARAM);
        }
        let amz = name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"));
        if amz && query[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(if auth.is_some() {
                Refusal::REPEATED_AUTH
            } else {
                Refusal::REPEATED_AMZ_HEADER
            });
        }
    }
    Ok(())
}

/// `Authorization`, `Content-Type` and every `x-amz-*` header at most once: s3s reads them
/// with `get_unique`, which sees nothing at all when a header is repeated. The exception is
/// [`LIST_HEADERS`], which s3s reads line by line.
fn check_header_repeats(headers: &HeaderMap) -> Result<(), Refusal> {
    if headers.get_all(AUTHORIZATION).iter().nth(1).is_some() {
        return Err(Refusal::REPEATED_AUTH);
    }
    for name in headers.keys() {
        let amz = name.as_str().starts_with("x-amz-") || name == CONTENT_TYPE;
        let list = LIST_HEADERS.contains(&name.as_str());
        if amz && !list && headers.get_all(name).iter().nth(1).is_some() {
            return Err(Refusal::REPEATED_AMZ_HEADER);
        }
    }
    Ok(())
}

/// List-valued `x-amz-*` headers, which may come as several lines: s3s reads every line
/// of them (`parse_list_header`), so a repeat hides nothing from it, and aws-sdk-s3 sends
/// one line per name (GetObjectAttributes' `x-amz-object-attributes: ETag` twice over).
const LIST_HEADERS: &[&str] = &["x-amz-object-attributes"];

/// Whether s3s will take the form-upload path (POST with a `multipart/form-data` type).
fn is_form(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
}

fn get<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn presigned_form(
    query: &[(String, String)],
    headers: &HeaderMap,
    limits: &Limits,
    region: &str,
) -> Result<AuthForm, Refusal> {
    let param = |name| get(query, name).ok_or(Refusal::INCOMPLETE_PRESIGNED);
    let algorithm = param("X-Amz-Algorithm")?;
    let credential = param("X-Amz-Credential")?;
    param("X-Amz-Date")?;
    let expires = param("X-Amz-Expires")?;
    let signed = param("X-Amz-SignedHeaders")?;
    if algorithm == SIGV4A {
        return Err(Refusal::SIGV4A);
    }
    if algorithm != ALGORITHM {
        return Err(Refusal::PRESIGNED_ALGORITHM);
    }
    if parse_credential(credential)
        .is_some_and(|(_, service)| AdminService::from_scope(service).is_some())
    {
        return Ok(AuthForm::Admin(AdminAuth::Presigned));
    }
    let scope = parse_credential(credential)
        .filter(|(_, service)| *service == "s3")
        .ok_or(Refusal::PRESIGNED_CREDENTIAL)?
        .0;
    if scope.region != region {
        return Err(Refusal::credential_wrong_region(region, &scope.region));
    }
    let expires = expires
        .parse::<u64>()
        .ok()
        .filter(|secs| *secs <= limits.presigned_max_secs)
        .ok_or(Refusal::EXPIRES)?;
    // A presigned URL cannot sign the payload hash, so that one header may go unsigned.
    check_signed_headers(headers, signed, &["x-amz-content-sha256"])?;
    Ok(AuthForm::Presigned { scope, expires })
}

fn header_form(
    authorization: &str,
    headers: &HeaderMap,
    region: &str,
) -> Result<AuthForm, Refusal> {
    let (algorithm, params) = authorization
        .trim()
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((authorization.trim(), ""));
    if algorithm == SIGV4A {
        return Err(Refusal::SIGV4A);
    }
    if algorithm != ALGORITHM {
        return Err(Refusal::UNSUPPORTED_AUTHORIZATION);
    }
    let parsed = parse_authorization(params).ok_or(Refusal::MALFORMED_AUTHORIZATION)?;
    if let Some(service) = AdminService::from_scope(parsed.service) {
        return Ok(AuthForm::Admin(AdminAuth::Header(HeaderSignature {
            scope: parsed.scope,
            date: parsed.date.to_owned(),
            service,
            signed_headers: parsed.signed_headers.to_owned(),
            signature: parsed.signature.to_owned(),
        })));
    }
    if parsed.service != "s3" {
        return Err(Refusal::WRONG_SERVICE);
    }
    if parsed.scope.region != region {
        return Err(Refusal::header_wrong_region(region, &parsed.scope.region));
    }
    let date_ok = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_amz_date);
    if !date_ok {
        return Err(Refusal::NO_DATE);
    }
    let sha = headers
        .get("x-amz-content-sha256")
        .ok_or(Refusal::MISSING_CONTENT_SHA256)?
        .to_str()
        .map_err(|_| Refusal::BAD_CONTENT_SHA256)?;
    check_content_sha256(sha)?;
    check_signed_headers(headers, parsed.signed_headers, &[])?;
    Ok(AuthForm::Header(parsed.scope))
}

/// The parts of `Credential=…, SignedHeaders=…, Signature=…` (after the algorithm), read
/// with the grammar s3s uses.
struct Parsed<'a> {
    scope: Scope,
    date: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(params: &str) -> Option<Parsed<'_>> {
    let rest = params.trim_start().strip_prefix("Credential=")?;
    let (credential, rest) = rest.split_once(',')?;
    let rest = rest.trim_start().strip_prefix("SignedHeaders=")?;
    let (signed_headers, rest) = rest.split_once(',')?;
    let signature = rest.trim_start().strip_prefix("Signature=")?.trim_end();
    if signature.is_empty() || signed_headers.is_empty() {
        return None;
    }
    let (scope, service) = parse_credential(credential)?;
    let date = credential.split('/').nth(1)?;
    Some(Parsed {
        scope,
        date,
        service,
        signed_headers,
        signature,
    })
}

/// `AKID/YYYYMMDD/region/service/aws4_request`, and the service named.
fn parse_credential(credential: &str) -> Option<(Scope, &str)> {
    let mut parts = credential.split('/');
    let access_key = parts.next()?;
    let date = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    let terminator = parts.next()?;
    let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    let ok = parts.next().is_none()
        && !access_key.is_empty()
        && date_ok
        && !service.is_empty()
        && terminator == "aws4_request";
    let scope = Scope {
        access_key: access_key.to_owned(),
        region: region.to_owned(),
    };
    ok.then_some((scope, service))
}

/// `YYYYMMDDTHHMMSSZ`.
fn is_amz_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

fn check_content_sha256(value: &str) -> Result<(), Refusal> {
    match value {
        "UNSIGNED-PAYLOAD"
        | "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Ok(()),
        v if v.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") => Err(Refusal::SIGV4A),
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        _ => Err(Refusal::BAD_CONTENT_SHA256),
    }
}

/// Every `x-amz-*` header is in `signed` (`;`-separated, as the client sent it), except
/// those in `exempt`.
fn check_signed_headers(headers: &HeaderMap, signed: &str, exempt: &[&str]) -> Result<(), Refusal> {
    let all_signed = headers.keys().all(|name| {
        let name = name.as_str(); // lower-case already
        !name.starts_with("x-amz-")
            || exempt.contains(&name)
            || signed
                .split(';')
                .any(|s| s.trim().eq_ignore_ascii_case(name))
    });
    if all_signed {
        Ok(())
    } else {
        Err(Refusal::UNSIGNED_HEADER)
    }
}

#[cfg(test)]
mod tests;
