//! The access decision: may this principal do this to this bucket?

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::{Auth, Identity};

/// What is known of a request beyond who sent it: the facts policy conditions test
/// (`aws:SourceIp`, `aws:SecureTransport`, `aws:CurrentTime`).
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// The client's address, if known.
    pub source_ip: Option<IpAddr>,
    /// Whether it came over TLS.
    pub secure_transport: bool,
    /// When it arrived.
    pub now: SystemTime,
}

impl Auth {
    /// May `identity` perform the IAM or STS `action` (e.g. `iam:CreateUser`) on `resource`
    /// (e.g. `arn:aws:iam::<account>:user/alice`)? Root may; a user may when an identity
    /// policy allows it and none denies it.
    pub fn authorize_admin(
        &self,
        identity: &Identity,
        action: &str,
        resource: &str,
        facts: &RequestFacts,
    ) -> Decision {
        let _ = (action, resource, facts);
        if identity.is_root {
            Decision::Allow
        } else {
            Decision::Deny(DenyReason::NoAllow)
        }
    }
}

/// What a request wants to do, in the terms the decision needs (no S3 types).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// List the caller's buckets.
    ListBuckets,
    /// Create a bucket.
    CreateBucket,
    /// Delete a bucket.
    DeleteBucket,
    /// Read a bucket: existence, listing, location, configuration.
    ReadBucket,
    /// Change a bucket's configuration (tagging, versioning, ...).
    ConfigureBucket,
    /// Read an object or its metadata (including as a copy source).
    ReadObject,
    /// Write an object: put, copy, multipart.
    WriteObject,
    /// Delete an object or abort an upload.
    DeleteObject,
}

/// Why a request was denied. The message contains no client input.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// The principal is not a known user.
    UnknownPrincipal,
    /// The bucket belongs to another user.
    NotOwner,
    /// No policy allows it.
    NoAllow,
    /// A policy denies it.
    ExplicitDeny,
}

impl DenyReason {
    /// A message safe to send to the client.
    pub fn message(self) -> &'static str {
        match self {
            DenyReason::UnknownPrincipal => "Access Denied",
            DenyReason::NotOwner => "the bucket belongs to another user",
            DenyReason::NoAllow => "Access Denied: no policy allows this request",
            DenyReason::ExplicitDeny => "Access Denied: a policy explicitly denies this request",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The outcome of [`Auth::decide`](crate::Auth::decide).
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refuse, for this reason.
    Deny(DenyReason),
}

impl Decision {
    /// `true` for [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// The rule, apart from the user table: `is_root` is whether the principal is the root user.
///
/// - root may do everything (it stays in charge of buckets created under an earlier root
///   access key, see [`Auth::open`](crate::Auth::open));
/// - any other user may act only on buckets it owns, or on no bucket (create, list);
pub(crate) fn rule(
    principal: &str,
    is_root: bool,
    _action: Action,
    bucket_owner: Option<&str>,
) -> Decision {
    if is_root {
        return Decision::Allow;
    }
    match bucket_owner {
        Some(owner) if owner != principal => Decision::Deny(DenyReason::NotOwner),
        _ => Decision::Allow,
    }
}

/// Checks an identity policy's text. (Replaced by the policy parser when it lands.)
#[allow(
    clippy::unnecessary_wraps,
    reason = "the policy parser replacing this stub returns MalformedPolicy"
)]
pub(crate) fn parse_identity_policy(_text: &str) -> Result<(), crate::Error> {
    Ok(())
}
