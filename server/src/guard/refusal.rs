//! Why the guard refused a request, as an S3 error: status, code and a fixed message.
//!
//! Messages are our own text, never client input, so an error body can never echo a bucket
//! name, a key or a header value back (or into a log).

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

/// An S3 error the guard answers with.
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
    const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Refusal {
        Refusal {
            status,
            code,
            message,
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
/// header (`request_log::stamp`).
pub(crate) fn error_response(refusal: &Refusal, is_head: bool) -> Response<s3s::Body> {
    let body = if is_head {
        s3s::Body::empty()
    } else {
        // Code and message are our own fixed text: nothing to escape.
        s3s::Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            refusal.code, refusal.message
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = refusal.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
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
    }
}
