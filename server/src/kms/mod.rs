//! Built-in KMS keys, administered through the AWS KMS JSON API on the S3 listener, so
//! `aws kms … --endpoint-url` and SDK KMS clients manage them unchanged.
//!
//! The guard sends KMS requests (SigV4 credential scope naming service `kms`, or an
//! `X-Amz-Target: TrentService.*` header) to the IAM module, which hands them here. Then:
//!
//! 1. the body, a small JSON object, is read whole up to
//!    [`KMS_MAX_BODY`](crate::limits::KMS_MAX_BODY) (the signature covers its hash);
//! 2. the signature is verified by the IAM module's verifier (one implementation for every
//!    admin service), and the caller noted for the audit trail;
//! 3. `X-Amz-Target` picks the action in [`actions`], which asks
//!    [`coffer_auth::Auth::authorize_admin`] for `kms:<Action>` on the key's ARN before it
//!    touches anything;
//! 4. the answer is JSON (`application/x-amz-json-1.1`), or an error in KMS's shape
//!    (`{"__type": "NotFoundException", "message": …}`, HTTP 400).
//!
//! The keys themselves are kept by [`key_store`] (a sealed [`table`]). Descriptions and
//! alias names may be personal data (`alias/patient-…`): never logged above debug.

mod actions;
mod error;
mod key_store;
mod table;

use std::net::IpAddr;
use std::time::SystemTime;

use bytes::Bytes;
use coffer_auth::RequestFacts;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, Response};

pub(crate) use self::error::KeyError;
pub(crate) use self::error::KmsError;
pub(crate) use self::key_store::{
    KmsKeys, key_id_bytes, key_id_text, ms_since_epoch, start_sweeping,
};
use crate::guard::{AdminAuth, AdminService, Refusal, RequestId};
use crate::iam::{BodyFailure, Iam, SignatureFailure, read_whole};
use crate::limits::KMS_MAX_BODY;

/// The header that names the action.
const TARGET: &str = "x-amz-target";
/// The prefix of every KMS action in [`TARGET`].
const TARGET_PREFIX: &str = "TrentService.";
/// The content type of requests and answers.
const JSON_1_1: &str = "application/x-amz-json-1.1";

/// Whether an unsigned or presigned request is a KMS call (to answer it in KMS's shape).
pub(crate) fn looks_like_kms(headers: &HeaderMap) -> bool {
    headers
        .get(TARGET)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(TARGET_PREFIX))
}

/// Answers a request the guard sent to the admin APIs that is a KMS call: signed for
/// service `kms`, or carrying a KMS target.
pub(crate) async fn serve<B>(
    iam: &Iam,
    keys: Option<&KmsKeys>,
    req: Request<B>,
    auth: Option<AdminAuth>,
    peer: Option<IpAddr>,
) -> Response<s3s::Body>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(String::new, |id| id.0.clone());
    match answer(iam, keys, req, auth, peer).await {
        Ok(body) => json_response(http::StatusCode::OK, body.to_string(), &id),
        Err(err) => {
            tracing::debug!(kind = err.kind, "KMS request refused");
            json_response(err.status, err.body(), &id)
        }
    }
}

async fn answer<B>(
    iam: &Iam,
    keys: Option<&KmsKeys>,
    req: Request<B>,
    auth: Option<AdminAuth>,
    peer: Option<IpAddr>,
) -> Result<serde_json::Value, KmsError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let sig = match auth {
        Some(AdminAuth::Header(sig)) if sig.service == AdminService::Kms => sig,
        Some(AdminAuth::Header(_)) => {
            return Err(KmsError::signature(
                "Credential should be scoped to the kms service.",
            ));
        }
        Some(AdminAuth::Presigned) => {
            return Err(KmsError::client(
                "MissingAuthenticationTokenException",
                "Presigned URLs are not accepted for KMS: sign the Authorization header with AWS Signature Version 4.",
            ));
        }
        None => {
            return Err(KmsError::client(
                "MissingAuthenticationTokenException",
                "Request is missing Authentication Token: sign KMS requests with AWS Signature Version 4.",
            ));
        }
    };
    let (parts, body) = req.into_parts();
    let body = read_whole(&parts.headers, body, KMS_MAX_BODY)
        .await
        .map_err(|failure| match failure {
            BodyFailure::TooLarge => KmsError::validation("The request body is too large."),
            BodyFailure::Incomplete => {
                KmsError::validation("The request body did not arrive whole.")
            }
        })?;
    let caller = iam
        .verify_caller(&parts.method, &parts.uri, &parts.headers, &body, &sig)
        .map_err(signature_error)?;
    let audit_caller = coffer_audit::Caller {
        user: caller.name.clone(),
        access_key: sig.scope.access_key.clone(),
    };
    crate::audit_trail::note(&parts.extensions, |n| n.caller = Some(audit_caller));
    let action = action_of(&parts.headers)?;
    crate::audit_trail::note(&parts.extensions, |n| {
        n.operation = Some(format!("kms:{action}"));
    });
    let params = json_params(&parts.headers, &body)?;
    let Some(keys) = keys else {
        return Err(KmsError::unsupported(
            "KMS keys are not served on this listener.",
        ));
    };
    let facts = RequestFacts {
        source_ip: peer,
        secure_transport: iam.secure(),
        now: SystemTime::now(),
    };
    let call = actions::Call {
        auth: iam.auth(),
        keys,
        caller: &caller,
        facts: &facts,
        params: &params,
    };
    actions::run(&call, action).await
}

/// The action `X-Amz-Target` names, if it is one of [`actions::ACTIONS`].
fn action_of(headers: &HeaderMap) -> Result<&'static str, KmsError> {
    let unknown = || {
        KmsError::client(
            "UnknownOperationException",
            "X-Amz-Target must name a TrentService action this endpoint serves.",
        )
    };
    let target = headers
        .get(TARGET)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .ok_or_else(unknown)?;
    actions::ACTIONS
        .iter()
        .copied()
        .find(|a| *a == target)
        .ok_or_else(unknown)
}

/// The JSON object of the body (an empty body is an empty object).
fn json_params(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, KmsError> {
    let json_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with(JSON_1_1));
    if !json_type {
        return Err(KmsError::validation(
            "Content-Type must be application/x-amz-json-1.1.",
        ));
    }
    if body.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(params)) => Ok(params),
        Ok(_) => Err(KmsError::validation(
            "The request body must be a JSON object.",
        )),
        Err(_) => Err(KmsError::validation("The request body is not valid JSON.")),
    }
}

fn signature_error(failure: SignatureFailure) -> KmsError {
    match failure {
        SignatureFailure::Incomplete => {
            KmsError::client("IncompleteSignatureException", failure.message())
        }
        _ => KmsError::signature(failure.message()),
    }
}

/// A guard refusal (a malformed signature, SigV2…) of a KMS request, in KMS's shape.
pub(crate) fn refused(refusal: &Refusal, extensions: &http::Extensions) -> Response<s3s::Body> {
    let id = extensions
        .get::<RequestId>()
        .map_or_else(String::new, |id| id.0.clone());
    let err = KmsError {
        status: refusal.status,
        kind: refusal.code,
        message: refusal.message(),
    };
    json_response(err.status, err.body(), &id)
}

fn json_response(status: http::StatusCode, body: String, id: &str) -> Response<s3s::Body> {
    let len = body.len();
    let mut resp = Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_1));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(id) = HeaderValue::from_str(id) {
        headers.insert("x-amzn-requestid", id);
    }
    resp
}
