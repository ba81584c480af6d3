//! IAM's errors: status, code and message, and how `coffer-auth`'s errors map onto them
//! (the one place that mapping lives).

use std::borrow::Cow;

use http::StatusCode;

/// An error the IAM/STS API answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IamError {
    /// HTTP status.
    pub(crate) status: StatusCode,
    /// IAM error code.
    pub(crate) code: &'static str,
    /// Message for the client. It may repeat names the client itself sent (as IAM's do),
    /// so it is never logged above debug.
    pub(crate) message: Cow<'static, str>,
}

impl IamError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> IamError {
        IamError {
            status,
            code,
            message: message.into(),
        }
    }

    /// `ValidationError` (400).
    pub(crate) fn validation(message: impl Into<Cow<'static, str>>) -> IamError {
        IamError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    /// `ValidationError` for a required parameter that is missing, in IAM's words.
    pub(crate) fn missing(field: &'static str) -> IamError {
        IamError::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    }

    /// `AccessDenied` (403).
    pub(crate) fn denied(message: impl Into<Cow<'static, str>>) -> IamError {
        IamError::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    /// A signature that does not verify, or an access key that is unknown or Inactive:
    /// the two must look the same.
    pub(crate) fn signature(message: &'static str) -> IamError {
        IamError::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", message)
    }

    /// `ServiceFailure` (500), with no detail for the client.
    pub(crate) fn internal() -> IamError {
        IamError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// `Sender` for client errors, `Receiver` for the server's own.
    pub(crate) fn fault(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

impl From<coffer_auth::Error> for IamError {
    fn from(error: coffer_auth::Error) -> IamError {
        use coffer_auth::Error as E;
        let message = error.to_string();
        match error {
            E::NoSuchEntity { .. } => IamError::new(StatusCode::NOT_FOUND, "NoSuchEntity", message),
            E::EntityAlreadyExists(_) => {
                IamError::new(StatusCode::CONFLICT, "EntityAlreadyExists", message)
            }
            E::DeleteConflict(_) => IamError::new(StatusCode::CONFLICT, "DeleteConflict", message),
            E::LimitExceeded(_) => IamError::new(StatusCode::CONFLICT, "LimitExceeded", message),
            E::Invalid(_) => IamError::validation(message),
            E::MalformedPolicy(_) => {
                IamError::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
            }
            // The audit trail is down: the change was not made; a retry later may succeed.
            E::Storage {
                source: coffer_storage::Error::CommitRefused { reason },
                ..
            } => IamError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                reason,
            ),
            other => {
                // Storage, corruption, randomness: Coffer broke, the client learns nothing.
                tracing::error!(error = %other, "IAM request failed in the user directory");
                IamError::internal()
            }
        }
    }
}
