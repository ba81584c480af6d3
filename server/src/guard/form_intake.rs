//! Browser form uploads (POST Object), bounded before s3s buffers them.
//!
//! s3s reads a whole form, file included, into memory before it can check the signature
//! inside it (s3s notes §8.3). So a form gets memory only once it has shown it is signed:
//!
//! 1. one of [`FORMS_PER_ADDRESS`] per client address, so one address cannot take every
//!    form slot;
//! 2. its fields (everything before the file) within [`FORM_FIELDS_DEADLINE`] and
//!    [`FORM_FIELDS_MAX`] bytes; public ACL fields are refused here (P2, s3s ignores them),
//!    and so is a credential scoped to another region than the server's;
//! 3. only a form carrying a policy and a signature then takes one of
//!    [`FORM_UPLOADS_AT_ONCE`] slots, for [`FORM_DEADLINE`], while s3s reads it whole.
//!
//! Which signature it carries is not decided here: s3s verifies it, and the access layer
//! refuses a form that s3s verified as SigV2 (`s3/auth_adapter.rs`).

use std::net::IpAddr;
use std::sync::Arc;

use http::header::CONTENT_TYPE;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use s3s::service::S3Service;
use tokio::sync::Semaphore;

use super::auth_params;
use super::form_fields::{self, FieldScanner, Prefixed, Scan};
use super::refusal::{Refusal, error_response};
use super::unread_body::RequestBody;
use crate::limits::{
    FORM_DEADLINE, FORM_FIELDS_DEADLINE, FORM_FIELDS_MAX, FORM_UPLOADS_AT_ONCE, FORMS_PER_ADDRESS,
};
use crate::per_address::AddressSlots;

/// The slots form uploads share.
#[derive(Clone)]
pub(crate) struct FormIntake {
    /// Forms buffered by s3s at once.
    buffered: Arc<Semaphore>,
    /// Forms in progress per client address.
    per_address: AddressSlots,
}

impl FormIntake {
    /// The production limits.
    pub(crate) fn new() -> FormIntake {
        FormIntake {
            buffered: Arc::new(Semaphore::new(FORM_UPLOADS_AT_ONCE)),
            per_address: AddressSlots::new(FORMS_PER_ADDRESS),
        }
    }

    /// Takes a form from `peer` through the steps above and hands it to `svc`; `region` is
    /// the server's.
    pub(crate) async fn receive(
        &self,
        peer: Option<IpAddr>,
        req: Request<RequestBody>,
        svc: &S3Service,
        region: &str,
    ) -> Result<Response<s3s::Body>, Refusal> {
        let _mine = match peer {
            Some(peer) => Some(
                self.per_address
                    .try_acquire(peer)
                    .ok_or(Refusal::FORMS_BUSY)?,
            ),
            None => None,
        };
        let boundary = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(form_fields::boundary)
            .map(str::to_owned)
            .ok_or(Refusal::BAD_FORM)?;
        let (parts, mut body) = req.into_parts();
        let scanner = tokio::time::timeout(FORM_FIELDS_DEADLINE, read_fields(&mut body, &boundary))
            .await
            .map_err(|_| Refusal::FORM_TIMEOUT)??;
        let fields = scanner.fields();
        refuse_public_fields(fields)?;
        for (_, credential) in fields.iter().filter(|(n, _)| n == "x-amz-credential") {
            auth_params::check_form_credential(credential, region)?;
        }
        let has = |name: &str| fields.iter().any(|(n, _)| n == name);
        if !has("policy") || !(has("x-amz-signature") || has("signature")) {
            return Err(Refusal::FORM_UNSIGNED);
        }
        let _slot = self
            .buffered
            .try_acquire()
            .map_err(|_| Refusal::FORMS_BUSY)?;
        let body = s3s::Body::http_body(Prefixed::new(scanner.into_bytes(), body));
        let served =
            tokio::time::timeout(FORM_DEADLINE, svc.call(Request::from_parts(parts, body)))
                .await
                .map_err(|_| Refusal::FORM_TIMEOUT)?;
        match served {
            Ok(resp) => Ok(policy_failure_is_denied(resp)),
            Err(error) => {
                tracing::error!(?error, "s3s failed to produce a response to a form");
                Err(Refusal::INTERNAL)
            }
        }
    }
}

/// Reads frames until the fields before the file part are known (or the body ends).
async fn read_fields(body: &mut RequestBody, boundary: &str) -> Result<FieldScanner, Refusal> {
    let mut scanner = FieldScanner::new(boundary);
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                match scanner.push(&data) {
                    Scan::Fields(_) => return Ok(scanner),
                    Scan::Malformed => return Err(Refusal::BAD_FORM),
                    Scan::NeedMore if scanner.len() > FORM_FIELDS_MAX => {
                        return Err(Refusal::FIELDS_TOO_LARGE);
                    }
                    Scan::NeedMore => {}
                }
            }
            Some(Err(_)) => return Err(Refusal::INCOMPLETE_BODY),
            // A form without a file: s3s says what is missing.
            None => return Ok(scanner),
        }
    }
}

/// P2 for form fields: s3s ignores the `acl` field, so check it (and its `x-amz-` forms)
/// here; a refused form stores nothing.
fn refuse_public_fields(fields: &[(String, String)]) -> Result<(), Refusal> {
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
fn policy_failure_is_denied(resp: Response<s3s::Body>) -> Response<s3s::Body> {
    let failed = resp.status() == StatusCode::BAD_REQUEST
        && resp.body().bytes().is_some_and(|b| {
            let needle = b"<Code>InvalidPolicyDocument</Code>";
            b.windows(needle.len()).any(|w| w == needle)
        });
    if failed {
        error_response(&Refusal::POLICY_FAILED, false)
    } else {
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn p2_public_form_fields_are_refused() {
        assert!(refuse_public_fields(&[field("acl", "private")]).is_ok());
        assert_eq!(
            refuse_public_fields(&[field("acl", "public-read")]),
            Err(Refusal::PUBLIC)
        );
        assert_eq!(
            refuse_public_fields(&[field(
                "x-amz-grant-read",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""
            )]),
            Err(Refusal::PUBLIC)
        );
    }

    #[test]
    fn a_failed_policy_is_access_denied() {
        let body = "<?xml version=\"1.0\"?><Error><Code>InvalidPolicyDocument</Code><Message>x</Message></Error>";
        let mut resp = Response::new(s3s::Body::from(body.to_owned()));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        assert_eq!(
            policy_failure_is_denied(resp).status(),
            StatusCode::FORBIDDEN
        );
    }
}
