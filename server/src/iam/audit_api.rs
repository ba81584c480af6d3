//! `ReadAuditTrail`: the audit trail for an auditor who has no shell on the server.
//!
//! A Query API call like IAM's, signed with SigV4 for service `audit` (so `curl
//! --aws-sigv4 "aws:amz:us-east-1:audit"` can make it), allowed to root and to users whose
//! identity policy allows `audit:ReadAuditTrail` (on `"*"`: the trail has no finer
//! resource). It takes the filters of `coffer audit show` (`Since`, `Until`, `User`,
//! `Bucket`, `Key`, `Operation`, `Status`) and `Format` (`json`, the default, or `text`),
//! and streams the matching requests, one per line, as `coffer audit show` prints them:
//! read a segment at a time on a blocking thread, so memory stays constant however long
//! the trail. The call itself is recorded like any other.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use coffer_audit::{Filter, Reader, Timeline};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body::Frame;
use tokio::sync::mpsc;

use super::actions::Call;
use super::error::IamError;
use crate::audit_trail::AuditTrail;
use crate::audit_view::{json_line, parse_time, text_line};

/// The API version clients may name.
pub(super) const VERSION: &str = "2026-11-30";
/// The actions of service `audit`.
pub(super) const ACTIONS: &[&str] = &["ReadAuditTrail"];
/// The permission a user needs.
const PERMISSION: &str = "audit:ReadAuditTrail";
/// Lines are sent in pieces of about this many bytes.
const PIECE: usize = 64 << 10;
/// Pieces queued ahead of a slow client.
const AHEAD: usize = 4;

/// Answers `ReadAuditTrail` from `trail` for `call`'s caller.
pub(super) async fn read(
    call: &Call<'_>,
    trail: Option<&AuditTrail>,
) -> Result<Response<s3s::Body>, IamError> {
    call.allow(PERMISSION, "*")?;
    let params = call.params;
    let json = match params.get("Format") {
        None | Some("json") => true,
        Some("text") => false,
        Some(_) => return Err(IamError::validation("Format must be json or text.")),
    };
    let filter = filter(params)?;
    let Some((writer, trail)) = trail.and_then(|t| t.source().map(|s| (t, s))) else {
        return Err(IamError::new(
            StatusCode::NOT_FOUND,
            "NoSuchEntity",
            "This server keeps no audit trail (it runs with --no-audit).",
        ));
    };
    // The outcomes of requests answered just before are queued, not yet written: wait for
    // them, so a client reads what it has just done.
    writer.written().await.map_err(|_| {
        IamError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The audit trail cannot be written.",
        )
    })?;
    let (tx, rx) = mpsc::channel(AHEAD);
    let dir = trail.dir.clone();
    let key = trail.key.clone();
    tokio::task::spawn_blocking(move || stream(&dir, &key, filter, json, &tx));
    let mut resp = Response::new(s3s::Body::http_body(Lines(rx)));
    let kind = if json {
        "application/x-ndjson"
    } else {
        "text/tab-separated-values; charset=utf-8"
    };
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(resp)
}

fn filter(params: &super::query::Params) -> Result<Filter, IamError> {
    let time = |name: &str| {
        params
            .get(name)
            .map(|t| parse_time(name, t).map_err(|e| IamError::validation(e.to_string())))
            .transpose()
    };
    let text = |name: &str| params.get(name).map(str::to_owned);
    Ok(Filter {
        since_ms: time("Since")?,
        until_ms: time("Until")?,
        user: text("User"),
        bucket: text("Bucket"),
        key: text("Key"),
        operation: text("Operation"),
        status: params
            .get("Status")
            .map(|s| {
                s.parse()
                    .map_err(|_| IamError::validation("Status must be an HTTP status code."))
            })
            .transpose()?,
    })
}

/// Sends the lines of the trail in `dir` that pass `filter` into `tx` until the trail ends
/// or the client goes. Damage ends the body with an error (the client sees it cut short)
/// after a last line saying where: run `coffer audit verify`.
fn stream(
    dir: &std::path::Path,
    key: &[u8; 32],
    filter: Filter,
    json: bool,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) {
    let fail = |tx: &mpsc::Sender<_>, what: String| {
        tracing::warn!(error = %what, "the audit trail could not be read for ReadAuditTrail");
        let line = if json {
            format!("{}\n", serde_json::json!({ "error": what }))
        } else {
            format!("# error: {what}\n")
        };
        let _ = tx.blocking_send(Ok(Bytes::from(line)));
        let _ = tx.blocking_send(Err(std::io::Error::other(what)));
    };
    let reader = match Reader::open(dir, key, filter) {
        Ok(reader) => reader,
        Err(e) => return fail(tx, e.to_string()),
    };
    let mut piece = String::new();
    for item in Timeline::new(reader) {
        let line = match item {
            Ok((sequence, record)) if json => {
                json_line(sequence, &record).map_err(|e| e.to_string())
            }
            Ok((_, record)) => Ok(text_line(&record)),
            Err(e) => Err(e.to_string()),
        };
        match line {
            Ok(line) => {
                piece.push_str(&line);
                piece.push('\n');
            }
            Err(what) => {
                if !piece.is_empty() && tx.blocking_send(Ok(Bytes::from(piece))).is_err() {
                    return;
                }
                return fail(tx, what);
            }
        }
        if piece.len() >= PIECE
            && tx
                .blocking_send(Ok(Bytes::from(std::mem::take(&mut piece))))
                .is_err()
        {
            // The client went away.
            return;
        }
    }
    if !piece.is_empty() {
        let _ = tx.blocking_send(Ok(Bytes::from(piece)));
    }
}

/// A response body fed by [`stream`].
struct Lines(mpsc::Receiver<std::io::Result<Bytes>>);

impl http_body::Body for Lines {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|piece| piece.map(Frame::data)))
    }
}
