//! P2: a bucket policy that could grant access to everyone is refused, whatever form the
//! grant takes; a Deny to everyone only restricts, so it is accepted and matches everyone.

use super::super::{ConditionContext, Effect, Policy, PolicyError};
use super::{ACCOUNT, BUCKET, OTHER_ACCOUNT, alice, bucket, doc, eval_as, user};

const FIELDS: &str = r#""Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#;

fn refusal(principal_field: &str) -> Result<Policy, PolicyError> {
    Policy::parse(
        &doc(&format!(
            r#"{{"Effect": "Allow", {principal_field}, {FIELDS}}}"#
        )),
        BUCKET,
    )
}

#[test]
fn p2_refuses_every_public_allow() {
    for principal_field in [
        r#""Principal": "*""#,
        r#""Principal": {"AWS": "*"}"#,
        r#""Principal": {"AWS": ["arn:aws:iam::123456789012:user/alice", "*"]}"#,
        r#""Principal": {"AWS": "arn:aws:iam::123456789012:user/*"}"#,
        r#""Principal": {"AWS": "arn:aws:iam::123456789012:user/al?ce"}"#,
        r#""Principal": {"AWS": "arn:aws:iam::*:root"}"#,
        r#""Principal": {"AWS": "12345678901?"}"#,
        r#""NotPrincipal": {"AWS": "arn:aws:iam::123456789012:user/mallory"}"#,
        r#""Principal": {"Service": "cloudfront.amazonaws.com"}"#,
        r#""Principal": {"Federated": "cognito-identity.amazonaws.com"}"#,
        r#""Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#,
        r#""Principal": {"AWS": "arn:aws:iam::123456789012:user/alice", "Service": "s3.amazonaws.com"}"#,
    ] {
        match refusal(principal_field) {
            Err(PolicyError::Public(message)) => {
                assert!(
                    message.contains("refuses any policy that could grant access to everyone"),
                    "{message}"
                );
            }
            other => panic!("{principal_field}: expected Public, got {other:?}"),
        }
    }
}

#[test]
fn p2_public_wins_over_other_mistakes() {
    // Even when the rest of the statement is also wrong, the owner hears about P2.
    let text =
        doc(r#"{"Effect": "Allow", "Principal": "*", "Action": "ec2:Run", "Resource": "*"}"#);
    assert!(matches!(
        Policy::parse(&text, BUCKET),
        Err(PolicyError::Public(_))
    ));
}

#[test]
fn p2_deny_to_everyone_is_accepted_and_matches_every_caller() {
    let context = ConditionContext::new();
    for principal in [r#""*""#, r#"{"AWS": "*"}"#] {
        let policy = bucket(&format!(
            r#"{{"Effect": "Deny", "Principal": {principal}, "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::photos/*"}},
               {{"Effect": "Allow", "Principal": {{"AWS": "{ACCOUNT}"}}, "Action": "s3:*",
                "Resource": "arn:aws:s3:::photos/*"}}"#
        ));
        for caller in [alice(), user(OTHER_ACCOUNT, "eve")] {
            let effect = eval_as(
                &policy,
                &caller,
                &context,
                "s3:DeleteObject",
                "arn:aws:s3:::photos/a",
            );
            assert_eq!(effect, Effect::Deny);
        }
        let effect = eval_as(
            &policy,
            &alice(),
            &context,
            "s3:GetObject",
            "arn:aws:s3:::photos/a",
        );
        assert_eq!(effect, Effect::Allow);
    }
}

#[test]
fn deny_may_use_wildcards_and_non_principal() {
    let policy = bucket(
        r#"{"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:user/temp-*"},
            "Action": "s3:*", "Resource": "arn:aws:s3:::photos/*"}"#,
    );
    let context = ConditionContext::new();
    let effect = eval_as(
        &policy,
        &user(ACCOUNT, "temp-7"),
        &context,
        "s3:GetObject",
        "arn:aws:s3:::photos/a",
    );
    assert_eq!(effect, Effect::Deny);
    let effect = eval_as(
        &policy,
        &alice(),
        &context,
        "s3:GetObject",
        "arn:aws:s3:::photos/a",
    );
    assert_eq!(effect, Effect::NotApplicable);
    // A Deny naming a principal type Coffer has no callers of could never apply: an error.
    let text = doc(
        r#"{"Effect": "Deny", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "s3:*",
            "Resource": "arn:aws:s3:::photos/*"}"#,
    );
    assert!(matches!(
        Policy::parse(&text, BUCKET),
        Err(PolicyError::Malformed(_))
    ));
}
