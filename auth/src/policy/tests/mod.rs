//! Tests for the policy language: the grammar (each Malformed reason), the P2 refusals,
//! wildcard matching, every condition operator family, policy variables, evaluation order,
//! and a few policies a clinic would really write.

mod clinic;
mod conditions;
mod evaluation;
mod grammar;
mod public;
mod values;

use super::{Caller, ConditionContext, Effect, EvalRequest, Policy, PolicyError, PolicyKind};

pub(super) const ACCOUNT: &str = "123456789012";
pub(super) const OTHER_ACCOUNT: &str = "210987654321";
pub(super) const BUCKET: PolicyKind<'static> = PolicyKind::Bucket { bucket: "photos" };

pub(super) fn user(account: &str, name: &str) -> Caller {
    Caller {
        account: account.to_owned(),
        user_arn: format!("arn:aws:iam::{account}:user/{name}"),
        username: name.to_owned(),
        userid: format!("AIDA{}", name.to_ascii_uppercase()),
    }
}

pub(super) fn alice() -> Caller {
    user(ACCOUNT, "alice")
}

/// A 2012-10-17 document holding the given statements (a JSON array's inside).
pub(super) fn doc(statements: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#)
}

pub(super) fn identity(statements: &str) -> Policy {
    Policy::parse(&doc(statements), PolicyKind::Identity).expect("identity policy parses")
}

pub(super) fn bucket(statements: &str) -> Policy {
    Policy::parse(&doc(statements), BUCKET).expect("bucket policy parses")
}

/// The Malformed reason for a whole document.
pub(super) fn malformed(text: &str, kind: PolicyKind<'_>) -> String {
    match Policy::parse(text, kind) {
        Err(PolicyError::Malformed(reason)) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

pub(super) fn eval(policy: &Policy, action: &str, resource: &str) -> Effect {
    eval_as(policy, &alice(), &ConditionContext::new(), action, resource)
}

pub(super) fn eval_as(
    policy: &Policy,
    caller: &Caller,
    context: &ConditionContext,
    action: &str,
    resource: &str,
) -> Effect {
    policy.evaluate(&EvalRequest {
        action,
        resource,
        principal: caller,
        context,
    })
}
