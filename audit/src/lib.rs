//! Coffer's audit trail: a sealed, hash-chained, append-only record of every request.
//!
//! Records go to segment files under `<data>/audit/` (`segment-<n>.audit`). Each is sealed
//! with AES-256-GCM-SIV under a key derived from the trail's 32-byte key (bucket names,
//! object keys and user names are personal data, P3), and each carries the chain hash of
//! the record before it: `chain(n) = BLAKE3-keyed(chain key, chain(n-1) ‖ n ‖ sealed(n))`.
//! The sequence number is in clear beside the sealed bytes and bound to them as associated
//! data, so [`verify`] names the first record that was altered, removed, reordered or
//! inserted by its segment and position. Truncating the newest records leaves a valid
//! shorter trail; a [`Checkpoint`] kept elsewhere (the server logs one every minute) catches
//! that: `verify` checks the trail still reaches it.
//!
//! Every [`AuditLog::open`] starts a segment, as does every 64 MiB, and
//! [`AuditLog::expire`] removes the oldest segments whole once all their records are older
//! than a cutoff. It first writes an anchor ([`ANCHOR_FILE`], sealed under its own derived
//! key) naming the segment the trail now starts with; `verify` refuses a trail that does not
//! start at sequence 1 unless that anchor opens and matches, so removing the oldest segments
//! any other way is found.
//!
//! ```text
//! segment file = header ‖ frame*
//! header       = "CAUD" ‖ format (1) ‖ first sequence (u64 LE) ‖ chain before it (32)
//! frame        = length of sealed (u32 LE) ‖ sequence (u64 LE) ‖ sealed entry
//! entry        = postcard { previous chain, record }
//! ```
//!
//! The trail's key is the caller's to keep (the server keeps it as a sealed record of the
//! index, so master-key rotation rewraps it and nothing on the data disk opens it).

mod anchor;
mod format;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod reader;
mod record;
mod retention;
mod scan;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_retention;
mod timeline;
mod writer;

pub use anchor::ANCHOR_FILE;
pub use format::{Checkpoint, SEGMENT_PREFIX, SEGMENT_SUFFIX};
pub use keys::AuditKey;
pub use reader::{Expired, Filter, Reader, VerifyReport, verify};
pub use record::{Caller, Phase, Record, unix_ms};
pub use retention::ExpireReport;
pub use timeline::Timeline;
pub use writer::AuditLog;

/// Everything that can go wrong with the trail.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// A file-system operation failed.
    #[error("i/o error: {action}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The trail was changed: a record is altered, missing, out of order or inserted at
    /// this place (counting records from 0 within the segment).
    #[error(
        "audit trail broken at segment {segment}, record {position} (sequence {sequence}): {what}"
    )]
    Tampered {
        /// The segment number.
        segment: u64,
        /// The record's position within the segment, from 0.
        position: u64,
        /// The sequence number expected there.
        sequence: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The trail ends before a checkpoint taken earlier: newer records were cut off.
    #[error(
        "audit trail does not reach the checkpoint at sequence {sequence}: records were removed from its end"
    )]
    Truncated {
        /// The checkpoint's sequence number.
        sequence: u64,
    },
    /// The oldest segment does not start at sequence 1, and no anchor says the records
    /// before it expired: they were removed by hand.
    #[error(
        "audit trail broken at segment {segment}: records removed from the start of the trail (it starts at sequence {first}, and no anchor says the records before it expired)"
    )]
    StartRemoved {
        /// The oldest segment present.
        segment: u64,
        /// Its first sequence number.
        first: u64,
    },
    /// The anchor names a segment older than the oldest present: segments were removed
    /// after expiry wrote it (or an old anchor was put back).
    #[error(
        "audit trail broken at segment {segment}: records removed from the start of the trail (it starts at sequence {first}, but the anchor says only the records before sequence {anchored} expired)"
    )]
    StaleAnchor {
        /// The oldest segment present.
        segment: u64,
        /// Its first sequence number.
        first: u64,
        /// The first sequence number the anchor names.
        anchored: u64,
    },
    /// The anchor expiry left is not valid for this trail.
    #[error("audit anchor rejected: {what}")]
    BadAnchor {
        /// What is wrong.
        what: &'static str,
    },
    /// A checkpoint points before the trail's first record: the records it covers expired,
    /// so it cannot be checked.
    #[error(
        "the checkpoint at sequence {sequence} cannot be checked: the trail now starts at sequence {first}, the records before it expired"
    )]
    CheckpointExpired {
        /// The checkpoint's sequence number.
        sequence: u64,
        /// The trail's first sequence number.
        first: u64,
    },
    /// A checkpoint's text does not parse.
    #[error("not an audit checkpoint (expected coffer-audit:<sequence>:<chain hex>)")]
    BadCheckpoint,
    /// The trail has no sequence or segment number left after the newest one on disk. An
    /// honest trail never gets near 2^64 records or segments: its headers or file names
    /// were altered.
    #[error("audit trail has no {what} number left: its headers or file names were altered")]
    OutOfNumbers {
        /// `sequence` or `segment`.
        what: &'static str,
    },
    /// A record could not be encoded (never for records this crate builds).
    #[error("audit record could not be encoded")]
    Encode,
}

/// Result with the audit [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io { action, source }
    }
}
