//! Why the guard refused a request, as an S3 error: status, code and a fixed message.
//!
//! Messages are our own text, never client input, so an error body can never echo a bucket
//! name, a key or a header value back (or into a log). The one exception is a signature
//! scoped to the wrong region ([`WrongRegion`]): AWS names both regions, clients read the
//! expected one to find the right region, and the client's one is echoed only when it is a
//! plain region token.

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

use s3s::header::X_AMZ_BUCKET_REGION;

/// An S3 error the guard answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// HTTP status.
    pub(crate) status: StatusCode,
    /// S3 error code.
    pub(crate) code: &'static str,
    /// Message for the client (for a wrong region, the start of it).
    pub(crate) message: &'static str,
    /// Set only when a signature was scoped to another region than this server's.
    pub(crate) wrong_region: Option<WrongRegion>,
}

/// The two regions of a signature scoped to the wrong one, safe to put in an error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrongRegion {
    /// This server's `--region` (configuration, validated at start-up to `[a-z0-9-]{1,32}`).
    expected: String,
    /// The region the client signed for, kept only if it is a plain region token: it is
    /// client input, and AWS's message echoes it.
    given: Option<String>,
}

impl WrongRegion {
    /// The regions to name: `expected` is ours, `given` the client's (dropped unless it is
    /// `[a-z0-9-]{1,32}`, so nothing else a client sends can reach the body or the logs).
    pub(crate) fn new(expected: &str, given: &str) -> WrongRegion {
        WrongRegion {
            expected: expected.to_owned(),
            given: is_region_token(given).then(|| given.to_owned()),
        }
    }
}

/// `[a-z0-9-]{1,32}`: what `--region` accepts, and what a client's region must look like
/// to be echoed.
pub(crate) fn is_region_token(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Refusal {
    const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Refusal {
        Refusal {
            status,
            code,
            message,
            wrong_region: None,
        }
    }

    /// A header signature (`Authorization`) scoped to `given` on a server in `expected`.
    pub(crate) fn header_wrong_region(expected: &str, given: &str) -> Refusal {
        Refusal {
            wrong_region: Some(WrongRegion::new(expected, given)),
            ..Refusal::bad(
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed",
            )
        }
    }

    /// A presigned URL's or a browser form's `X-Amz-Credential` scoped to `given` on a
    /// server in `expected`.
    pub(crate) fn credential_wrong_region(expected: &str, given: &str) -> Refusal {
        Refusal {
            wrong_region: Some(WrongRegion::new(expected, given)),
            ..Refusal::bad(
                "AuthorizationQueryParametersError",
                "Error parsing the X-Amz-Credential parameter",
            )
        }
    }

    /// The message for the client.
    pub(crate) fn message(&self) -> std::borrow::Cow<'static, str> {
        match &self.wrong_region {
            None => self.message.into(),
            Some(WrongRegion {
                expected,
                given: Some(given),
            }) => format!(
                "{}; the region '{given}' is wrong; expecting '{expected}'",
                self.message
            )
            .into(),
            Some(WrongRegion {
                expected,
                given: None,
            }) => format!(
                "{}; the region is wrong; expecting '{expected}'",
                self.message
            )
            .into(),
        }
    }

    const fn denied(message: &'static str) -> Refusal {
        Refusal::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    const fn bad(code: &'static str, message: &'static str) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, code, message)
    }

    // ---- Signatures (P1) ----
    pub(crate) const SIGV2: Refusal = Refusal::denied(crate::s3::auth_adapter::SIGV2_REFUSED);
    pub(crate) const EXPIRES: Refusal = Refusal::denied(
        "X-Amz-Expires must be a number of seconds within this server's limit (at most 604800, 7 days)",
    );
    pub(crate) const NO_DATE: Refusal =
        Refusal::denied("AWS authentication requires a valid Date or x-amz-date header");
    pub(crate) const UNSIGNED_HEADER: Refusal =
        Refusal::denied("every x-amz-* header must be included in the signed headers");
    pub(crate) const TWO_AUTH_MECHANISMS: Refusal = Refusal::bad(
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
    );
    pub(crate) const REPEATED_AUTH: Refusal = Refusal::bad(
        "InvalidArgument",
        "An authentication header or query parameter may be given only once",
    );
    pub(crate) const CASE_VARIANT_PARAM: Refusal = Refusal::bad(
        "AuthorizationQueryParametersError",
        "Query-string authentication parameter names are case-sensitive: spell them X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature",
    );
    pub(crate) const INCOMPLETE_PRESIGNED: Refusal = Refusal::bad(
        "AuthorizationQueryParametersError",
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
    );
    pub(crate) const PRESIGNED_ALGORITHM: Refusal = Refusal::bad(
        "AuthorizationQueryParametersError",
        "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
    );
    pub(crate) const PRESIGNED_CREDENTIAL: Refusal = Refusal::bad(
        "AuthorizationQueryParametersError",
        "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/s3/aws4_request\".",
    );
    pub(crate) const UNSUPPORTED_AUTHORIZATION: Refusal =
        Refusal::bad("InvalidArgument", "Unsupported Authorization Type");
    pub(crate) const MALFORMED_AUTHORIZATION: Refusal = Refusal::bad(
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed; expecting \"AWS4-HMAC-SHA256 Credential=<YOUR-AKID>/YYYYMMDD/REGION/s3/aws4_request, SignedHeaders=..., Signature=...\".",
    );
    pub(crate) const WRONG_SERVICE: Refusal = Refusal::bad(
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed; incorrect service. This endpoint belongs to \"s3\".",
    );
    pub(crate) const SIGV4A: Refusal = Refusal::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "AWS4-ECDSA-P256-SHA256 (SigV4a) signing is not implemented; sign with AWS4-HMAC-SHA256",
    );
    pub(crate) const MISSING_CONTENT_SHA256: Refusal = Refusal::bad(
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    );
    pub(crate) const BAD_CONTENT_SHA256: Refusal = Refusal::bad(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.",
    );
    pub(crate) const REPEATED_AMZ_HEADER: Refusal = Refusal::bad(
        "InvalidArgument",
        "An x-amz-* header or query parameter may be given only once",
    );
    pub(crate) const BAD_QUERY: Refusal =
        Refusal::bad("InvalidURI", "Couldn't parse the specified URI.");
    pub(crate) const SLOW_DOWN: Refusal = Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "SlowDown",
        "too many failed authentication attempts from your address; please slow down",
    );

    // ---- Bodies ----
    pub(crate) const TOO_LARGE: Refusal = Refusal::bad(
        "EntityTooLarge",
        "the request body exceeds the maximum allowed size",
    );
    pub(crate) const BAD_LENGTH: Refusal =
        Refusal::bad("InvalidArgument", "Content-Length is not a valid number");
    pub(crate) const NEEDS_LENGTH: Refusal = Refusal::new(
        StatusCode::LENGTH_REQUIRED,
        "MissingContentLength",
        "You must provide the Content-Length HTTP header.",
    );
    pub(crate) const NEEDS_DECODED_LENGTH: Refusal = Refusal::new(
        StatusCode::LENGTH_REQUIRED,
        "MissingContentLength",
        "An aws-chunked upload must carry Content-Length and x-amz-decoded-content-length.",
    );
    pub(crate) const BAD_DECODED_LENGTH: Refusal = Refusal::bad(
        "InvalidArgument",
        "x-amz-decoded-content-length is not a valid number",
    );

    // ---- Browser forms ----
    pub(crate) const FORMS_BUSY: Refusal = Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "SlowDown",
        "too many browser form uploads in progress; please retry",
    );
    pub(crate) const FORM_TIMEOUT: Refusal = Refusal::bad(
        "RequestTimeout",
        "the form upload did not arrive within the time allowed",
    );
    pub(crate) const FORM_UNSIGNED: Refusal =
        Refusal::denied("a browser form upload needs a policy and a signature before its file");
    pub(crate) const FORM_EXTRA_AUTH: Refusal = Refusal::bad(
        "InvalidArgument",
        "a browser form upload is signed by its policy: send no Authorization header or query signature with it",
    );
    pub(crate) const PUBLIC: Refusal = Refusal::denied(crate::s3::acl::PUBLIC_REFUSED);

    // ---- CORS preflights ----
    /// Every preflight the rules do not allow, whatever the reason (no such bucket, no
    /// rules, no rule matching): one answer, so a preflight tells nothing about buckets.
    pub(crate) const CORS_FORBIDDEN: Refusal = Refusal::new(
        StatusCode::FORBIDDEN,
        "AccessForbidden",
        "CORSResponse: this CORS request is not allowed: no CORS rule of the resource allows its Origin, Access-Control-Request-Method and Access-Control-Request-Headers.",
    );
    pub(crate) const CORS_NO_ORIGIN: Refusal = Refusal::bad(
        "BadRequest",
        "Insufficient information: a CORS preflight needs an Origin header.",
    );
    pub(crate) const CORS_NO_METHOD: Refusal = Refusal::bad(
        "BadRequest",
        "Insufficient information: a CORS preflight needs an Access-Control-Request-Method header.",
    );
    pub(crate) const BAD_FORM: Refusal = Refusal::bad(
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    );
    pub(crate) const FIELDS_TOO_LARGE: Refusal = Refusal::bad(
        "MaxPostPreDataLengthExceededError",
        "Your POST request fields preceding the upload file were too large.",
    );
    pub(crate) const INCOMPLETE_BODY: Refusal = Refusal::bad(
        "IncompleteBody",
        "The request body ended before the Content-Length it announced.",
    );
    pub(crate) const POLICY_FAILED: Refusal =
        Refusal::denied("Invalid according to Policy: Policy Condition failed");

    // ---- The server ----
    pub(crate) const SEALED: Refusal = Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "this server is sealed: its data opens once an operator runs `coffer unlock`",
    );
    pub(crate) const INTERNAL: Refusal = Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
    );
}

/// An S3 XML error response (empty body for HEAD). The request id goes in later, with the
/// header (`request_log::stamp`). A wrong-region refusal also names the expected region in
/// a `<Region>` element and the `x-amz-bucket-region` header, as AWS does: SDKs read either
/// to retry in the right region.
pub(crate) fn error_response(refusal: &Refusal, is_head: bool) -> Response<s3s::Body> {
    let expected = refusal.wrong_region.as_ref().map(|w| w.expected.as_str());
    let body = if is_head {
        s3s::Body::empty()
    } else {
        // Code and message are our own fixed text, and regions are `[a-z0-9-]` tokens:
        // nothing to escape.
        let region = expected.map_or_else(String::new, |r| format!("<Region>{r}</Region>"));
        s3s::Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message>{region}</Error>",
            refusal.code,
            refusal.message()
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = refusal.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if let Some(value) = expected.and_then(|r| HeaderValue::from_str(r).ok()) {
        resp.headers_mut().insert(X_AMZ_BUCKET_REGION, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let resp = error_response(&Refusal::SIGV2, false);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/xml");
        let head = error_response(&Refusal::SIGV2, true);
        assert_eq!(http_body::Body::size_hint(head.body()).exact(), Some(0));
        assert!(resp.headers().get(X_AMZ_BUCKET_REGION).is_none());
    }

    fn body_text(resp: &Response<s3s::Body>) -> String {
        let bytes = resp.body().bytes().expect("a buffered body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn a_wrong_region_names_the_expected_one() {
        let resp = error_response(
            &Refusal::header_wrong_region("us-east-1", "eu-west-3"),
            false,
        );
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()[X_AMZ_BUCKET_REGION], "us-east-1");
        let text = body_text(&resp);
        assert!(
            text.contains("<Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'eu-west-3' is wrong; expecting 'us-east-1'</Message><Region>us-east-1</Region>"),
            "{text}"
        );
        let presigned = body_text(&error_response(
            &Refusal::credential_wrong_region("eu-west-3", "us-east-1"),
            false,
        ));
        assert!(
            presigned.contains("<Code>AuthorizationQueryParametersError</Code><Message>Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-3'</Message>"),
            "{presigned}"
        );
    }

    #[test]
    fn a_client_region_is_echoed_only_as_a_plain_token() {
        for odd in ["", "<script>", "EU-WEST-3", "a b", &"x".repeat(33), "é"] {
            let refusal = Refusal::header_wrong_region("us-east-1", odd);
            assert_eq!(
                refusal.message(),
                "The authorization header is malformed; the region is wrong; expecting 'us-east-1'",
                "{odd:?}"
            );
        }
    }
}
