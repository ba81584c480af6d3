//! The access decision, for every S3, IAM and STS request: who (an [`Identity`]), what
//! (an action such as `s3:GetObject`), on which resource (an ARN), with default deny.
//!
//! As in AWS, an explicit Deny in any policy that applies wins; otherwise something must
//! allow. What allows follows ownership as between AWS accounts (each Coffer user is like
//! its own account, as Ceph RGW users are):
//!
//! - root may do everything (the clinic's break-glass account);
//! - a user has full control of the buckets it owns, with no policy at all;
//! - another user's bucket is reachable only when that bucket's policy allows it, or one of
//!   its ACL grants to that user covers the action (`acl.rs`), or — for reading an object
//!   or its ACL, or replacing its ACL — one of the object's ACL grants does; an identity
//!   policy alone is not enough;
//! - S3 requests that involve no existing bucket (ListBuckets, CreateBucket, or a bucket
//!   that does not exist, which the operation then reports) are allowed unless denied;
//! - IAM and STS actions need an identity policy that allows them.

use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::acl::UserGrant;
use crate::policy::{
    Caller, ConditionContext, Effect, EvalRequest, Policy, PolicyError, PolicyKind,
};
use crate::{Auth, Error, Identity};

/// What is known of a request beyond who sent it: the facts policy conditions test
/// (`aws:SourceIp`, `aws:SecureTransport`, `aws:CurrentTime`, `aws:EpochTime`).
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// The client's address, if known.
    pub source_ip: Option<IpAddr>,
    /// Whether it came over TLS.
    pub secure_transport: bool,
    /// When it arrived.
    pub now: SystemTime,
}

/// The bucket a request acts on, as stored.
#[derive(Clone, Copy, Debug)]
pub struct BucketFacts<'a> {
    /// Its owner's principal.
    pub owner: &'a str,
    /// Its bucket policy, if it has one.
    pub policy: Option<&'a Policy>,
    /// Its ACL grants to users other than the owner (empty for a private bucket).
    pub acl: &'a [UserGrant],
    /// The ACL grants of the object the request acts on, when the caller loaded them
    /// (empty otherwise). Only worth loading for actions where
    /// [`crate::acl::object_acl_applies`], after a [`DenyReason::NotOwner`] without them.
    pub object_acl: &'a [UserGrant],
}

/// One request to decide.
#[derive(Clone, Copy, Debug)]
pub struct AccessRequest<'a> {
    /// Who asks (from a verified, Active access key).
    pub identity: &'a Identity,
    /// The IAM action name: `s3:GetObject`, `iam:CreateUser`, `sts:GetCallerIdentity`…
    pub action: &'a str,
    /// The resource's ARN: `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/key`, `arn:aws:iam::…`.
    pub resource: &'a str,
    /// The existing bucket it acts on, if any.
    pub bucket: Option<BucketFacts<'a>>,
    /// Request-wide facts.
    pub facts: &'a RequestFacts,
    /// Service-specific condition keys (`s3:prefix`, `s3:x-amz-server-side-encryption`…);
    /// the `aws:` keys are added from `facts` and the identity.
    pub context: &'a ConditionContext,
}

/// Why a request was denied. The message contains no client input.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// The principal is not a known user (deleted since its key was checked).
    UnknownPrincipal,
    /// The bucket belongs to another user and neither its policy nor an ACL (the bucket's
    /// or, if given, the object's) allows this.
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
            DenyReason::NotOwner => {
                "Access Denied: the bucket belongs to another user and neither its policy nor an ACL allows this request"
            }
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

/// The outcome of [`Auth::authorize`].
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

impl Auth {
    /// Decides `req` under the rules above.
    pub fn authorize(&self, req: &AccessRequest<'_>) -> Decision {
        if req.identity.is_root {
            return Decision::Allow;
        }
        let dir = self.directory();
        let Some(identity_policies) = dir.policies_of(&req.identity.principal) else {
            return Decision::Deny(DenyReason::UnknownPrincipal);
        };
        let caller = Caller {
            account: req.identity.account.clone(),
            user_arn: req.identity.arn.clone(),
            username: req.identity.name.clone(),
            userid: req.identity.principal.clone(),
        };
        let context = with_global_keys(req.context, req.facts);
        let eval = EvalRequest {
            action: req.action,
            resource: req.resource,
            principal: &caller,
            context: &context,
        };
        let from_identity = identity_policies
            .iter()
            .map(|p| p.as_ref().map_or(Effect::Deny, |p| p.evaluate(&eval)))
            .fold(Effect::NotApplicable, combine);
        let from_bucket = req
            .bucket
            .and_then(|b| b.policy)
            .map_or(Effect::NotApplicable, |p| p.evaluate(&eval));
        if from_identity == Effect::Deny || from_bucket == Effect::Deny {
            return Decision::Deny(DenyReason::ExplicitDeny);
        }
        match req.bucket {
            Some(bucket) if bucket.owner == req.identity.principal => Decision::Allow,
            Some(_) if from_bucket == Effect::Allow => Decision::Allow,
            Some(bucket)
                if bucket
                    .acl
                    .iter()
                    .any(|g| g.principal == req.identity.principal && g.covers(req.action)) =>
            {
                Decision::Allow
            }
            Some(bucket)
                if bucket.object_acl.iter().any(|g| {
                    g.principal == req.identity.principal && g.covers_object(req.action)
                }) =>
            {
                Decision::Allow
            }
            Some(_) => Decision::Deny(DenyReason::NotOwner),
            None if req.action.starts_with("s3:") => Decision::Allow,
            None if from_identity == Effect::Allow => Decision::Allow,
            None => Decision::Deny(DenyReason::NoAllow),
        }
    }

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
        self.authorize(&AccessRequest {
            identity,
            action,
            resource,
            bucket: None,
            facts,
            context: &ConditionContext::new(),
        })
    }
}

/// Deny over Allow over nothing.
fn combine(a: Effect, b: Effect) -> Effect {
    match (a, b) {
        (Effect::Deny, _) | (_, Effect::Deny) => Effect::Deny,
        (Effect::Allow, _) | (_, Effect::Allow) => Effect::Allow,
        _ => Effect::NotApplicable,
    }
}

/// `context` plus the `aws:` keys every request has. The identity's own keys
/// (`aws:username`…) come from the [`Caller`], so a request cannot pose as another user.
fn with_global_keys(context: &ConditionContext, facts: &RequestFacts) -> ConditionContext {
    let mut all = context.clone();
    if let Some(ip) = facts.source_ip {
        all.insert("aws:SourceIp", ip.to_string());
    }
    all.insert("aws:SecureTransport", facts.secure_transport.to_string());
    let epoch = facts
        .now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    all.insert("aws:EpochTime", epoch.to_string());
    all.insert("aws:CurrentTime", iso8601(epoch));
    all
}

/// `2026-11-30T08:00:00Z` for seconds since the epoch (civil-from-days, proleptic Gregorian).
fn iso8601(epoch: u64) -> String {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    // Howard Hinnant's days-to-civil algorithm, on unsigned values (dates after 1970).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses an identity policy's text, with IAM's errors.
pub(crate) fn parse_identity_policy(text: &str) -> Result<Policy, Error> {
    Policy::parse(text, PolicyKind::Identity).map_err(|e| match e {
        PolicyError::TooLarge => {
            Error::LimitExceeded("Maximum policy size of 2048 bytes exceeded for user")
        }
        other => Error::MalformedPolicy(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_time_is_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_796_025_600), "2026-11-30T08:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
