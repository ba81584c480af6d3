//! Each condition operator family, the IfExists suffix, the set prefixes and Null.

use super::super::{Caller, ConditionContext, Effect, Policy};
use super::{alice, eval_as, identity};

/// An Allow of everything under `condition`.
fn allow_if(condition: &str) -> Policy {
    identity(&format!(
        r#"{{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {condition}}}"#
    ))
}

fn holds_for(policy: &Policy, caller: &Caller, context: &ConditionContext) -> bool {
    eval_as(
        policy,
        caller,
        context,
        "s3:GetObject",
        "arn:aws:s3:::photos/a",
    ) == Effect::Allow
}

fn holds(policy: &Policy, context: &ConditionContext) -> bool {
    holds_for(policy, &alice(), context)
}

fn with(key: &str, value: &str) -> ConditionContext {
    let mut context = ConditionContext::new();
    context.insert(key, value);
    context
}

fn with_many(key: &str, values: &[&str]) -> ConditionContext {
    let mut context = ConditionContext::new();
    context.insert_many(key, values.iter().copied());
    context
}

fn none() -> ConditionContext {
    ConditionContext::new()
}

#[test]
fn string_operators() {
    let equals = allow_if(r#"{"StringEquals": {"s3:prefix": ["a/", "b/"]}}"#);
    assert!(holds(&equals, &with("s3:prefix", "b/")));
    assert!(
        holds(&equals, &with("S3:Prefix", "a/")),
        "keys are case-insensitive"
    );
    assert!(!holds(&equals, &with("s3:prefix", "A/")));
    assert!(!holds(&equals, &with("s3:prefix", "c/")));
    assert!(!holds(&equals, &none()));

    let not_equals = allow_if(r#"{"StringNotEquals": {"s3:prefix": ["a/", "b/"]}}"#);
    assert!(holds(&not_equals, &with("s3:prefix", "c/")));
    assert!(!holds(&not_equals, &with("s3:prefix", "a/")));
    assert!(
        !holds(&not_equals, &none()),
        "an absent key fails negated operators too"
    );

    let ignore_case = allow_if(r#"{"StringEqualsIgnoreCase": {"s3:prefix": "Patients/"}}"#);
    assert!(holds(&ignore_case, &with("s3:prefix", "PATIENTS/")));
    let not_ignore_case = allow_if(r#"{"StringNotEqualsIgnoreCase": {"s3:prefix": "Patients/"}}"#);
    assert!(!holds(&not_ignore_case, &with("s3:prefix", "patients/")));
    assert!(holds(&not_ignore_case, &with("s3:prefix", "staff/")));

    let literal = allow_if(r#"{"StringEquals": {"s3:prefix": "a*"}}"#);
    assert!(holds(&literal, &with("s3:prefix", "a*")));
    assert!(
        !holds(&literal, &with("s3:prefix", "ab")),
        "StringEquals has no wildcards"
    );

    let like = allow_if(r#"{"StringLike": {"s3:prefix": ["patients/00??/*", "staff/*"]}}"#);
    assert!(holds(&like, &with("s3:prefix", "patients/0042/x")));
    assert!(!holds(&like, &with("s3:prefix", "patients/042/x")));
    let not_like = allow_if(r#"{"StringNotLike": {"s3:prefix": "private/*"}}"#);
    assert!(holds(&not_like, &with("s3:prefix", "public/x")));
    assert!(!holds(&not_like, &with("s3:prefix", "private/x")));
}

#[test]
fn numeric_operators() {
    let at_most = allow_if(r#"{"NumericLessThanEquals": {"s3:max-keys": "100"}}"#);
    assert!(holds(&at_most, &with("s3:max-keys", "100")));
    assert!(holds(&at_most, &with("s3:max-keys", "7.5")));
    assert!(!holds(&at_most, &with("s3:max-keys", "101")));
    assert!(!holds(&at_most, &with("s3:max-keys", "many")));
    let cases = [
        ("NumericEquals", "10", true, "11", false),
        ("NumericNotEquals", "11", true, "10", false),
        ("NumericLessThan", "9", true, "10", false),
        ("NumericGreaterThan", "11", true, "10", false),
        ("NumericGreaterThanEquals", "10", true, "9", false),
    ];
    for (operator, yes, _, no, _) in cases {
        // JSON numbers are accepted as values, as AWS accepts them.
        let policy = allow_if(&format!(r#"{{"{operator}": {{"s3:max-keys": 10}}}}"#));
        assert!(
            holds(&policy, &with("s3:max-keys", yes)),
            "{operator} {yes}"
        );
        assert!(!holds(&policy, &with("s3:max-keys", no)), "{operator} {no}");
    }
}

#[test]
fn date_operators() {
    let before = allow_if(r#"{"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}"#);
    assert!(holds(
        &before,
        &with("aws:CurrentTime", "2025-12-31T23:59:59Z")
    ));
    assert!(holds(
        &before,
        &with("aws:CurrentTime", "2026-01-01T00:59:59+01:00")
    ));
    assert!(!holds(
        &before,
        &with("aws:CurrentTime", "2026-01-01T00:00:00Z")
    ));
    assert!(!holds(&before, &with("aws:CurrentTime", "soon")));
    let cases = [
        ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"),
        ("DateNotEquals", "2026-01-01T00:00:01Z", "1767225600"),
        ("DateLessThanEquals", "1767225600", "2026-01-01T00:00:00.5Z"),
        (
            "DateGreaterThan",
            "2026-06-01T00:00:00Z",
            "2025-06-01T00:00:00Z",
        ),
        (
            "DateGreaterThanEquals",
            "2026-01-01T00:00:00Z",
            "2025-12-31T23:59:59.999Z",
        ),
    ];
    for (operator, yes, no) in cases {
        // Epoch seconds as the policy value.
        let policy = allow_if(&format!(
            r#"{{"{operator}": {{"aws:EpochTime": "1767225600"}}}}"#
        ));
        assert!(
            holds(&policy, &with("aws:EpochTime", yes)),
            "{operator} {yes}"
        );
        assert!(
            !holds(&policy, &with("aws:EpochTime", no)),
            "{operator} {no}"
        );
    }
}

#[test]
fn bool_operator() {
    for value in ["true", r#""true""#, r#""TRUE""#] {
        let policy = allow_if(&format!(
            r#"{{"Bool": {{"aws:SecureTransport": {value}}}}}"#
        ));
        assert!(holds(&policy, &with("aws:SecureTransport", "true")));
        assert!(!holds(&policy, &with("aws:SecureTransport", "false")));
        assert!(!holds(&policy, &with("aws:SecureTransport", "maybe")));
        assert!(!holds(&policy, &none()));
    }
}

#[test]
fn ip_operators() {
    let inside = allow_if(
        r#"{"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8:1::/48", "198.51.100.7"]}}"#,
    );
    for ip in [
        "192.0.2.200",
        "2001:db8:1:2::9",
        "198.51.100.7",
        "::ffff:192.0.2.1",
    ] {
        assert!(holds(&inside, &with("aws:SourceIp", ip)), "{ip}");
    }
    for ip in ["192.0.3.1", "2001:db8:2::1", "198.51.100.8", "not-an-ip"] {
        assert!(!holds(&inside, &with("aws:SourceIp", ip)), "{ip}");
    }
    let outside = allow_if(r#"{"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "fd00::/8"]}}"#);
    assert!(holds(&outside, &with("aws:SourceIp", "192.0.2.1")));
    assert!(!holds(&outside, &with("aws:SourceIp", "10.1.2.3")));
    assert!(!holds(&outside, &with("aws:SourceIp", "fd12::1")));
}

#[test]
fn arn_operators() {
    let like = allow_if(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:iam::*:user/clinic-*"}}"#);
    assert!(holds(
        &like,
        &with("aws:SourceArn", "arn:aws:iam::123456789012:user/clinic-cam")
    ));
    assert!(!holds(
        &like,
        &with("aws:SourceArn", "arn:aws:iam::123456789012:user/alice")
    ));
    // Components are matched one by one: the account wildcard cannot swallow a colon.
    assert!(!holds(
        &like,
        &with("aws:SourceArn", "arn:aws:iam::1:2:user/clinic-x")
    ));
    let equals = allow_if(r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::photos"}}"#);
    assert!(holds(
        &equals,
        &with("aws:SourceArn", "arn:aws:s3:::photos")
    ));
    assert!(!holds(
        &equals,
        &with("aws:SourceArn", "arn:aws:s3:::photos2")
    ));
    for operator in ["ArnNotEquals", "ArnNotLike"] {
        let policy = allow_if(&format!(
            r#"{{"{operator}": {{"aws:SourceArn": "arn:aws:s3:::photos*"}}}}"#
        ));
        assert!(
            holds(&policy, &with("aws:SourceArn", "arn:aws:s3:::scans")),
            "{operator}"
        );
        assert!(
            !holds(&policy, &with("aws:SourceArn", "arn:aws:s3:::photos-old")),
            "{operator}"
        );
    }
}

#[test]
fn if_exists_holds_when_the_key_is_absent() {
    let policy = allow_if(r#"{"StringEqualsIfExists": {"s3:prefix": "a/"}}"#);
    assert!(holds(&policy, &none()));
    assert!(holds(&policy, &with("s3:prefix", "a/")));
    assert!(!holds(&policy, &with("s3:prefix", "b/")));
    let policy = allow_if(r#"{"NotIpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}"#);
    assert!(holds(&policy, &none()));
    assert!(!holds(&policy, &with("aws:SourceIp", "10.0.0.1")));
}

#[test]
fn null_tests_presence() {
    let absent = allow_if(r#"{"Null": {"s3:x-amz-server-side-encryption": "true"}}"#);
    assert!(holds(&absent, &none()));
    assert!(holds(
        &absent,
        &with_many("s3:x-amz-server-side-encryption", &[])
    ));
    assert!(!holds(
        &absent,
        &with("s3:x-amz-server-side-encryption", "AES256")
    ));
    let present = allow_if(r#"{"Null": {"s3:x-amz-server-side-encryption": false}}"#);
    assert!(!holds(&present, &none()));
    assert!(holds(
        &present,
        &with("s3:x-amz-server-side-encryption", "AES256")
    ));
}

#[test]
fn for_any_value() {
    let policy = allow_if(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["ward", "doctor"]}}"#);
    assert!(holds(
        &policy,
        &with_many("aws:TagKeys", &["colour", "ward"])
    ));
    assert!(!holds(&policy, &with_many("aws:TagKeys", &["colour"])));
    assert!(!holds(&policy, &none()));
    let negated = allow_if(r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["ward"]}}"#);
    assert!(holds(
        &negated,
        &with_many("aws:TagKeys", &["ward", "colour"])
    ));
    assert!(!holds(&negated, &with_many("aws:TagKeys", &["ward"])));
}

#[test]
fn for_all_values() {
    let policy = allow_if(r#"{"ForAllValues:StringLike": {"aws:TagKeys": ["ward", "dr-*"]}}"#);
    assert!(holds(
        &policy,
        &with_many("aws:TagKeys", &["ward", "dr-lee"])
    ));
    assert!(!holds(
        &policy,
        &with_many("aws:TagKeys", &["ward", "colour"])
    ));
    assert!(
        holds(&policy, &none()),
        "AWS: ForAllValues holds over no values"
    );
    let negated = allow_if(r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}"#);
    assert!(holds(
        &negated,
        &with_many("aws:TagKeys", &["ward", "colour"])
    ));
    assert!(!holds(
        &negated,
        &with_many("aws:TagKeys", &["ward", "secret"])
    ));
}

#[test]
fn keys_and_operators_are_anded_values_ored() {
    let policy = allow_if(
        r#"{"StringEquals": {"s3:prefix": ["a/", "b/"], "s3:delimiter": "/"},
            "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#,
    );
    let mut context = with("s3:prefix", "b/");
    context.insert("s3:delimiter", "/");
    context.insert("aws:SourceIp", "192.0.2.9");
    assert!(holds(&policy, &context));
    context.insert("aws:SourceIp", "203.0.113.9");
    assert!(!holds(&policy, &context));
    context.insert("aws:SourceIp", "192.0.2.9");
    context.insert("s3:delimiter", "|");
    assert!(!holds(&policy, &context));
}

#[test]
fn identity_keys_come_from_the_caller() {
    let policy = allow_if(
        r#"{"StringEquals": {"aws:username": "alice", "aws:PrincipalAccount": "123456789012"}}"#,
    );
    assert!(holds(&policy, &none()));
    // A context entry cannot pass one user off as another.
    let mallory = super::user(super::ACCOUNT, "mallory");
    assert!(!holds_for(
        &policy,
        &mallory,
        &with("aws:username", "alice")
    ));
}
