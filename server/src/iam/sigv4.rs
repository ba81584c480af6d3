//! SigV4 verification of IAM and STS requests (s3s's verifier is private to it, and signs
//! for S3's rules anyway).
//!
//! Differences from S3 that matter here:
//!
//! - the path is normalised (dot segments and empty segments removed) and then encoded a
//!   second time, as AWS does for every service but S3;
//! - clients do not send `x-amz-content-sha256`: the payload hash is computed from the body
//!   (which is why the body is read whole first). If the header is present it must agree;
//! - IAM is global: botocore signs it for `us-east-1` unless a region is configured, so
//!   both that and the server's region are accepted.
//!
//! An unknown access key is verified against a dummy secret by the caller, so it fails at
//! the same cost and with the same answer as a wrong secret.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use hmac::{KeyInit as _, Mac as _};
use http::{HeaderMap, Method, Uri};
use sha2::{Digest as _, Sha256};

use crate::guard::HeaderSignature;
use crate::limits::MAX_SKEW_SECS;

/// The only algorithm accepted.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a signature was not accepted. None of them says whether the access key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The signature (or the payload hash it covers) does not match.
    Mismatch,
    /// The scope's region is neither the server's nor `us-east-1`.
    WrongRegion,
    /// `x-amz-date` is too far from the server's clock.
    Expired,
    /// The scope's date is not the day of `x-amz-date`.
    DateMismatch,
    /// `host` or `x-amz-date` is not signed, `x-amz-date` is missing or malformed, or an
    /// `x-amz-*` header is sent unsigned.
    Incomplete,
}

impl Failure {
    /// What the client is told, in AWS's words (the same for IAM, STS, KMS and the audit API;
    /// each wraps it in its own error shape).
    pub(crate) fn message(self) -> &'static str {
        match self {
            Failure::Mismatch => {
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
            }
            Failure::WrongRegion => "Credential should be scoped to a valid region.",
            Failure::Expired => {
                "Signature expired: the request time is more than 15 minutes from the server's time."
            }
            Failure::DateMismatch => {
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."
            }
            Failure::Incomplete => {
                "The request signature must sign host and x-amz-date, and every x-amz-* header sent, with a valid x-amz-date."
            }
        }
    }
}

/// The request as the signature covers it.
pub(crate) struct Signed<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// Checks `sig` over `req` with `secret`; `regions` are the scope regions accepted.
///
/// Every check that does not need the secret comes first; they depend only on what the
/// client sent, never on whether its key exists.
pub(crate) fn verify(
    req: &Signed<'_>,
    sig: &HeaderSignature,
    secret: &str,
    regions: &[&str],
    now: SystemTime,
) -> Result<(), Failure> {
    if !regions.contains(&sig.scope.region.as_str()) {
        return Err(Failure::WrongRegion);
    }
    let signed: Vec<&str> = sig.signed_headers.split(';').map(str::trim).collect();
    if !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
        return Err(Failure::Incomplete);
    }
    let unsigned_amz = req.headers.keys().any(|name| {
        let name = name.as_str();
        name.starts_with("x-amz-") && !signed.iter().any(|s| s.eq_ignore_ascii_case(name))
    });
    if unsigned_amz {
        return Err(Failure::Incomplete);
    }
    let amz_date = header(req.headers, "x-amz-date").ok_or(Failure::Incomplete)?;
    let signed_at = parse_amz_date(amz_date).ok_or(Failure::Incomplete)?;
    if amz_date.get(..8) != Some(sig.date.as_str()) {
        return Err(Failure::DateMismatch);
    }
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    if skew > Duration::from_secs(u64::from(MAX_SKEW_SECS)) {
        return Err(Failure::Expired);
    }
    let payload = hex::encode(Sha256::digest(req.body));
    if let Some(claimed) = header(req.headers, "x-amz-content-sha256")
        && !claimed.eq_ignore_ascii_case(&payload)
    {
        return Err(Failure::Mismatch);
    }

    let canonical = canonical_request(req, &signed, &payload);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        sig.date,
        sig.scope.region,
        sig.service.as_str()
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret, &sig.date, &sig.scope.region, sig.service.as_str())
        .ok_or(Failure::Mismatch)?;
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()).ok_or(Failure::Mismatch)?);
    let given = sig.signature.to_ascii_lowercase();
    if coffer_auth::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(Failure::Mismatch)
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    let digits = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !digits {
        return None;
    }
    let num = |range: std::ops::Range<usize>| value.get(range)?.parse::<u16>().ok();
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::from(num(0..4)?),
        month,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(SystemTime::from(date.with_time(clock).assume_utc()))
}

/// The canonical request: method, path, query, signed headers with their values, the list
/// of signed headers, and the payload hash.
fn canonical_request(req: &Signed<'_>, signed: &[&str], payload: &str) -> String {
    let mut out = String::with_capacity(256 + req.uri.path().len());
    out.push_str(req.method.as_str());
    out.push('\n');
    out.push_str(&canonical_path(req.uri.path()));
    out.push('\n');
    out.push_str(&canonical_query(req.uri.query().unwrap_or("")));
    out.push('\n');
    let mut names: Vec<String> = signed.iter().map(|s| s.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    for name in &names {
        out.push_str(name);
        out.push(':');
        out.push_str(&header_value(req, name));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload);
    out
}

/// All values of header `name`, each trimmed with inner runs of spaces folded, joined by
/// `,`. HTTP/2 carries the host as `:authority`, found in the URI.
fn header_value(req: &Signed<'_>, name: &str) -> String {
    let values: Vec<String> = req
        .headers
        .get_all(name)
        .iter()
        .map(|v| fold_spaces(&String::from_utf8_lossy(v.as_bytes())))
        .collect();
    if values.is_empty() && name == "host" {
        return req
            .uri
            .authority()
            .map_or_else(String::new, |a| a.as_str().to_owned());
    }
    values.join(",")
}

fn fold_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path as AWS canonicalises it for services other than S3: dot and empty segments
/// removed (RFC 3986 §5.2.4), then the path as sent (encoded once) encoded again.
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalised = String::from("/");
    normalised.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        normalised.push('/');
    }
    uri_encode(normalised.as_bytes(), true)
}

/// The query's pairs decoded, re-encoded AWS's way, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| -> Vec<u8> { percent_encoding::percent_decode_str(s).collect() };
            (
                uri_encode(&decode(name), false),
                uri_encode(&decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes every byte but `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`), with
/// upper-case hex.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// HMAC-SHA256 (`None` never happens: HMAC takes keys of every length).
fn hmac(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().to_vec())
}

/// The key derived from `secret` for one day, region and service.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Option<Vec<u8>> {
    let mut key = zeroize::Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    key.extend_from_slice(b"AWS4");
    key.extend_from_slice(secret.as_bytes());
    let k = hmac(&key, date.as_bytes())?;
    let k = hmac(&k, region.as_bytes())?;
    let k = hmac(&k, service.as_bytes())?;
    hmac(&k, b"aws4_request")
}

#[cfg(test)]
mod tests;
