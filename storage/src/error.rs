//! The storage error type.
//!
//! # Design
//!
//! One enum for the whole crate: every variant is an outcome a caller acts on (map to an S3
//! error code, retry, stop). Context is the *action* that failed, never a bucket name or an
//! object key: those are personal data (P6) and must not reach a log line through `Display`.
//! Not `#[non_exhaustive]`: the server maps every variant to an S3 error in one exhaustive
//! match, so a new variant cannot silently become an `InternalError`.

use std::path::PathBuf;

/// Everything that can go wrong in `coffer-storage`.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// The bucket does not exist (or was deleted while the request ran).
    #[error("no such bucket")]
    NoSuchBucket,
    /// The object does not exist (or changed while the request ran).
    #[error("no such key")]
    NoSuchKey,
    /// A bucket with that name exists already.
    #[error("bucket already exists")]
    BucketAlreadyExists {
        /// Owner of the existing bucket, so the caller can tell "yours" from "someone else's".
        owner: String,
    },
    /// The bucket still holds objects.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// The master key does not open this data directory's key-check record.
    #[error("wrong master key for this data directory")]
    WrongMasterKey,
    /// The master key text is not base64 of exactly 32 bytes.
    #[error("master key must be base64 of exactly 32 bytes")]
    BadMasterKey,
    /// The key file may be read by group or other; it must be 0600 (or stricter).
    #[error("key file {path:?} is readable by group or other; chmod 600 it")]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
    },
    /// Stored bytes failed verification: an AEAD open failed or a record did not decode.
    /// Never returned with altered bytes.
    #[error("corrupt {what}")]
    Corrupt {
        /// What failed to verify ("chunk", "object record", …).
        what: &'static str,
    },
    /// A file-system operation failed.
    #[error("i/o error: {action}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The redb index failed.
    #[error("index error: {action}")]
    Index {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: redb::Error,
    },
    /// The request's [`CommitGate`](crate::CommitGate) refused the change (the audit
    /// trail cannot record it): nothing was committed.
    #[error("change refused before commit: {reason}")]
    CommitRefused {
        /// Why, in words fit for the client.
        reason: &'static str,
    },
    /// The object was written with a customer key (SSE-C) and the request gave none.
    #[error("the object needs its customer key")]
    CustomerKeyRequired,
    /// The request's customer key is not the one the object was written with.
    #[error("wrong customer key")]
    CustomerKeyMismatch,
    /// The request gave a customer key for an object not written with one.
    #[error("customer key given for an object without one")]
    CustomerKeyNotApplicable,
    /// The object is under a KMS key and the request came without it, or with another: the
    /// server resolves an object's KMS key from its record, so this is the server's fault.
    #[error("the object's KMS key was not the one given")]
    KmsKeyMismatch,
    /// The store is shutting down (or was shut down); nothing more is accepted.
    #[error("storage is shutting down")]
    ShuttingDown,
    /// An object key is longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes.
    #[error("object key too long")]
    KeyTooLong,
    /// A bucket setting document is larger than
    /// [`MAX_BUCKET_SETTING_LEN`](crate::MAX_BUCKET_SETTING_LEN) bytes. Nothing was changed.
    #[error("bucket setting larger than {} bytes", crate::MAX_BUCKET_SETTING_LEN)]
    SettingTooLarge,
    /// The multipart upload does not exist (never created, aborted, completed, or it is for
    /// another key).
    #[error("no such upload")]
    NoSuchUpload,
    /// A part named in a completion was never uploaded, or its `ETag` differs.
    #[error("invalid part")]
    InvalidPart,
    /// The parts of a completion are not in ascending order, or a part number is out of
    /// range.
    #[error("invalid part order")]
    InvalidPartOrder,
    /// An in-memory store holds as many bytes as its budget allows: nothing was stored, and
    /// the same write succeeds once objects are deleted.
    #[error("the in-memory store is full ({max_bytes} bytes): nothing was stored")]
    MemoryFull {
        /// The budget (`coffer serve --max-memory`).
        max_bytes: u64,
    },
    /// The remote chunk store (`coffer serve --chunk-store`) refused a call or did not answer
    /// in time: the request's change, if any, was not made, and the same request succeeds
    /// once the remote is back.
    #[error("the remote chunk store failed to {action}: {source}")]
    Remote {
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// This server may not change the index now: it is a standby (`--standby-of`), another
    /// server took the chunk store's lease from it (fenced), or its lease could not be
    /// renewed in time. Nothing was changed; reads go on.
    #[error("this server does not accept writes now: {why}")]
    NotWriter {
        /// Why, in words fit for the client.
        why: &'static str,
    },
    /// Another live server holds the remote chunk store's lease: two servers never write
    /// one deployment. Stop it, or promote this one with `coffer promote`.
    #[error(
        "another server holds the chunk store's lease (it renewed it {seen_renewals} times while this one waited)"
    )]
    LeaseHeld {
        /// Renewals seen while waiting for the lease to lapse.
        seen_renewals: u32,
    },
    /// Nothing to restore from, or what is there does not fit together.
    #[error("cannot restore: {what}")]
    Restore {
        /// What is missing or wrong.
        what: &'static str,
    },
    /// A part other than the last is smaller than the 5 MiB minimum.
    #[error("part too small")]
    EntityTooSmall,
    /// A master key rotation was interrupted between its two steps: the key file and the
    /// index disagree on the master key. Nothing is lost; run the rotation again with the
    /// same old and new keys.
    #[error(
        "a master key rotation was interrupted: run `coffer keys rotate-master` again with the same old and new keys"
    )]
    RotationIncomplete,
    /// The secret given opens none of this data directory's unlockers (a wrong passphrase
    /// or key, or shares of a removed set). Nothing on disk was changed.
    #[error("the {what} opens none of this data directory's unlockers; nothing was changed")]
    NoMatchingUnlocker {
        /// What was tried: "passphrase", "key" or "recovery shares".
        what: &'static str,
    },
    /// Fewer recovery shares than the split needs.
    #[error("{have} recovery share(s) given, but {need} are needed")]
    TooFewShares {
        /// Shares given.
        have: usize,
        /// Shares the split needs.
        need: usize,
    },
    /// A recovery share is mistyped or damaged (its checksum does not match), or repeated.
    #[error(
        "recovery share #{position} is mistyped, damaged or repeated (its checksum does not match)"
    )]
    BadRecoveryShare {
        /// Which share, counting from 1 in the order given.
        position: usize,
    },
    /// The recovery shares come from different splits.
    #[error("the recovery shares come from different sets; give shares of one set")]
    MixedShareSets,
    /// Argon2id parameters are below the minimum (or absurdly high).
    #[error(
        "Argon2id parameters refused: memory must be 64 MiB to 4 GiB, passes 1 to 64, lanes 1 to 16"
    )]
    WeakArgon2,
    /// A new passphrase is too short.
    #[error("a passphrase must be at least 10 characters")]
    WeakPassphrase,
    /// The last unlocker cannot be removed: nothing would open the directory any more.
    #[error("refusing to remove the last unlocker: nothing would open the data directory")]
    LastUnlocker,
    /// No unlocker has that id.
    #[error("no unlocker with id {id}")]
    NoSuchUnlocker {
        /// The id asked for.
        id: u32,
    },
    /// The data directory has not been set up (`coffer init`).
    #[error("the data directory is not set up (no unlockers)")]
    NotInitialized,
    /// The data directory has been set up already.
    #[error("the data directory is set up already")]
    AlreadyInitialized,
    /// The data directory predates unlockers: its master key is used directly.
    #[error(
        "this data directory predates unlockers: it is opened with its master key directly (COFFER_MASTER_KEY or --master-key-file)"
    )]
    LegacyDirectory,
    /// The version named does not exist (for that key).
    #[error("no such version")]
    NoSuchVersion,
    /// A version id this store never issues.
    #[error("invalid version id")]
    InvalidVersionId,
    /// The version named, or the key's latest version, is a delete marker.
    #[error("delete marker")]
    DeleteMarker {
        /// The delete marker's version id.
        version_id: String,
    },
    /// A write or delete precondition (`If-Match`, `If-None-Match`) does not hold at commit.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The version is under a legal hold or an unexpired retention. Nothing was changed.
    #[error("object version is locked")]
    ObjectLocked,
    /// Object Lock is asked for in a bucket that does not have it.
    #[error("object lock is not enabled for this bucket")]
    ObjectLockNotEnabled,
    /// The bucket's state forbids the change (suspending versioning under Object Lock,
    /// enabling Object Lock without versioning, going back to unversioned).
    #[error("invalid bucket state")]
    InvalidBucketState,
    /// A backup cannot be made there (see [`Store::backup`](crate::Store::backup)).
    #[error("cannot back up: {what}")]
    BackupTarget {
        /// Why.
        what: &'static str,
    },
    /// A [`StoreConfig`](crate::StoreConfig) value is out of range.
    #[error("bad storage configuration: {what}")]
    BadConfig {
        /// Which setting, and the allowed range.
        what: &'static str,
    },
}

impl Error {
    /// Whether the data directory is in use: another process (a running server) holds its
    /// index file, which stays locked while it is open. Nothing was read or changed.
    #[must_use]
    pub fn is_in_use(&self) -> bool {
        matches!(
            self,
            Error::Index {
                source: redb::Error::DatabaseAlreadyOpen,
                ..
            }
        )
    }

    /// Whether the failure was a full disk or an exhausted quota, in a chunk write or an
    /// index commit, or a full in-memory store: nothing was stored, and the same write can
    /// succeed once space is freed.
    #[must_use]
    pub fn is_out_of_space(&self) -> bool {
        if let Error::MemoryFull { .. } = self {
            return true;
        }
        let (Error::Io { source: io, .. }
        | Error::Index {
            source: redb::Error::Io(io),
            ..
        }) = self
        else {
            return false;
        };
        matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    }

    /// `Io` with `action` as context; for `map_err`.
    pub(crate) fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io { action, source }
    }

    /// `Remote` with `action` as context; for `map_err` on a remote chunk store's calls.
    /// A write the shipping gate refused (`ship/gate.rs`) stays that refusal.
    pub(crate) fn remote(action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| match source
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::ship::Refused>())
        {
            Some(refused) => Error::NotWriter { why: refused.0 },
            None => Error::Remote { action, source },
        }
    }

    /// `Index` with `action` as context; for `map_err` on any redb error type.
    pub(crate) fn index<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> Error {
        move |source| Error::Index {
            action,
            source: source.into(),
        }
    }

    /// A blocking task panicked or was cancelled (only at runtime shutdown).
    pub(crate) fn join(source: tokio::task::JoinError) -> Error {
        Error::Io {
            action: "join blocking task",
            source: source.into(),
        }
    }
}

/// Result with the storage [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_apart_wherever_it_happens() {
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(Error::io("write chunk file")(full()).is_out_of_space());
        assert!(Error::index::<redb::Error>("commit")(redb::Error::Io(full())).is_out_of_space());
        let quota = std::io::Error::from(std::io::ErrorKind::QuotaExceeded);
        assert!(Error::io("write chunk file")(quota).is_out_of_space());
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!Error::io("write chunk file")(denied).is_out_of_space());
        assert!(!Error::NoSuchKey.is_out_of_space());
    }
}
