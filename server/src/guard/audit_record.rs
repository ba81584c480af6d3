//! The audit record of each request, built once the response is known (issue 11).
//!
//! The guard notes what it sees before the request goes on (arrival, client, body length,
//! the version id asked for); the access hook or the IAM API fills the request's
//! [`NoteSlot`] (operation, caller, bucket, key); the response gives status, error code,
//! version id made and bytes out. A request that changes something (PUT, POST, DELETE, any
//! IAM call) and succeeds is answered only once its record is durable; if the trail cannot
//! take it, the answer becomes 503. The record follows the change, so the change itself has happened by
//! then: the 503 tells the client not to count on it, and the operator that the trail is
//! down.
//!
//! Never a secret, a signature, a policy text or a body; names go only into the sealed
//! trail, never into a log line.

use std::time::{Instant, SystemTime};

use http::{Method, Request, Response};

use super::refusal::{Refusal, error_response};
use crate::audit_trail::{AuditTrail, NoteSlot};
use crate::client::Client;

/// What the guard knows of a request before handing it on.
pub(super) struct Pending {
    arrived: SystemTime,
    started: Instant,
    request_id: String,
    source: String,
    mutating: bool,
    is_head: bool,
    bytes_in: u64,
    version_asked: Option<String>,
    slot: NoteSlot,
}

impl Pending {
    /// Notes `req` (id `request_id`, from `client`) and puts a fresh [`NoteSlot`] in it.
    pub(super) fn begin<B>(
        req: &mut Request<B>,
        request_id: &str,
        client: Option<Client>,
        started: Instant,
    ) -> Pending {
        let slot = NoteSlot::default();
        req.extensions_mut().insert(slot.clone());
        let method = req.method();
        let version_asked = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "versionId")
                .map(|(_, v)| v.into_owned())
        });
        Pending {
            arrived: SystemTime::now(),
            started,
            request_id: request_id.to_owned(),
            source: client.map_or_else(|| "-".to_owned(), |c| c.peer.to_string()),
            mutating: [Method::PUT, Method::POST, Method::DELETE].contains(method),
            is_head: method == Method::HEAD,
            bytes_in: content_length(req.headers()),
            version_asked,
            slot,
        }
    }

    /// Builds the record of `resp` and submits it to `trail`; a change is answered only
    /// once its record is durable, or with 503 if it cannot be.
    pub(super) async fn finish(
        self,
        trail: &AuditTrail,
        resp: Response<s3s::Body>,
    ) -> Response<s3s::Body> {
        let note = self.slot.take();
        // Only a change that happened must be on record before it is acknowledged: a
        // refused or failed one changed nothing (the index commit is the last step of every
        // write), and its answer — often with the body left unread and the connection about
        // to close — must not wait for a disk.
        let wait = (self.mutating || note.admin) && resp.status().as_u16() < 400;
        let headers = resp.headers();
        let version_id = headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(self.version_asked);
        let record = coffer_audit::Record {
            phase: coffer_audit::Phase::Outcome,
            time_ms: u64::try_from(
                self.arrived
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
            )
            .unwrap_or(u64::MAX),
            request_id: self.request_id,
            caller: note.caller,
            source: self.source,
            operation: note.operation.unwrap_or_else(|| "Unknown".to_owned()),
            bucket: note.bucket,
            key: note.key,
            version_id,
            status: resp.status().as_u16(),
            error_code: error_code(&resp),
            bytes_in: self.bytes_in,
            // A HEAD answer announces the object's length but sends no body.
            bytes_out: if self.is_head {
                0
            } else {
                content_length(headers)
            },
            duration_us: u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        };
        // A read is answered even if the trail is down (the writer has logged why).
        if trail.submit(record, wait).await.is_err() && wait {
            return error_response(&Refusal::AUDIT_DOWN, self.is_head);
        }
        resp
    }
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The `<Code>` of an error body (S3's and IAM's are small and fully buffered).
fn error_code(resp: &Response<s3s::Body>) -> Option<String> {
    if resp.status().as_u16() < 300 {
        return None;
    }
    let body = resp.body().bytes()?;
    let text = std::str::from_utf8(&body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = &text[start..start + len];
    // Codes are ours or s3s's: short identifiers. Anything else is not one.
    (code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
        .then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_error_bodies_only() {
        let resp = error_response(&Refusal::SIGV2, false);
        assert_eq!(error_code(&resp).as_deref(), Some("AccessDenied"));
        let ok = Response::new(s3s::Body::from("<Code>X</Code>".to_owned()));
        assert_eq!(error_code(&ok), None);
        let head = error_response(&Refusal::SIGV2, true);
        assert_eq!(error_code(&head), None);
    }
}
