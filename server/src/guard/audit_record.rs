//! The audit records of each request (issue 11).
//!
//! The guard notes what it sees before the request goes on (arrival, client, body length,
//! the version id asked for) in a [`NoteSlot`]; the access hook or the IAM API fills in
//! the operation, caller, bucket and key. A change has an intent record, durable before the
//! change commits (the slot's commit gate, see `audit_trail.rs`); every request has an
//! outcome record, built here from the response (status, error code, version id made,
//! bytes out, duration), durable within a second. No answer waits for it.
//!
//! Never a secret, a signature, a policy text or a body; names go only into the sealed
//! trail, never into a log line.

use std::time::{Instant, SystemTime};

use coffer_storage::CommitGate;
use http::{Method, Request, Response};

use crate::audit_trail::{AuditTrail, NoteSlot};
use crate::client::Client;

/// What the guard knows of a request before handing it on.
pub(super) struct Pending {
    started: Instant,
    is_head: bool,
    slot: NoteSlot,
}

impl Pending {
    /// Notes `req` (id `request_id`, from `client`) and puts a [`NoteSlot`] writing to
    /// `trail` in it.
    pub(super) fn begin<B>(
        trail: &AuditTrail,
        req: &mut Request<B>,
        request_id: &str,
        client: Option<Client>,
        started: Instant,
    ) -> Pending {
        let version_id = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "versionId")
                .map(|(_, v)| v.into_owned())
        });
        let base = coffer_audit::Record {
            time_ms: coffer_audit::unix_ms(SystemTime::now()),
            request_id: request_id.to_owned(),
            source: client.map_or_else(|| "-".to_owned(), |c| c.peer.to_string()),
            bytes_in: content_length(req.headers()),
            version_id,
            ..coffer_audit::Record::default()
        };
        let slot = NoteSlot::new(trail.clone(), base);
        req.extensions_mut().insert(slot.clone());
        Pending {
            started,
            is_head: req.method() == Method::HEAD,
            slot,
        }
    }

    /// The gate the request's changes pass: its intent record durable first.
    pub(super) fn commit_gate(&self) -> CommitGate {
        self.slot.commit_gate()
    }

    /// Queues the outcome record of `resp`, and returns the operation it names. A read is
    /// answered even if the trail is down (the writer has logged why); a change could not
    /// have committed then.
    pub(super) async fn finish(self, resp: &Response<s3s::Body>) -> String {
        let note = self.slot.take();
        let mut record = note.fill(self.slot.base().clone());
        let headers = resp.headers();
        if let Some(made) = headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
        {
            made.clone_into(record.version_id.get_or_insert_default());
        }
        record.status = resp.status().as_u16();
        record.error_code = error_code(resp);
        // A HEAD answer announces the object's length but sends no body.
        record.bytes_out = bytes_out(resp, self.is_head);
        record.duration_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let operation = record.operation.clone();
        let _ = self.slot.trail().submit(record, false).await;
        operation
    }
}

/// The body bytes `resp` sends: its announced length, none for HEAD (which announces the
/// object's length but sends no body). The audit record and the metrics count alike.
pub(super) fn bytes_out(resp: &Response<s3s::Body>, is_head: bool) -> u64 {
    if is_head {
        0
    } else {
        content_length(resp.headers())
    }
}

/// The announced body length (`Content-Length`), or 0.
pub(super) fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The `<Code>` of an error body (S3's and IAM's are small and fully buffered), or the
/// `__type` of KMS's JSON one (written by serde_json, so `__type` comes first).
pub(super) fn error_code(resp: &Response<s3s::Body>) -> Option<String> {
    if resp.status().as_u16() < 300 {
        return None;
    }
    let body = resp.body().bytes()?;
    let text = std::str::from_utf8(&body).ok()?;
    let (open, close) = if text.starts_with('{') {
        ("{\"__type\":\"", "\"")
    } else {
        ("<Code>", "</Code>")
    };
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    let code = &text[start..start + len];
    // Codes are ours or s3s's: short identifiers. Anything else is not one.
    (code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
        .then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::refusal::{Refusal, error_response};

    #[test]
    fn error_codes_come_from_error_bodies_only() {
        let resp = error_response(&Refusal::SIGV2, false);
        assert_eq!(error_code(&resp).as_deref(), Some("AccessDenied"));
        let ok = Response::new(s3s::Body::from("<Code>X</Code>".to_owned()));
        assert_eq!(error_code(&ok), None);
        let head = error_response(&Refusal::SIGV2, true);
        assert_eq!(error_code(&head), None);
        let mut kms = Response::new(s3s::Body::from(
            r#"{"__type":"NotFoundException","message":"<Code>X</Code>"}"#.to_owned(),
        ));
        *kms.status_mut() = http::StatusCode::BAD_REQUEST;
        assert_eq!(error_code(&kms).as_deref(), Some("NotFoundException"));
    }
}
