//! SSE-KMS request headers: the one place `x-amz-server-side-encryption-context` is parsed,
//! and what a KMS key's errors look like to an S3 client.
//!
//! The context is AWS's: base64 of a JSON object whose values are strings. Coffer binds an
//! object's keys to it (its digest goes into the key derivation), so the same bytes under
//! two contexts share no chunk. The digest is of a canonical form (pairs sorted by key,
//! each length-prefixed), so two spellings of one JSON object are one context. The context
//! itself is not stored: AWS does not return it on reads either.

use std::collections::BTreeMap;

use base64::Engine as _;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::kms::KeyError;
use crate::limits::SSE_KMS_CONTEXT_MAX;

/// Domain of the context digest.
const CONTEXT_DIGEST: &str = "coffer 2026-12 sse-kms encryption context";

/// A checked encryption context: its digest, and the header as given (echoed on writes).
pub(crate) struct Context {
    pub(crate) digest: [u8; 32],
    pub(crate) header: Option<String>,
}

/// Parses `x-amz-server-side-encryption-context`; no header is the empty context.
///
/// # Errors
/// `InvalidArgument` for a header that is not base64 of a JSON object of strings, or one
/// longer than [`SSE_KMS_CONTEXT_MAX`].
pub(crate) fn context(header: Option<&str>) -> S3Result<Context> {
    let pairs = match header {
        None => BTreeMap::new(),
        Some(text) => parse_pairs(text).ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"
            )
        })?,
    };
    let mut hasher = blake3::Hasher::new_derive_key(CONTEXT_DIGEST);
    for (name, value) in &pairs {
        for part in [name, value] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    Ok(Context {
        digest: hasher.finalize().into(),
        header: header.map(str::to_owned),
    })
}

fn parse_pairs(text: &str) -> Option<BTreeMap<String, String>> {
    if text.len() > SSE_KMS_CONTEXT_MAX {
        return None;
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    serde_json::from_slice::<BTreeMap<String, String>>(&json).ok()
}

/// A KMS key's refusal as S3 answers it (`KMS.<exception>`, 400), or 500 for our own
/// failure. `arn` is the key's ARN when Coffer built it from a stored id; the reference a
/// client sent (an alias may name a patient) never goes into the message.
pub(crate) fn key_error(error: KeyError, arn: Option<&str>) -> S3Error {
    let key = arn.unwrap_or("The KMS key");
    let (code, message) = match error {
        KeyError::NotFound | KeyError::Invalid(_) => (
            "KMS.NotFoundException",
            format!("{key} does not exist here."),
        ),
        KeyError::Disabled => ("KMS.DisabledException", format!("{key} is disabled.")),
        KeyError::InvalidState(_) => (
            "KMS.KMSInvalidStateException",
            format!("{key} is pending deletion."),
        ),
        other => {
            tracing::error!(error = %other, "an SSE-KMS key could not be used");
            return s3_error!(
                InternalError,
                "We encountered an internal error. Please try again."
            );
        }
    };
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn one_context_however_spelled() {
        let a = context(Some(&b64(r#"{"patient":"p-17","study":"s-3"}"#))).unwrap();
        let b = context(Some(&b64(r#"{ "study": "s-3", "patient": "p-17" }"#))).unwrap();
        let c = context(Some(&b64(r#"{"patient":"p-18","study":"s-3"}"#))).unwrap();
        // Moving a boundary between name and value is another context.
        let d = context(Some(&b64(r#"{"patientp":"-17","study":"s-3"}"#))).unwrap();
        let none = context(None).unwrap();
        let empty = context(Some(&b64("{}"))).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
        assert_ne!(a.digest, d.digest);
        assert_eq!(none.digest, empty.digest);
        assert_ne!(a.digest, none.digest);
    }

    #[test]
    fn malformed_contexts_are_invalid_arguments() {
        for bad in [
            "not base64!".to_owned(),
            b64("[1,2]"),
            b64(r#"{"a":1}"#),
            b64("{"),
            b64(&format!(r#"{{"a":"{}"}}"#, "x".repeat(SSE_KMS_CONTEXT_MAX))),
        ] {
            let e = context(Some(&bad)).err().unwrap();
            assert_eq!(*e.code(), S3ErrorCode::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn key_errors_are_kms_exceptions() {
        let arn = "arn:aws:kms:us-east-1:000000000000:key/k";
        let e = key_error(KeyError::Disabled, Some(arn));
        assert_eq!(e.code().as_str(), "KMS.DisabledException");
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
        assert_eq!(
            key_error(KeyError::NotFound, None).code().as_str(),
            "KMS.NotFoundException"
        );
        assert_eq!(
            key_error(KeyError::InvalidState("x"), Some(arn))
                .code()
                .as_str(),
            "KMS.KMSInvalidStateException"
        );
        assert_eq!(
            *key_error(KeyError::Corrupt, None).code(),
            S3ErrorCode::InternalError
        );
    }
}
