//! KMS's errors: what the key table refuses ([`KeyError`], which the object path will map
//! too), and the JSON error the API answers with ([`KmsError`]), mapped once here.

use std::borrow::Cow;

use http::StatusCode;

/// Why a key operation was refused. No variant carries a name the client sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum KeyError {
    /// No key (or alias) by that reference here; a destroyed key is gone for good.
    #[error("the key does not exist")]
    NotFound,
    /// The key is disabled: refused until enabled again.
    #[error("the key is disabled")]
    Disabled,
    /// The key's state does not allow this (pending deletion, or not pending for a cancel).
    #[error("{0}")]
    InvalidState(&'static str),
    /// The alias is taken.
    #[error("an alias with that name already exists")]
    AlreadyExists,
    /// A parameter breaks KMS's rules.
    #[error("{0}")]
    Invalid(&'static str),
    /// Too many keys or aliases.
    #[error("too many keys or aliases")]
    LimitExceeded,
    /// The stored table does not decode.
    #[error("the stored KMS key table is corrupt")]
    Corrupt,
    /// The OS gave no randomness for a key.
    #[error("no randomness for a new KMS key")]
    Random,
    /// The store failed.
    #[error("could not {action}")]
    Storage {
        /// What was tried.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: coffer_storage::Error,
    },
}

/// An error the KMS API answers with: `{"__type": …, "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KmsError {
    /// HTTP status (400 for every client error, as KMS does).
    pub(crate) status: StatusCode,
    /// KMS's exception name.
    pub(crate) kind: &'static str,
    /// Message for the client, never logged above debug.
    pub(crate) message: Cow<'static, str>,
}

impl KmsError {
    /// A client error (400) of `kind`.
    pub(crate) fn client(kind: &'static str, message: impl Into<Cow<'static, str>>) -> KmsError {
        KmsError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    /// `ValidationException`.
    pub(crate) fn validation(message: impl Into<Cow<'static, str>>) -> KmsError {
        KmsError::client("ValidationException", message)
    }

    /// `UnsupportedOperationException`: something AWS offers that Coffer does not.
    pub(crate) fn unsupported(message: &'static str) -> KmsError {
        KmsError::client("UnsupportedOperationException", message)
    }

    /// `AccessDeniedException`.
    pub(crate) fn denied(message: impl Into<Cow<'static, str>>) -> KmsError {
        KmsError::client("AccessDeniedException", message)
    }

    /// A signature that does not verify or an unknown or Inactive access key: the two look
    /// the same.
    pub(crate) fn signature(message: &'static str) -> KmsError {
        KmsError::client("InvalidSignatureException", message)
    }

    /// `KMSInternalException` (500), with no detail for the client.
    pub(crate) fn internal() -> KmsError {
        KmsError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "KMSInternalException",
            message: "The request failed because of an internal error.".into(),
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> String {
        serde_json::json!({ "__type": self.kind, "message": self.message }).to_string()
    }
}

impl From<KeyError> for KmsError {
    fn from(error: KeyError) -> KmsError {
        match error {
            KeyError::NotFound => KmsError::client("NotFoundException", "Key does not exist."),
            KeyError::Disabled => KmsError::client("DisabledException", "The key is disabled."),
            KeyError::InvalidState(why) => KmsError::client("KMSInvalidStateException", why),
            KeyError::AlreadyExists => {
                KmsError::client("AlreadyExistsException", "The alias already exists.")
            }
            KeyError::Invalid(why) => KmsError::validation(why),
            KeyError::LimitExceeded => KmsError::client(
                "LimitExceededException",
                "This server holds as many KMS keys or aliases as it may.",
            ),
            // The audit trail is down: nothing was changed; a retry later may succeed.
            KeyError::Storage {
                source: coffer_storage::Error::CommitRefused { reason },
                ..
            } => KmsError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                kind: "KMSInternalException",
                message: reason.into(),
            },
            other => {
                tracing::error!(error = %other, "KMS request failed in the key store");
                KmsError::internal()
            }
        }
    }
}
