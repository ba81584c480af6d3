//! One audit record: who did what to which object, and how it ended.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// `time` as a record keeps it: milliseconds since the Unix epoch (0 before it, the most
/// for times past `u64`).
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Who signed a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The user's name (`root` for the root account).
    pub user: String,
    /// The access key id the request was signed with.
    pub access_key: String,
}

/// Which of a request's records this is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// How the request ended: status, error code, bytes, duration.
    #[default]
    Outcome,
    /// A change about to be made, written (and durable) before the change commits: who
    /// asks for what on which object. Status, bytes and duration are not known yet (0).
    /// Its outcome record follows with the same request id, unless the server died first.
    Intent,
}

/// A request, served or refused. Never a secret, a signature, a policy text or a body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// An intent or an outcome.
    pub phase: Phase,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The request id the server answered with.
    pub request_id: String,
    /// Who signed it; `None` for an anonymous (refused) request.
    pub caller: Option<Caller>,
    /// The client's address.
    pub source: String,
    /// The S3 operation or IAM action (`GetObject`, `iam:CreateUser`…).
    pub operation: String,
    /// The bucket, if the request named one.
    pub bucket: Option<String>,
    /// The object key, if the request named one.
    pub key: Option<String>,
    /// The version id, if the request named or made one.
    pub version_id: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The S3 error code, if it failed.
    pub error_code: Option<String>,
    /// Body bytes received.
    pub bytes_in: u64,
    /// Body bytes sent.
    pub bytes_out: u64,
    /// Time to the response, in microseconds.
    pub duration_us: u64,
}
