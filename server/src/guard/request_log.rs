//! Request ids and the one log line per request.
//!
//! Every response carries `x-amz-request-id`, and every S3 error body carries the same id in
//! `<RequestId>`, whoever wrote the error (the guard, s3s or an operation), so a clinic's
//! support request quoting either finds the log line. The log line holds id, method, status
//! and time: never the URI, bucket, key or headers (P6).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Response};

/// The request id, also put in the request's extensions (s3s hands them to the `S3` methods
/// as `req.extensions`).
#[derive(Clone, Debug)]
#[allow(dead_code, reason = "read by the S3 layer through req.extensions")]
pub(crate) struct RequestId(pub(crate) String);

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

/// Puts `id` on `resp`: the `x-amz-request-id` header and, for an S3 error body, its
/// `<RequestId>` element (replacing any other id in it).
pub(crate) fn stamp(mut resp: Response<s3s::Body>, id: &str) -> Response<s3s::Body> {
    if let Ok(value) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-amz-request-id", value);
    }
    if resp.status().as_u16() < 300 {
        return resp;
    }
    // Error bodies are small and fully buffered, by s3s and by us.
    let Some(body) = resp.body().bytes() else {
        return resp;
    };
    if let Some(stamped) = with_request_id(&body, id) {
        let len = stamped.len();
        *resp.body_mut() = s3s::Body::from(stamped);
        if let Ok(value) = HeaderValue::from_str(&len.to_string()) {
            resp.headers_mut()
                .insert(http::header::CONTENT_LENGTH, value);
        }
    }
    resp
}

/// `body` with its `<RequestId>` set to `id`, if it is an S3 `<Error>` document. (IAM's
/// `<ErrorResponse>` carries the id already, outside its `<Error>`.)
fn with_request_id(body: &Bytes, id: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if text.contains("<ErrorResponse") {
        return None;
    }
    let end = text.rfind("</Error>")?;
    let mut out = String::with_capacity(text.len() + 48);
    let (head, tail) = text.split_at(end);
    // Drop any id s3s or an operation put there: there is one id per request.
    match (head.find("<RequestId>"), head.find("</RequestId>")) {
        (Some(start), Some(stop)) if stop > start => {
            out.push_str(&head[..start]);
            out.push_str(&head[stop + "</RequestId>".len()..]);
        }
        _ => out.push_str(head),
    }
    out.push_str("<RequestId>");
    out.push_str(id);
    out.push_str("</RequestId>");
    out.push_str(tail);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_16_hex_and_distinct() {
        let a = request_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, request_id());
    }

    #[test]
    fn error_bodies_get_the_request_id() {
        let body = Bytes::from_static(
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>",
        );
        assert_eq!(
            with_request_id(&body, "abc").unwrap(),
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message><RequestId>abc</RequestId></Error>"
        );
        let other = Bytes::from_static(
            b"<Error><Code>X</Code><RequestId>s3s-id</RequestId><Message>m</Message></Error>",
        );
        assert_eq!(
            with_request_id(&other, "abc").unwrap(),
            "<Error><Code>X</Code><Message>m</Message><RequestId>abc</RequestId></Error>"
        );
        assert!(with_request_id(&Bytes::from_static(b"<ListBucketResult/>"), "a").is_none());
        let iam = Bytes::from_static(
            b"<ErrorResponse><Error><Code>X</Code></Error><RequestId>abc</RequestId></ErrorResponse>",
        );
        assert!(with_request_id(&iam, "abc").is_none());
    }

    #[test]
    fn stamped_error_response_carries_the_same_id_twice() {
        let resp =
            super::super::refusal::error_response(&super::super::refusal::Refusal::SIGV2, false);
        let resp = stamp(resp, "0123456789abcdef");
        assert_eq!(resp.headers()["x-amz-request-id"], "0123456789abcdef");
        let body = resp.body().bytes().unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<RequestId>0123456789abcdef</RequestId>"));
        assert_eq!(
            resp.headers()[http::header::CONTENT_LENGTH],
            body.len().to_string().as_str()
        );
    }
}
