//! The one place where storage errors become S3 errors.
//!
//! One exhaustive match: every storage outcome is mapped explicitly, so a client's mistake
//! never reaches a catch-all and becomes a 500 (a form `key` over 1024 bytes once did).
//! Messages are fixed texts: no client-supplied string (bucket name, key) ever goes into an
//! error body, and internal failures are logged under the request's span with their source
//! while the client sees only `InternalError`.

use s3s::{S3Error, S3ErrorCode, s3_error};

/// Maps a storage error to the S3 error a client should see.
pub(crate) fn storage_error(err: coffer_storage::Error) -> S3Error {
    use coffer_storage::Error as E;
    match err {
        E::NoSuchBucket => s3_error!(NoSuchBucket, "The specified bucket does not exist."),
        E::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
        E::BucketNotEmpty => {
            s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty."
            )
        }
        E::BucketAlreadyExists { .. } => s3_error!(
            BucketAlreadyExists,
            "The requested bucket name is not available. Please select a different name."
        ),
        E::NoSuchUpload => s3_error!(
            NoSuchUpload,
            "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."
        ),
        E::InvalidPart => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        ),
        E::InvalidPartOrder => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        ),
        E::EntityTooSmall => s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size."
        ),
        E::KeyTooLong => s3_error!(KeyTooLongError, "Your key is too long."),
        // Storage's cap is above S3's own limits for every kind of document, so only a
        // client sending something S3 would refuse too gets here.
        E::SettingTooLarge => s3_error!(
            InvalidArgument,
            "The bucket configuration document is too large."
        ),
        E::ShuttingDown => s3_error!(ServiceUnavailable, "The server is shutting down."),
        E::CommitRefused { reason } => s3_error!(ServiceUnavailable, "{reason}"),
        E::NoSuchVersion => s3_error!(NoSuchVersion, "The specified version does not exist."),
        E::InvalidVersionId => s3_error!(InvalidArgument, "Invalid version id specified"),
        E::DeleteMarker { version_id } => {
            super::versioning::delete_marker_error(&version_id, false)
        }
        E::PreconditionFailed => s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold."
        ),
        E::ObjectLocked => s3_error!(
            AccessDenied,
            "Access Denied because object protected by object lock."
        ),
        E::ObjectLockNotEnabled => s3_error!(
            InvalidRequest,
            "Bucket is missing Object Lock Configuration"
        ),
        E::InvalidBucketState => s3_error!(
            InvalidBucketState,
            "The request is not valid with the current state of the bucket."
        ),
        // SSE-C, as AWS answers: a missing key is 400 InvalidRequest with this text (what
        // `aws s3api get-object` prints without --sse-customer-key), a key for an object
        // stored without one is 400 InvalidRequest, and a wrong key is 403 AccessDenied.
        // Sources: the S3 user guide's SSE-C page; the S3-compatible servers that copy
        // AWS's answers (MinIO cmd/api-errors.go `ErrSSEEncryptedObject`,
        // `ErrInvalidEncryptionParameters`; LocalStack's S3 provider: missing → this
        // InvalidRequest, mismatch → AccessDenied). Parts of an SSE-C upload get the same
        // answers.
        E::CustomerKeyRequired => s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        ),
        E::CustomerKeyNotApplicable => s3_error!(
            InvalidRequest,
            "The encryption parameters are not applicable to this object."
        ),
        E::CustomerKeyMismatch => s3_error!(AccessDenied, "Access Denied"),
        // A full disk, or an in-memory server at its budget: nothing was stored (a failed
        // write leaves no partial object), reads go on, and the same write succeeds once
        // space is freed — so 503 SlowDown, which SDKs retry with back-off, not a 500.
        e @ E::MemoryFull { .. } => no_room(&e),
        // The remote chunk store is down or slow: nothing was changed, and the same request
        // succeeds once it is back, so 503, which SDKs retry.
        // A standby, a fenced former primary, or a lease that lapsed: nothing was changed,
        // and the write succeeds on the primary (or here once promoted), so 503 too.
        e @ (E::Remote { .. } | E::NotWriter { .. }) => unavailable(&e),
        e @ (E::Io { .. } | E::Index { .. }) if e.is_out_of_space() => no_room(&e),
        // Coffer's own failures: logged with their cause, reported as InternalError. Key
        // management (unlockers, `coffer init`, `coffer keys`) never runs for a request; if
        // one of its errors ever surfaced here, it would be ours to fix too.
        e @ (E::WrongMasterKey
        | E::LeaseHeld { .. }
        | E::Restore { .. }
        | E::BadMasterKey
        | E::KeyFilePermissions { .. }
        | E::Corrupt { .. }
        | E::Io { .. }
        | E::Index { .. }
        | E::RotationIncomplete
        | E::KmsKeyMismatch
        | E::BadConfig { .. }
        | E::BackupTarget { .. }
        | E::NoMatchingUnlocker { .. }
        | E::TooFewShares { .. }
        | E::BadRecoveryShare { .. }
        | E::MixedShareSets
        | E::WeakArgon2
        | E::WeakPassphrase
        | E::LastUnlocker
        | E::NoSuchUnlocker { .. }
        | E::NotInitialized
        | E::AlreadyInitialized
        | E::LegacyDirectory) => internal(e),
    }
}

/// `503 SlowDown` for a write refused for want of room, saying which room.
fn unavailable(e: &coffer_storage::Error) -> S3Error {
    if let coffer_storage::Error::NotWriter { why } = e {
        return s3_error!(
            ServiceUnavailable,
            "This server does not accept writes now ({}): nothing was changed.",
            why
        );
    }
    tracing::error!(error = %e, "a request failed on the remote chunk store");
    s3_error!(
        ServiceUnavailable,
        "The server's chunk store is unavailable: nothing was changed. Please retry later."
    )
}

fn no_room(e: &coffer_storage::Error) -> S3Error {
    if let coffer_storage::Error::MemoryFull { .. } = e {
        tracing::warn!("a write was refused: the in-memory store is at its --max-memory budget");
        return s3_error!(
            SlowDown,
            "The server's memory budget (--max-memory) is used up: nothing was stored. Delete objects or retry later."
        );
    }
    tracing::error!(error = %e, "a write was refused: the data disk is full");
    s3_error!(
        SlowDown,
        "The server is out of disk space: nothing was stored. Please retry later."
    )
}

/// An unexpected failure: logged with its cause, reported as `InternalError`.
pub(crate) fn internal<E>(err: E) -> S3Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    tracing::error!(error = %err, "internal error");
    let mut e = S3Error::with_source(S3ErrorCode::InternalError, Box::new(err));
    e.set_message("We encountered an internal error. Please try again.");
    e
}

/// S3's `XAmzContentSHA256Mismatch`, which s3s has no variant for.
pub(crate) fn content_sha256_mismatch() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_errors_have_s3_codes_and_no_names() {
        let e = storage_error(coffer_storage::Error::NoSuchKey);
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
        let e = storage_error(coffer_storage::Error::NoSuchBucket);
        assert_eq!(*e.code(), S3ErrorCode::NoSuchBucket);
        let e = storage_error(coffer_storage::Error::KeyTooLong);
        assert_eq!(*e.code(), S3ErrorCode::KeyTooLongError);
        assert_eq!(e.code().status_code(), Some(http::StatusCode::BAD_REQUEST));
        let e = storage_error(coffer_storage::Error::SettingTooLarge);
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
        assert_eq!(e.code().status_code(), Some(http::StatusCode::BAD_REQUEST));
    }

    #[test]
    fn customer_key_errors_are_aws_codes() {
        use coffer_storage::Error as E;
        for (err, code, status) in [
            (
                E::CustomerKeyRequired,
                S3ErrorCode::InvalidRequest,
                http::StatusCode::BAD_REQUEST,
            ),
            (
                E::CustomerKeyNotApplicable,
                S3ErrorCode::InvalidRequest,
                http::StatusCode::BAD_REQUEST,
            ),
            (
                E::CustomerKeyMismatch,
                S3ErrorCode::AccessDenied,
                http::StatusCode::FORBIDDEN,
            ),
        ] {
            let e = storage_error(err);
            assert_eq!(*e.code(), code);
            assert_eq!(e.code().status_code(), Some(status));
        }
    }

    #[test]
    fn a_full_disk_is_503_slow_down_and_other_io_500() {
        use coffer_storage::Error as E;
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::QuotaExceeded,
        ] {
            let e = storage_error(E::Io {
                action: "write chunk file",
                source: kind.into(),
            });
            assert_eq!(*e.code(), S3ErrorCode::SlowDown);
            assert_eq!(
                e.code().status_code(),
                Some(http::StatusCode::SERVICE_UNAVAILABLE)
            );
        }
        let e = storage_error(E::Io {
            action: "write chunk file",
            source: std::io::ErrorKind::PermissionDenied.into(),
        });
        assert_eq!(*e.code(), S3ErrorCode::InternalError);
        let e = storage_error(E::MemoryFull { max_bytes: 1 << 30 });
        assert_eq!(*e.code(), S3ErrorCode::SlowDown);
        assert!(e.message().is_some_and(|m| m.contains("--max-memory")));
    }

    #[test]
    fn custom_sha_mismatch_is_a_client_error() {
        let e = content_sha256_mismatch();
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
    }
}
