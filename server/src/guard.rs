//! The pre-s3s guard: every request passes here before s3s sees it.
//!
//! It gives each request an id (`x-amz-request-id` on every response) and a tracing span,
//! logs one line per request (id, method, status, ms — never the URI, bucket, key or
//! headers, P6), and refuses what s3s 0.14.1 would otherwise accept (s3s notes §8):
//!
//! - signature version 2, in a header or a query (P1; s3s verifies it with no replay window);
//! - presigned URLs valid for more than 7 days (s3s has no cap);
//! - `x-amz-*` headers not covered by the signature (s3s honours unsigned ones, §8.0);
//! - browser form uploads (`POST` + `multipart/form-data`) without a `Content-Length` or
//!   above the form cap: s3s buffers the whole form before any access check (§8.3), so forms
//!   are bounded here, a few at a time ([`FORM_UPLOADS_AT_ONCE`]) and within
//!   [`FORM_DEADLINE`];
//! - bodies above the size cap (`Content-Length`), since s3s buffers whole aws-chunked chunks;
//! - clients whose signatures keep failing ([`AuthThrottle`]: `503 SlowDown`).
//!
//! The decisions are pure functions of method, URI and headers ([`screen`]), so they are
//! unit-tested without a server.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::BytesMut;
use futures::future::BoxFuture;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use s3s::service::S3Service;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::auth_throttle::AuthThrottle;
use crate::form_fields::{self, Prefixed, Scan};

/// Longest validity AWS allows for a presigned URL: 7 days.
pub(crate) const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;
/// Largest single PUT body (AWS's limit).
const MAX_PUT_BODY: u64 = 5 << 30;
/// Room for aws-chunked framing on a 5 GiB streaming PUT: chunk headers with signatures
/// take ~90 bytes per chunk, and clients use chunks of 8 KiB or more (~1.1%).
const MAX_CHUNKED_FRAMING: u64 = MAX_PUT_BODY / 64;
/// Largest body of any other request (XML documents; matches s3s `xml_max_body_size`).
const MAX_OTHER_BODY: u64 = 4 << 20;
/// Browser form uploads held in memory at once (each up to the form cap).
pub(crate) const FORM_UPLOADS_AT_ONCE: usize = 4;
/// Time a browser form upload has to arrive whole and be stored.
pub(crate) const FORM_DEADLINE: std::time::Duration = std::time::Duration::from_mins(2);

/// The request id, also put in the request's extensions (s3s hands them to the `S3` methods
/// as `req.extensions`), so error bodies can carry it (`S3Error::set_request_id`).
#[derive(Clone, Debug)]
#[allow(dead_code, reason = "read by the S3 layer through req.extensions")]
pub(crate) struct RequestId(pub(crate) String);

/// The guard, as a hyper service around the s3s service.
#[derive(Clone)]
pub(crate) struct Guard {
    svc: S3Service,
    limits: Limits,
    /// Slots for form uploads in progress.
    form_slots: Arc<Semaphore>,
    throttle: Arc<AuthThrottle>,
    /// The client's address, once the guard is bound to a connection.
    peer: Option<IpAddr>,
}

impl Guard {
    /// Wraps `svc`, screening requests against `limits`.
    pub(crate) fn new(svc: S3Service, limits: Limits) -> Guard {
        Guard {
            svc,
            limits,
            form_slots: Arc::new(Semaphore::new(FORM_UPLOADS_AT_ONCE)),
            throttle: Arc::new(AuthThrottle::new()),
            peer: None,
        }
    }

    /// The guard for one connection from `peer`.
    pub(crate) fn for_peer(&self, peer: IpAddr) -> Guard {
        Guard {
            peer: Some(peer),
            ..self.clone()
        }
    }
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for Guard {
    type Response = Response<s3s::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let guard = self.clone();
        let id = request_id();
        let span = tracing::info_span!("request", id = %id);
        Box::pin(
            async move {
                let started = Instant::now();
                let method = req.method().clone();
                let mut req = req;
                req.extensions_mut().insert(RequestId(id.clone()));
                let mut resp = guard.handle(req, &id).await;
                if let Ok(value) = HeaderValue::from_str(&id) {
                    resp.headers_mut().insert("x-amz-request-id", value);
                }
                tracing::info!(
                    %method,
                    status = resp.status().as_u16(),
                    ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "request"
                );
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

impl Guard {
    /// Screens the request, then hands it to s3s.
    async fn handle(&self, req: Request<Incoming>, id: &str) -> Response<s3s::Body> {
        let is_head = req.method() == Method::HEAD;
        if let Some(peer) = self.peer
            && self.throttle.is_throttled(peer, Instant::now())
        {
            tracing::debug!("refused: too many signature failures from this address");
            return error_response(&Refusal::SLOW_DOWN, id, is_head);
        }
        let kind = match screen(req.method(), req.uri(), req.headers(), &self.limits) {
            Ok(kind) => kind,
            Err(refusal) => {
                tracing::debug!(code = refusal.code, "refused before s3s");
                return error_response(&refusal, id, is_head);
            }
        };
        let result = match kind {
            Kind::Ordinary => self.svc.call(req.map(s3s::Body::from)).await,
            Kind::FormUpload => {
                // s3s reads the whole form into memory before it can check the signature
                // inside it: a few at a time, each within a deadline.
                let Ok(_slot) = self.form_slots.try_acquire() else {
                    return error_response(&Refusal::FORMS_BUSY, id, false);
                };
                match tokio::time::timeout(FORM_DEADLINE, self.form_upload(req)).await {
                    Ok(Ok(result)) => result.map(|resp| policy_failure_is_denied(resp, id)),
                    Ok(Err(refusal)) => {
                        tracing::debug!(code = refusal.code, "form upload refused");
                        return error_response(&refusal, id, false);
                    }
                    Err(_) => return error_response(&Refusal::FORM_TIMEOUT, id, false),
                }
            }
        };
        match result {
            Ok(resp) => {
                if let Some(peer) = self.peer
                    && is_signature_failure(&resp)
                {
                    self.throttle.record_failure(peer, Instant::now());
                }
                resp
            }
            Err(error) => {
                // s3s could not build any response; answer 500 rather than drop the connection.
                tracing::error!(?error, "s3s failed to produce a response");
                error_response(&Refusal::INTERNAL, id, is_head)
            }
        }
    }
}

impl Guard {
    /// Reads the form's fields (everything before the file part), refuses a public ACL among
    /// them, then hands s3s the whole body.
    async fn form_upload(
        &self,
        req: Request<Incoming>,
    ) -> Result<Result<Response<s3s::Body>, s3s::HttpError>, Refusal> {
        let boundary = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(form_fields::boundary)
            .map(str::to_owned)
            .ok_or(Refusal::BAD_FORM)?;
        let (parts, mut body) = req.into_parts();
        let mut prefix = BytesMut::new();
        loop {
            if let Scan::Fields(fields) = form_fields::scan(&prefix, &boundary) {
                refuse_public_form_fields(&fields)?;
                break;
            }
            if prefix.len() > form_fields::FIELDS_MAX {
                return Err(Refusal::FIELDS_TOO_LARGE);
            }
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        prefix.extend_from_slice(&data);
                    }
                }
                Some(Err(_)) => return Err(Refusal::INCOMPLETE_BODY),
                // A form without a file: s3s says what is missing.
                None => break,
            }
        }
        let body = s3s::Body::http_body(Prefixed::new(prefix.freeze(), body));
        Ok(self.svc.call(Request::from_parts(parts, body)).await)
    }
}

/// P2 for form fields: s3s ignores the `acl` field, so check it (and its `x-amz-` forms)
/// here; a refused form stores nothing.
fn refuse_public_form_fields(fields: &[(String, String)]) -> Result<(), Refusal> {
    for (name, value) in fields {
        let public = match name.as_str() {
            "acl" | "x-amz-acl" => !matches!(value.trim(), "private" | "bucket-owner-full-control"),
            grant if grant.starts_with("x-amz-grant-") => {
                let value = value.to_ascii_lowercase();
                value.contains("uri=") || value.contains("emailaddress=")
            }
            _ => false,
        };
        if public {
            return Err(Refusal::PUBLIC);
        }
    }
    Ok(())
}

/// A form whose POST policy conditions do not hold is refused as AWS refuses it: 403
/// AccessDenied (s3s answers 400 InvalidPolicyDocument, with the failing field's value in
/// the message).
fn policy_failure_is_denied(resp: Response<s3s::Body>, id: &str) -> Response<s3s::Body> {
    let failed = resp.status() == StatusCode::BAD_REQUEST
        && resp
            .body()
            .bytes()
            .is_some_and(|b| contains(&b, b"<Code>InvalidPolicyDocument</Code>"));
    if !failed {
        return resp;
    }
    error_response(&Refusal::POLICY_FAILED, id, false)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether s3s refused the request's signature (a wrong secret or an unknown access key,
/// which look the same to the client).
fn is_signature_failure(resp: &Response<s3s::Body>) -> bool {
    if resp.status() != StatusCode::FORBIDDEN {
        return false;
    }
    // s3s error bodies are small and fully buffered.
    resp.body().bytes().is_some_and(|body| {
        contains(&body, b"<Code>SignatureDoesNotMatch</Code>")
            || contains(&body, b"<Code>InvalidAccessKeyId</Code>")
    })
}

/// Why the guard refused a request. Messages are fixed text: never client input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// HTTP status.
    pub(crate) status: StatusCode,
    /// S3 error code.
    pub(crate) code: &'static str,
    /// Message for the client.
    pub(crate) message: &'static str,
}

impl Refusal {
    const SIGV2: Refusal = Refusal::denied(
        "Signature Version 2 is not accepted; sign requests with AWS Signature Version 4",
    );
    const EXPIRES: Refusal = Refusal::denied(
        "X-Amz-Expires must be a number of seconds within this server's limit (at most 604800, 7 days)",
    );
    const NO_DATE: Refusal =
        Refusal::denied("AWS authentication requires a valid Date or x-amz-date header");
    const UNSIGNED_HEADER: Refusal =
        Refusal::denied("every x-amz-* header must be included in the signed headers");
    const FORM_NEEDS_LENGTH: Refusal = Refusal {
        status: StatusCode::LENGTH_REQUIRED,
        code: "MissingContentLength",
        message: "a browser form upload must carry a Content-Length",
    };
    const FORMS_BUSY: Refusal = Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "SlowDown",
        message: "too many browser form uploads in progress; please retry",
    };
    const FORM_TIMEOUT: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "RequestTimeout",
        message: "the form upload did not arrive within the time allowed",
    };
    const PUBLIC: Refusal = Refusal::denied(crate::s3::acl::PUBLIC_REFUSED);
    const BAD_FORM: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "MalformedPOSTRequest",
        message: "The body of your POST request is not well-formed multipart/form-data.",
    };
    const FIELDS_TOO_LARGE: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "MaxPostPreDataLengthExceededError",
        message: "Your POST request fields preceding the upload file were too large.",
    };
    const INCOMPLETE_BODY: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "IncompleteBody",
        message: "The request body ended before the Content-Length it announced.",
    };
    const POLICY_FAILED: Refusal =
        Refusal::denied("Invalid according to Policy: Policy Condition failed");
    const TOO_LARGE: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "EntityTooLarge",
        message: "the request body exceeds the maximum allowed size",
    };
    const BAD_LENGTH: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "InvalidArgument",
        message: "Content-Length is not a valid number",
    };
    const SLOW_DOWN: Refusal = Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "SlowDown",
        message: "too many failed authentication attempts from your address; please slow down",
    };
    const INTERNAL: Refusal = Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "InternalError",
        message: "We encountered an internal error. Please try again.",
    };

    const fn denied(message: &'static str) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message,
        }
    }
}

/// The configurable limits the guard applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Largest browser form upload body, in bytes.
    pub(crate) form_cap: u64,
    /// Longest `X-Amz-Expires` of a presigned URL, in seconds (at most 7 days).
    pub(crate) presigned_max_secs: u64,
}

/// What kind of request passed the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Anything but a browser form upload.
    Ordinary,
    /// A browser form upload (POST Object), bounded by the form cap.
    FormUpload,
}

/// Decides, from method, URI and headers alone, whether the request may go on to s3s.
/// `limits` come from the configuration.
pub(crate) fn screen(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    limits: &Limits,
) -> Result<Kind, Refusal> {
    let query = Query::parse(uri.query().unwrap_or(""));
    let authorization = headers
        .get(AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()));

    // SigV2 (P1).
    if authorization
        .as_deref()
        .is_some_and(|a| a.trim_start().starts_with("AWS "))
        || query.has("Signature")
        || query.has("AWSAccessKeyId")
    {
        return Err(Refusal::SIGV2);
    }

    // Browser form upload: bounded before s3s reads (and buffers) the body.
    let form = method == Method::POST
        && headers.get(CONTENT_TYPE).is_some_and(|ct| {
            ct.as_bytes()
                .get(..19)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"multipart/form-data"))
        });

    // Presigned URL lifetime.
    let presigned = query.has("X-Amz-Signature") || query.has("X-Amz-Credential");
    if presigned {
        let ok = query
            .get("X-Amz-Expires")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|secs| secs <= limits.presigned_max_secs);
        if !ok {
            return Err(Refusal::EXPIRES);
        }
    }

    // Every x-amz-* header must be signed (s3s notes §8.0). Unsigned requests are left to
    // s3s and the access layer, which deny them.
    let signed: Option<Cow<'_, str>> = if presigned {
        Some(query.get("X-Amz-SignedHeaders").unwrap_or_default())
    } else {
        authorization
            .as_deref()
            .filter(|a| a.trim_start().starts_with("AWS4-"))
            .map(|a| Cow::Owned(signed_headers_of(a).unwrap_or_default().to_owned()))
    };
    // A header signature without a date is malformed; s3s would answer 400,
    // but P1 promises 403 for anything that is not a valid signature.
    if !presigned
        && signed.is_some()
        && !headers.contains_key("x-amz-date")
        && !headers.contains_key(http::header::DATE)
    {
        return Err(Refusal::NO_DATE);
    }
    if let Some(signed) = signed {
        let signed: Vec<&str> = signed.split(';').map(str::trim).collect();
        let all_signed = headers.keys().all(|name| {
            let name = name.as_str(); // lower-case already
            !name.starts_with("x-amz-")
                || (presigned && name == "x-amz-content-sha256")
                || signed.iter().any(|s| s.eq_ignore_ascii_case(name))
        });
        if !all_signed {
            return Err(Refusal::UNSIGNED_HEADER);
        }
    }

    // Body size caps.
    let length = headers
        .get(CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(Refusal::BAD_LENGTH)
        })
        .transpose()?;
    if form {
        return match length {
            None => Err(Refusal::FORM_NEEDS_LENGTH),
            Some(length) if length > limits.form_cap => Err(Refusal::TOO_LARGE),
            Some(_) => Ok(Kind::FormUpload),
        };
    }
    if let Some(length) = length {
        let streaming = headers
            .get("x-amz-content-sha256")
            .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"));
        let cap = match (method == Method::PUT, streaming) {
            (true, true) => MAX_PUT_BODY + MAX_CHUNKED_FRAMING,
            (true, false) => MAX_PUT_BODY,
            (false, _) => MAX_OTHER_BODY,
        };
        if length > cap {
            return Err(Refusal::TOO_LARGE);
        }
    }
    Ok(Kind::Ordinary)
}

/// The `SignedHeaders=` value of a signature-V4 `Authorization` header.
fn signed_headers_of(authorization: &str) -> Option<&str> {
    // "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=a;b;c, Signature=…"
    let (_, params) = authorization.trim_start().split_once(' ')?;
    params.split(',').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        (key.trim() == "SignedHeaders").then(|| value.trim())
    })
}

/// Query parameters, names and values percent-decoded (so `Signatur%65` is `Signature`).
struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Query<'a> {
        let decode = |s: &'a str| percent_encoding::percent_decode_str(s).decode_utf8_lossy();
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query { pairs }
    }

    /// Whether a parameter is present; names compare ignoring ASCII case (to be strict).
    fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// An S3 XML error response (empty body for HEAD).
pub(crate) fn error_response(refusal: &Refusal, id: &str, is_head: bool) -> Response<s3s::Body> {
    let body = if is_head {
        s3s::Body::empty()
    } else {
        // Code, message and id are our own fixed ASCII text: nothing to escape.
        s3s::Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
            refusal.code, refusal.message, id
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = refusal.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp
}

/// A fresh request id: 16 lower-case hex characters from OS randomness.
pub(crate) fn request_id() -> String {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Ids need to be distinct, not secret.
        bytes = FALLBACK.fetch_add(1, Ordering::Relaxed).to_le_bytes();
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGV4: &str = "AWS4-HMAC-SHA256 Credential=CFKEY/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=abcd";

    const LIMITS: Limits = Limits {
        form_cap: 64 << 20,
        presigned_max_secs: MAX_PRESIGNED_EXPIRES_SECS,
    };

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Result<(), Refusal> {
        screen_kind(method, uri, headers).map(|_| ())
    }

    fn screen_kind(method: &str, uri: &str, headers: &[(&str, &str)]) -> Result<Kind, Refusal> {
        let method: Method = method.parse().unwrap();
        let uri: Uri = uri.parse().unwrap();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        screen(&method, &uri, &map, &LIMITS)
    }

    fn signed(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut h = vec![
            ("authorization", SIGV4),
            ("x-amz-date", "20250101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ];
        h.extend_from_slice(extra);
        h
    }

    #[test]
    fn ordinary_signed_requests_pass() {
        assert_eq!(req("GET", "/b/k", &signed(&[])), Ok(()));
        assert_eq!(
            req("PUT", "/b/k", &signed(&[("content-length", "10")])),
            Ok(())
        );
        // Anonymous requests are left to s3s and the access layer.
        assert_eq!(req("GET", "/b/k", &[]), Ok(()));
    }

    #[test]
    fn p1_sigv2_is_refused() {
        let r = req("GET", "/b/k", &[("authorization", "AWS AKID:c2lnbmF0dXJl")]);
        assert_eq!(r, Err(Refusal::SIGV2));
        assert_eq!(r.unwrap_err().status, StatusCode::FORBIDDEN);
        assert_eq!(
            req("GET", "/b/k?AWSAccessKeyId=A&Expires=1&Signature=x", &[]),
            Err(Refusal::SIGV2)
        );
        assert_eq!(req("GET", "/b/k?Signatur%65=x", &[]), Err(Refusal::SIGV2));
    }

    #[test]
    fn presigned_expiry_is_capped() {
        let base = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ff";
        assert_eq!(
            req("GET", &format!("{base}&X-Amz-Expires=604800"), &[]),
            Ok(())
        );
        assert_eq!(
            req("GET", &format!("{base}&X-Amz-Expires=604801"), &[]),
            Err(Refusal::EXPIRES)
        );
        assert_eq!(
            req("GET", &format!("{base}&X-Amz-Expires=-1"), &[]),
            Err(Refusal::EXPIRES)
        );
        assert_eq!(req("GET", base, &[]), Err(Refusal::EXPIRES));
        // A lower configured cap.
        let hour = Limits {
            presigned_max_secs: 3600,
            ..LIMITS
        };
        let uri: Uri = format!("{base}&X-Amz-Expires=3601").parse().unwrap();
        assert_eq!(
            screen(&Method::GET, &uri, &HeaderMap::new(), &hour),
            Err(Refusal::EXPIRES)
        );
        let uri: Uri = format!("{base}&X-Amz-Expires=3600").parse().unwrap();
        assert_eq!(
            screen(&Method::GET, &uri, &HeaderMap::new(), &hour),
            Ok(Kind::Ordinary)
        );
    }

    #[test]
    fn p1_unsigned_amz_headers_are_refused() {
        // An unsigned x-amz-copy-source would turn a PUT into a copy (notes §8.0).
        assert_eq!(
            req(
                "PUT",
                "/b/k",
                &signed(&[("x-amz-copy-source", "/other/secret")])
            ),
            Err(Refusal::UNSIGNED_HEADER)
        );
        assert_eq!(
            req("PUT", "/b/k", &signed(&[("x-amz-meta-a", "1")])),
            Err(Refusal::UNSIGNED_HEADER)
        );
        // Non-x-amz headers need not be signed.
        assert_eq!(
            req("PUT", "/b/k", &signed(&[("content-type", "a/b")])),
            Ok(())
        );
        let with_meta = "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-a,Signature=ff";
        assert_eq!(
            req(
                "PUT",
                "/b/k",
                &[
                    ("authorization", with_meta),
                    ("x-amz-date", "d"),
                    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                    ("x-amz-meta-a", "1"),
                ]
            ),
            Ok(())
        );
    }

    #[test]
    fn presigned_may_leave_content_sha256_unsigned_only() {
        let base = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=d&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-amz-acl&X-Amz-Signature=ff";
        assert_eq!(
            req("PUT", base, &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]),
            Ok(())
        );
        assert_eq!(req("PUT", base, &[("x-amz-acl", "private")]), Ok(()));
        assert_eq!(
            req("PUT", base, &[("x-amz-meta-x", "1")]),
            Err(Refusal::UNSIGNED_HEADER)
        );
        // Header auth must sign x-amz-content-sha256.
        let no_sha = "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=ff";
        assert_eq!(
            req(
                "GET",
                "/b/k",
                &[
                    ("authorization", no_sha),
                    ("x-amz-date", "d"),
                    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
                ]
            ),
            Err(Refusal::UNSIGNED_HEADER)
        );
    }

    #[test]
    fn form_uploads_are_bounded_before_s3s_reads_them() {
        let form = "multipart/form-data; boundary=x";
        assert_eq!(
            screen_kind(
                "POST",
                "/b",
                &[("content-type", form), ("content-length", "1000")]
            ),
            Ok(Kind::FormUpload)
        );
        // Exactly the cap is fine; one byte more is refused before the body is read.
        assert_eq!(
            screen_kind(
                "POST",
                "/b",
                &[("content-type", form), ("content-length", "67108864")]
            ),
            Ok(Kind::FormUpload)
        );
        let r = req(
            "POST",
            "/b",
            &[("content-type", form), ("content-length", "67108865")],
        );
        assert_eq!(r, Err(Refusal::TOO_LARGE));
        assert_eq!(
            req("POST", "/b", &[("content-type", form)]),
            Err(Refusal::FORM_NEEDS_LENGTH)
        );
        assert_eq!(
            req(
                "POST",
                "/b",
                &[
                    ("content-type", form),
                    ("content-length", "10"),
                    ("authorization", "AWS a:b")
                ]
            ),
            Err(Refusal::SIGV2)
        );
        assert_eq!(
            screen_kind(
                "POST",
                "/b?delete",
                &signed(&[("content-type", "application/xml")])
            ),
            Ok(Kind::Ordinary)
        );
    }

    #[test]
    fn body_size_caps() {
        let five_gib = (5u64 << 30).to_string();
        let over = ((5u64 << 30) + 1).to_string();
        let five_gib: &'static str = Box::leak(five_gib.into_boxed_str());
        let over: &'static str = Box::leak(over.into_boxed_str());
        assert_eq!(
            req("PUT", "/b/k", &signed(&[("content-length", five_gib)])),
            Ok(())
        );
        assert_eq!(
            req("PUT", "/b/k", &signed(&[("content-length", over)])),
            Err(Refusal::TOO_LARGE)
        );
        let streaming = [
            ("authorization", SIGV4),
            ("x-amz-date", "d"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("content-length", over),
        ];
        assert_eq!(req("PUT", "/b/k", &streaming), Ok(()));
        assert_eq!(
            req(
                "POST",
                "/b?delete",
                &signed(&[("content-length", "4194305")])
            ),
            Err(Refusal::TOO_LARGE)
        );
        assert_eq!(
            req(
                "POST",
                "/b?delete",
                &signed(&[("content-length", "4194304")])
            ),
            Ok(())
        );
        assert_eq!(
            req("GET", "/b/k", &signed(&[("content-length", "x1")])),
            Err(Refusal::BAD_LENGTH)
        );
    }

    #[test]
    fn error_bodies() {
        let resp = error_response(&Refusal::SIGV2, "0123456789abcdef", false);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/xml");
        let head = error_response(&Refusal::SIGV2, "0123456789abcdef", true);
        assert_eq!(http_body::Body::size_hint(head.body()).exact(), Some(0));
    }

    #[test]
    fn request_ids_are_16_hex_and_distinct() {
        let a = request_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, request_id());
    }
}
