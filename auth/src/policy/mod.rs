//! AWS's JSON access policy language: identity policies attached to users and bucket
//! policies attached to buckets, parsed into a validated [`Policy`] and evaluated against one
//! request at a time.
//!
//! Pure: no storage, no I/O. Whoever stores policies calls [`Policy::parse`] once when a
//! policy is put (so the client learns at once what is wrong with it) and keeps the `Policy`.
//!
//! ```
//! use coffer_auth::policy::{Caller, ConditionContext, Effect, EvalRequest, Policy, PolicyKind};
//!
//! let policy = Policy::parse(
//!     r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
//!         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/home/${aws:username}/*"}}"#,
//!     PolicyKind::Identity,
//! )?;
//! let alice = Caller {
//!     account: "123456789012".into(),
//!     user_arn: "arn:aws:iam::123456789012:user/alice".into(),
//!     username: "alice".into(),
//!     userid: "AIDAALICE".into(),
//! };
//! let context = ConditionContext::new();
//! let request = EvalRequest {
//!     action: "s3:GetObject",
//!     resource: "arn:aws:s3:::photos/home/alice/cat.jpg",
//!     principal: &alice,
//!     context: &context,
//! };
//! assert_eq!(policy.evaluate(&request), Effect::Allow);
//! # Ok::<(), coffer_auth::policy::PolicyError>(())
//! ```
//!
//! # Design
//!
//! Everything the JSON can get wrong is caught by `parse`: numbers, dates and CIDRs in
//! conditions are converted there, so evaluation never fails, it only matches or not.
//! Bucket policies are also checked against the privacy invariant P2 at parse time: a policy
//! that could grant access to everyone is refused with [`PolicyError::Public`] rather than
//! stored and ignored, so an owner never believes a bucket is shared when it is not (or the
//! reverse).

mod cidr;
mod condition;
mod date;
mod duplicate_keys;
mod matching;
mod parse;
mod principal;
mod statement;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use statement::Statement;

/// What a policy is attached to; the grammar differs between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind<'a> {
    /// Attached to a user (IAM): no `Principal`; `s3:`, `iam:` and `sts:` actions.
    Identity,
    /// Attached to a bucket (S3): a `Principal` in every statement; only `s3:` actions, and
    /// only resources inside `bucket`.
    Bucket {
        /// The bucket the policy is attached to.
        bucket: &'a str,
    },
}

/// Why a policy document was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The document breaks the grammar (S3's MalformedPolicy, IAM's
    /// MalformedPolicyDocument). The message is the reason, worded like AWS's.
    #[error("{0}")]
    Malformed(String),
    /// The policy could grant access to everyone, which Coffer refuses (P2).
    #[error("{0}")]
    Public(&'static str),
    /// The document is over the size limit: 2048 characters excluding whitespace for an
    /// identity policy (AWS's inline user policy limit), 20 KiB for a bucket policy.
    #[error("the policy is larger than the size limit")]
    TooLarge,
}

/// The outcome of evaluating a policy against one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A statement allows the request and none denies it.
    Allow,
    /// A statement denies the request. Deny wins over any Allow.
    Deny,
    /// No statement applies to the request.
    NotApplicable,
}

/// One request, as the policy sees it.
#[derive(Clone, Copy, Debug)]
pub struct EvalRequest<'a> {
    /// The action, `service:Name`: `s3:GetObject`, `iam:CreateUser`, `sts:GetCallerIdentity`.
    pub action: &'a str,
    /// The resource's ARN: `arn:aws:s3:::photos/a.jpg`, `arn:aws:s3:::photos`,
    /// `arn:aws:iam::123456789012:user/alice`.
    pub resource: &'a str,
    /// Who asks: matched against bucket policies' `Principal`, and the source of
    /// `${aws:username}` and friends.
    pub principal: &'a Caller,
    /// The condition keys of the request (`aws:SourceIp`, `s3:prefix`, ...).
    pub context: &'a ConditionContext,
}

/// The identity making a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The 12-digit account id.
    pub account: String,
    /// `arn:aws:iam::<account>:user/<name>`, or `arn:aws:iam::<account>:root` for the
    /// account itself.
    pub user_arn: String,
    /// The user name (`${aws:username}`).
    pub username: String,
    /// The user's unique id (`${aws:userid}`).
    pub userid: String,
}

/// The condition keys of a request, each with one or more values. Keys are case-insensitive,
/// as in AWS.
#[derive(Clone, Debug, Default)]
pub struct ConditionContext {
    /// Keyed by the lower-cased key name.
    values: HashMap<String, Vec<String>>,
}

impl ConditionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to the single `value`, replacing any earlier values.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Sets the multi-valued `key` (for `ForAnyValue:` / `ForAllValues:`), replacing any
    /// earlier values. An empty set counts as absent for the `Null` operator.
    pub fn insert_many<I>(&mut self, key: &str, values: I)
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.values.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(Into::into).collect(),
        );
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.values.remove(&key.to_ascii_lowercase());
    }

    /// The values of `key` (case-insensitive), if present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// A parsed, validated policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses and validates `text` as a policy of the given kind.
    ///
    /// # Errors
    ///
    /// [`PolicyError::TooLarge`] over the size limit, [`PolicyError::Public`] for a bucket
    /// policy that could grant access to everyone, [`PolicyError::Malformed`] for anything
    /// else wrong, with the reason.
    pub fn parse(text: &str, kind: PolicyKind<'_>) -> Result<Policy, PolicyError> {
        Ok(Policy {
            statements: parse::statements(text, kind)?,
        })
    }

    /// Evaluates the policy against `req`: [`Effect::Deny`] if a Deny statement applies,
    /// else [`Effect::Allow`] if an Allow statement applies, else [`Effect::NotApplicable`].
    pub fn evaluate(&self, req: &EvalRequest<'_>) -> Effect {
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(req) {
                if statement.is_deny() {
                    return Effect::Deny;
                }
                allowed = true;
            }
        }
        if allowed {
            Effect::Allow
        } else {
            Effect::NotApplicable
        }
    }
}

/// The values of a condition key (or policy variable) for `req`.
///
/// The caller's own identity keys come from [`Caller`], never from the context, so a context
/// built carelessly from client input cannot impersonate another user.
fn request_values<'a>(req: &EvalRequest<'a>, key: &str) -> Option<&'a [String]> {
    let caller = req.principal;
    let from_caller = if key.eq_ignore_ascii_case("aws:username") {
        Some(&caller.username)
    } else if key.eq_ignore_ascii_case("aws:userid") {
        Some(&caller.userid)
    } else if key.eq_ignore_ascii_case("aws:PrincipalAccount") {
        Some(&caller.account)
    } else if key.eq_ignore_ascii_case("aws:PrincipalArn") {
        Some(&caller.user_arn)
    } else {
        None
    };
    match from_caller {
        Some(value) => Some(std::slice::from_ref(value)),
        None => req.context.get(key),
    }
}

/// The value of a policy variable: a key with exactly one value (AWS does not substitute
/// multi-valued keys).
fn variable_value<'a>(req: &EvalRequest<'a>, key: &str) -> Option<&'a str> {
    match request_values(req, key)? {
        [one] => Some(one.as_str()),
        _ => None,
    }
}
