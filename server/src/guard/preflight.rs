//! CORS: the unsigned preflight (`OPTIONS`), and the CORS headers of signed answers.
//!
//! A preflight is the one request served without a signature, so it must reveal nothing: a
//! missing bucket, a bucket without rules, unreadable rules and a request no rule allows
//! all get the same `403 AccessForbidden`, and no object is ever read for one (the answer
//! depends on the bucket's rules alone). Only a request missing what every preflight
//! carries (`Origin`, `Access-Control-Request-Method`) gets a different, bucket-independent
//! `400`.

use http::header::{
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::refusal::{Refusal, error_response};
use crate::s3::cors::{AllowedBucket, Ask, BucketCors};

/// What the audit trail and the metrics call a preflight.
const OPERATION: &str = "PreflightCors";

/// Answers the preflight `req` from the addressed bucket's rules.
pub(super) async fn answer<B>(cors: &BucketCors, req: &Request<B>) -> Response<s3s::Body> {
    crate::audit_trail::note(req.extensions(), |n| {
        n.operation = Some(OPERATION.to_owned());
    });
    let headers = req.headers();
    let Some(origin) = headers.get(ORIGIN) else {
        return refused(&Refusal::CORS_NO_ORIGIN);
    };
    let Some(method) = headers.get(ACCESS_CONTROL_REQUEST_METHOD) else {
        return refused(&Refusal::CORS_NO_METHOD);
    };
    // Browsers send one Access-Control-Request-Headers; several are read as one list.
    let mut asked = String::new();
    for value in headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        let Ok(value) = value.to_str() else {
            return refused(&Refusal::CORS_FORBIDDEN);
        };
        if !asked.is_empty() {
            asked.push(',');
        }
        asked.push_str(value);
    }
    let (Ok(method), Some(bucket)) = (method.to_str(), cors.bucket_of(req.uri(), headers)) else {
        return refused(&Refusal::CORS_FORBIDDEN);
    };
    let Some(rules) = cors.rules(&bucket).await else {
        return refused(&Refusal::CORS_FORBIDDEN);
    };
    let ask = Ask {
        origin,
        method,
        preflight_headers: Some(&asked),
    };
    let Some(answer) = rules.answer(&ask) else {
        return refused(&Refusal::CORS_FORBIDDEN);
    };
    let mut resp = Response::new(s3s::Body::empty());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().extend(answer);
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

fn refused(refusal: &Refusal) -> Response<s3s::Body> {
    tracing::debug!(code = refusal.code, "CORS preflight refused");
    error_response(refusal, false)
}

/// What a signed request needs to get its CORS headers: marks it, if it carries an `Origin`,
/// for the access check to name the bucket it is allowed on.
pub(super) fn mark<B>(req: &mut Request<B>) -> Option<Marked> {
    let origin = req.headers().get(ORIGIN)?.clone();
    let allowed = AllowedBucket::default();
    req.extensions_mut().insert(allowed.clone());
    Some(Marked {
        origin,
        method: req.method().clone(),
        allowed,
    })
}

/// A signed request with an `Origin`, waiting for its answer.
pub(super) struct Marked {
    origin: HeaderValue,
    method: Method,
    allowed: AllowedBucket,
}

impl Marked {
    /// Adds the CORS headers of the bucket's first rule matching the request to `resp`, if
    /// the request was allowed on a bucket and a rule matches.
    pub(super) async fn apply(
        self,
        cors: &BucketCors,
        mut resp: Response<s3s::Body>,
    ) -> Response<s3s::Body> {
        let Some(bucket) = self.allowed.take() else {
            return resp;
        };
        let Some(rules) = cors.rules(&bucket).await else {
            return resp;
        };
        if let Some(answer) = rules.answer_request(&self.origin, &self.method) {
            merge(resp.headers_mut(), answer);
        }
        resp
    }
}

/// Adds `answer` to `headers`, keeping any `Vary` already there.
fn merge(headers: &mut HeaderMap, answer: HeaderMap) {
    let mut current = None;
    for (name, value) in answer {
        // The iterator names a header once, before all of its values.
        if let Some(name) = name {
            if name != VARY {
                headers.remove(&name);
            }
            current = Some(name);
        }
        if let Some(name) = &current {
            headers.append(name, value);
        }
    }
}
