//! Evaluation: wildcards in actions and resources, policy variables, deny over allow, and
//! the negated elements NotAction, NotResource and NotPrincipal.

use super::super::{ConditionContext, Effect, Policy, PolicyKind};
use super::{ACCOUNT, OTHER_ACCOUNT, alice, bucket, eval, eval_as, identity, user};

#[test]
fn actions_match_case_insensitively_resources_case_sensitively() {
    let policy = identity(
        r#"{"Effect": "Allow", "Action": ["s3:get*", "S3:List?ucket"], "Resource": "arn:aws:s3:::Photos/*"}"#,
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::Photos/a"),
        Effect::Allow
    );
    assert_eq!(
        eval(&policy, "S3:GETOBJECTTAGGING", "arn:aws:s3:::Photos/a"),
        Effect::Allow
    );
    assert_eq!(
        eval(&policy, "s3:ListBucket", "arn:aws:s3:::Photos/a"),
        Effect::Allow
    );
    assert_eq!(
        eval(&policy, "s3:ListBuckets", "arn:aws:s3:::Photos/a"),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&policy, "s3:PutObject", "arn:aws:s3:::Photos/a"),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::photos/a"),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&policy, "iam:GetUser", "arn:aws:s3:::Photos/a"),
        Effect::NotApplicable
    );
}

#[test]
fn star_action_and_resource_cover_every_service() {
    let policy = identity(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#);
    assert_eq!(
        eval(
            &policy,
            "iam:CreateUser",
            "arn:aws:iam::123456789012:user/bob"
        ),
        Effect::Allow
    );
    assert_eq!(eval(&policy, "sts:GetCallerIdentity", "*"), Effect::Allow);
    let iam_self = identity(
        r#"{"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "arn:aws:iam::*:user/${aws:username}"}"#,
    );
    let alice_arn = "arn:aws:iam::123456789012:user/alice";
    assert_eq!(
        eval(&iam_self, "iam:CreateAccessKey", alice_arn),
        Effect::Allow
    );
    assert_eq!(
        eval(
            &iam_self,
            "iam:CreateAccessKey",
            "arn:aws:iam::123456789012:user/bob"
        ),
        Effect::NotApplicable
    );
}

#[test]
fn variables_are_substituted_in_2012_only() {
    let statement = r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::photos/home/${aws:username}/*"}"#;
    let policy = identity(statement);
    assert_eq!(
        eval(
            &policy,
            "s3:PutObject",
            "arn:aws:s3:::photos/home/alice/x.jpg"
        ),
        Effect::Allow
    );
    assert_eq!(
        eval(
            &policy,
            "s3:PutObject",
            "arn:aws:s3:::photos/home/bob/x.jpg"
        ),
        Effect::NotApplicable
    );
    let legacy = Policy::parse(
        &format!(r#"{{"Version": "2008-10-17", "Statement": {statement}}}"#),
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(
        eval(
            &legacy,
            "s3:PutObject",
            "arn:aws:s3:::photos/home/alice/x.jpg"
        ),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(
            &legacy,
            "s3:PutObject",
            "arn:aws:s3:::photos/home/${aws:username}/x.jpg"
        ),
        Effect::Allow
    );
    let no_version = Policy::parse(
        &format!(r#"{{"Statement": {statement}}}"#),
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(
        eval(
            &no_version,
            "s3:PutObject",
            "arn:aws:s3:::photos/home/alice/x.jpg"
        ),
        Effect::NotApplicable
    );
}

#[test]
fn variables_from_caller_and_context() {
    let policy = identity(
        r#"{"Effect": "Allow", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::ids/${aws:userid}", "arn:aws:s3:::acct/${aws:PrincipalAccount}",
                         "arn:aws:s3:::ctx/${s3:prefix}"]}"#,
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::ids/AIDAALICE"),
        Effect::Allow
    );
    assert_eq!(
        eval(
            &policy,
            "s3:GetObject",
            &format!("arn:aws:s3:::acct/{ACCOUNT}")
        ),
        Effect::Allow
    );
    let mut context = ConditionContext::new();
    context.insert("s3:prefix", "reports");
    assert_eq!(
        eval_as(
            &policy,
            &alice(),
            &context,
            "s3:GetObject",
            "arn:aws:s3:::ctx/reports"
        ),
        Effect::Allow
    );
    // An unknown variable makes its resource match nothing, not everything.
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::ctx/"),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::ctx/${s3:prefix}"),
        Effect::NotApplicable
    );
}

#[test]
fn variables_in_condition_values() {
    let policy = identity(
        r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos",
            "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "${*}"]}}}"#,
    );
    let list = |prefix: &str| {
        let mut context = ConditionContext::new();
        context.insert("s3:prefix", prefix);
        eval_as(
            &policy,
            &alice(),
            &context,
            "s3:ListBucket",
            "arn:aws:s3:::photos",
        )
    };
    assert_eq!(list("home/alice/2026/"), Effect::Allow);
    assert_eq!(list("*"), Effect::Allow, "the star escape is literal");
    assert_eq!(list("home/bob/"), Effect::NotApplicable);
    assert_eq!(list("x"), Effect::NotApplicable);
}

#[test]
fn unknown_variable_never_widens_a_negated_allow() {
    let policy = identity(
        r#"{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::vault/${s3:prefix}/*"}"#,
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::vault/x/y"),
        Effect::NotApplicable
    );
    let policy = identity(
        r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:SourceVpc": "${aws:SourceVpce}"}}}"#,
    );
    let mut context = ConditionContext::new();
    context.insert("aws:SourceVpc", "vpc-1");
    assert_eq!(
        eval_as(
            &policy,
            &alice(),
            &context,
            "s3:GetObject",
            "arn:aws:s3:::a/b"
        ),
        Effect::NotApplicable
    );
}

#[test]
fn deny_wins_over_allow_in_any_order() {
    let allow = r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::photos/*"}"#;
    let deny =
        r#"{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::photos/*"}"#;
    for order in [format!("{allow}, {deny}"), format!("{deny}, {allow}")] {
        let policy = identity(&order);
        assert_eq!(
            eval(&policy, "s3:DeleteObject", "arn:aws:s3:::photos/a"),
            Effect::Deny
        );
        assert_eq!(
            eval(&policy, "s3:GetObject", "arn:aws:s3:::photos/a"),
            Effect::Allow
        );
        assert_eq!(
            eval(&policy, "s3:GetObject", "arn:aws:s3:::scans/a"),
            Effect::NotApplicable
        );
    }
}

#[test]
fn not_action_and_not_resource() {
    let policy = identity(
        r#"{"Effect": "Allow", "NotAction": ["s3:Delete*", "iam:*"], "NotResource": "arn:aws:s3:::photos/private/*"}"#,
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::photos/a"),
        Effect::Allow
    );
    assert_eq!(
        eval(&policy, "s3:DeleteObject", "arn:aws:s3:::photos/a"),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(
            &policy,
            "iam:CreateUser",
            "arn:aws:iam::123456789012:user/x"
        ),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&policy, "s3:GetObject", "arn:aws:s3:::photos/private/a"),
        Effect::NotApplicable
    );
}

#[test]
fn principals_in_bucket_policies() {
    let policy = bucket(&format!(
        r#"{{"Effect": "Allow", "Principal": {{"AWS": ["arn:aws:iam::{ACCOUNT}:user/alice", "{OTHER_ACCOUNT}"]}},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}}"#
    ));
    let context = ConditionContext::new();
    let get = |caller| {
        eval_as(
            &policy,
            &caller,
            &context,
            "s3:GetObject",
            "arn:aws:s3:::photos/a",
        )
    };
    assert_eq!(get(alice()), Effect::Allow);
    assert_eq!(get(user(ACCOUNT, "bob")), Effect::NotApplicable);
    assert_eq!(
        get(user(OTHER_ACCOUNT, "carol")),
        Effect::Allow,
        "an account id names all its users"
    );
    let root = bucket(&format!(
        r#"{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:root"}},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}}"#
    ));
    let get = |caller| {
        eval_as(
            &root,
            &caller,
            &context,
            "s3:GetObject",
            "arn:aws:s3:::photos/a",
        )
    };
    assert_eq!(get(user(ACCOUNT, "bob")), Effect::Allow);
    assert_eq!(get(user(OTHER_ACCOUNT, "bob")), Effect::NotApplicable);
}

#[test]
fn not_principal_in_a_deny_spares_only_those_named() {
    let policy = bucket(&format!(
        r#"{{"Effect": "Deny", "NotPrincipal": {{"AWS": "arn:aws:iam::{ACCOUNT}:user/alice"}},
             "Action": "s3:*", "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]}},
           {{"Effect": "Allow", "Principal": {{"AWS": "{ACCOUNT}"}},
             "Action": "s3:*", "Resource": "arn:aws:s3:::photos/*"}}"#
    ));
    let context = ConditionContext::new();
    let get = |caller| {
        eval_as(
            &policy,
            &caller,
            &context,
            "s3:GetObject",
            "arn:aws:s3:::photos/a",
        )
    };
    assert_eq!(get(alice()), Effect::Allow);
    assert_eq!(get(user(ACCOUNT, "bob")), Effect::Deny);
    assert_eq!(get(user(OTHER_ACCOUNT, "alice")), Effect::Deny);
}
