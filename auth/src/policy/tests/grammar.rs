//! The grammar: what parses, and the reason given for each thing that does not.

use super::super::{Policy, PolicyError, PolicyKind};
use super::{BUCKET, doc, malformed};

const ALLOW_GET: &str =
    r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}"#;
const ALICE: &str = r#"{"AWS": "arn:aws:iam::123456789012:user/alice"}"#;

fn bucket_statement(fields: &str) -> String {
    doc(&format!(r#"{{"Principal": {ALICE}, {fields}}}"#))
}

#[test]
fn accepts_a_single_statement_object_and_optional_fields() {
    let text = format!(r#"{{"Version": "2012-10-17", "Id": "p1", "Statement": {ALLOW_GET}}}"#);
    assert!(Policy::parse(&text, PolicyKind::Identity).is_ok());
    let text = format!(r#"{{"Statement": [{ALLOW_GET}]}}"#);
    assert!(Policy::parse(&text, PolicyKind::Identity).is_ok());
    let text = format!(r#"{{"Version": "2008-10-17", "Statement": [{ALLOW_GET}]}}"#);
    assert!(Policy::parse(&text, PolicyKind::Identity).is_ok());
    let with_sid = r#"{"Sid": "ReadPhotos", "Effect": "Allow", "Action": ["s3:GetObject", "s3:List*"],
        "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]}"#;
    assert!(Policy::parse(&doc(with_sid), PolicyKind::Identity).is_ok());
}

#[test]
fn rejects_bad_documents() {
    let id = PolicyKind::Identity;
    assert_eq!(
        malformed("not json", id),
        "This policy contains invalid Json"
    );
    assert_eq!(malformed("[]", id), "Policy document must be a JSON object");
    assert_eq!(
        malformed(r#"{"Version": "2012-10-17"}"#, id),
        "Missing required field Statement"
    );
    assert_eq!(
        malformed(&format!(r#"{{"Foo": 1, "Statement": {ALLOW_GET}}}"#), id),
        "Unknown field Foo"
    );
    assert_eq!(
        malformed(
            &format!(r#"{{"Version": "2020-01-01", "Statement": {ALLOW_GET}}}"#),
            id
        ),
        "The policy must contain a valid version string"
    );
    assert_eq!(
        malformed(r#"{"Statement": []}"#, id),
        "Statement must be an object or a non-empty array"
    );
    assert_eq!(
        malformed(
            &doc(&format!("{ALLOW_GET}, {ALLOW_GET}")
                .replace("\"Effect\"", "\"Sid\": \"a\", \"Effect\"")),
            id
        ),
        "Statement IDs (SID) must be unique"
    );
    // serde_json keeps the last of two equal keys: this would read as Deny and act as Allow.
    let twice = r#"{"Statement": {"Effect": "Deny", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#;
    assert_eq!(malformed(twice, id), "Policy contains a duplicate field");
    let nested = r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8", "aws:SourceIp": "0.0.0.0/0"}}}}"#;
    assert_eq!(malformed(nested, id), "Policy contains a duplicate field");
}

#[test]
fn rejects_bad_statements() {
    let id = PolicyKind::Identity;
    let cases = [
        (
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Bar": 1}"#,
            "Unknown field Bar",
        ),
        (
            r#"{"Action": "s3:GetObject", "Resource": "*"}"#,
            "Missing required field Effect",
        ),
        (
            r#"{"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"}"#,
            "Invalid effect: must be Allow or Deny",
        ),
        (
            r#"{"Effect": "Allow", "Resource": "*"}"#,
            "Missing required field Action",
        ),
        (
            r#"{"Effect": "Allow", "Action": "s3:GetObject"}"#,
            "Missing required field Resource",
        ),
        (
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject", "Resource": "*"}"#,
            "Statement cannot contain both Action and NotAction",
        ),
        (
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "NotResource": "*"}"#,
            "Statement cannot contain both Resource and NotResource",
        ),
        (
            r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "s3:GetObject", "Resource": "*"}"#,
            "Policy document should not specify a principal.",
        ),
        (
            r#"{"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "Action": "s3:GetObject", "Resource": "*"}"#,
            "Policy document should not specify a principal.",
        ),
    ];
    for (statement, reason) in cases {
        assert_eq!(malformed(&doc(statement), id), reason, "{statement}");
    }
}

#[test]
fn rejects_invalid_actions() {
    for action in [
        "\"ec2:RunInstances\"",
        "\"s3\"",
        "\"s3:\"",
        "\"s3:Get-Object\"",
        "\"*:GetObject\"",
        "\"s*:GetObject\"",
        "[]",
        "[1]",
        "5",
    ] {
        let statement = format!(r#"{{"Effect": "Allow", "Action": {action}, "Resource": "*"}}"#);
        assert_eq!(
            malformed(&doc(&statement), PolicyKind::Identity),
            "Policy has invalid action",
            "{action}"
        );
    }
    // Identity policies may name IAM and STS; bucket policies only S3.
    for action in [
        "iam:CreateUser",
        "sts:GetCallerIdentity",
        "S3:getobject",
        "*",
        "s3:*",
    ] {
        let statement = format!(r#"{{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}"#);
        assert!(
            Policy::parse(&doc(&statement), PolicyKind::Identity).is_ok(),
            "{action}"
        );
    }
    for action in ["iam:CreateUser", "sts:GetCallerIdentity"] {
        let text = bucket_statement(&format!(
            r#""Effect": "Allow", "Action": "{action}", "Resource": "arn:aws:s3:::photos""#
        ));
        assert_eq!(
            malformed(&text, BUCKET),
            "Policy has invalid action",
            "{action}"
        );
    }
}

#[test]
fn rejects_invalid_resources() {
    for resource in [
        "arn:aws:ec2:::instance/i-1",
        "photos/*",
        "arn:aws:s3:::",
        "arn:aws:s3:::photos/${aws:username",
    ] {
        let statement =
            format!(r#"{{"Effect": "Allow", "Action": "s3:*", "Resource": "{resource}"}}"#);
        assert_eq!(
            malformed(&doc(&statement), PolicyKind::Identity),
            "Policy has invalid resource",
            "{resource}"
        );
    }
    // A bucket policy speaks only for its own bucket; a wildcard may not reach past its name.
    for resource in [
        "*",
        "arn:aws:s3:::*",
        "arn:aws:s3:::photos*",
        "arn:aws:s3:::photos?",
        "arn:aws:s3:::photos-archive/*",
        "arn:aws:s3:::other/*",
        "arn:aws:iam::123456789012:user/alice",
    ] {
        let text = bucket_statement(&format!(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "{resource}""#
        ));
        assert_eq!(
            malformed(&text, BUCKET),
            "Policy has invalid resource",
            "{resource}"
        );
    }
    for resource in [
        "arn:aws:s3:::photos",
        "arn:aws:s3:::photos/*",
        "arn:aws:s3:::photos/a?/*",
    ] {
        let text = bucket_statement(&format!(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "{resource}""#
        ));
        assert!(Policy::parse(&text, BUCKET).is_ok(), "{resource}");
    }
}

#[test]
fn bucket_statements_need_a_valid_principal() {
    let fields =
        r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#;
    assert_eq!(
        malformed(&doc(&format!("{{{fields}}}")), BUCKET),
        "Missing required field Principal"
    );
    assert_eq!(
        malformed(
            &doc(&format!(
                r#"{{"Principal": {ALICE}, "NotPrincipal": {ALICE}, {fields}}}"#
            )),
            BUCKET
        ),
        "Statement cannot contain both Principal and NotPrincipal"
    );
    for principal in [
        r#""alice""#,
        "{}",
        r#"{"AWS": []}"#,
        r#"{"AWS": "alice"}"#,
        r#"{"AWS": "12345"}"#,
        r#"{"AWS": "arn:aws:iam::12345:user/alice"}"#,
        r#"{"AWS": "arn:aws:iam::123456789012:role/admin"}"#,
        r#"{"AWS": "arn:aws:iam::123456789012:user/"}"#,
        r#"{"AWS": 123456789012}"#,
    ] {
        let text = doc(&format!(r#"{{"Principal": {principal}, {fields}}}"#));
        assert_eq!(
            malformed(&text, BUCKET),
            "Invalid principal in policy",
            "{principal}"
        );
    }
    for principal in [
        r#"{"AWS": "123456789012"}"#,
        r#"{"AWS": "arn:aws:iam::123456789012:root"}"#,
        r#"{"AWS": ["arn:aws:iam::123456789012:user/alice", "210987654321"]}"#,
    ] {
        let text = doc(&format!(r#"{{"Principal": {principal}, {fields}}}"#));
        assert!(Policy::parse(&text, BUCKET).is_ok(), "{principal}");
    }
}

#[test]
fn rejects_bad_conditions() {
    let with = |condition: &str| {
        doc(&format!(
            r#"{{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {condition}}}"#
        ))
    };
    let id = PolicyKind::Identity;
    let cases = [
        (
            r#"{"StringEqualz": {"s3:prefix": "a"}}"#,
            "Invalid Condition operator: StringEqualz",
        ),
        (
            r#"{"ForSomeValues:StringEquals": {"s3:prefix": "a"}}"#,
            "Invalid Condition operator: ForSomeValues:StringEquals",
        ),
        (
            r#"{"NullIfExists": {"s3:prefix": "true"}}"#,
            "Invalid Condition operator: NullIfExists",
        ),
        (
            r#"{"NumericLessThan": {"s3:max-keys": "ten"}}"#,
            "Invalid Condition value for NumericLessThan",
        ),
        (
            r#"{"NumericLessThan": {"s3:max-keys": "NaN"}}"#,
            "Invalid Condition value for NumericLessThan",
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2026-02-30T00:00:00Z"}}"#,
            "Invalid Condition value for DateLessThan",
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "yesterday"}}"#,
            "Invalid Condition value for DateLessThan",
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}"#,
            "Invalid Condition value for IpAddress",
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "10.0.0/8"}}"#,
            "Invalid Condition value for IpAddress",
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": "yes"}}"#,
            "Invalid Condition value for Bool",
        ),
        (
            r#"{"Null": {"s3:prefix": ["true", "false"]}}"#,
            "Invalid Condition value for Null",
        ),
        (
            r#"{"StringEquals": {"s3:prefix": []}}"#,
            "Invalid Condition value for StringEquals",
        ),
        (
            r#"{"StringEquals": {"s3:prefix": {"a": 1}}}"#,
            "Invalid Condition value for StringEquals",
        ),
        (
            r#"{"StringEquals": {"s3:prefix": null}}"#,
            "Invalid Condition value for StringEquals",
        ),
        (
            r#"{"StringEquals": {"s3:prefix": "${oops"}}"#,
            "Invalid Condition value for StringEquals",
        ),
        (
            r#"{"StringEquals": {}}"#,
            "Condition operator StringEquals names no condition key",
        ),
        (
            r#"{"StringEquals": "a"}"#,
            "Condition operator StringEquals must map condition keys to values",
        ),
        (r#""a""#, "Condition must be an object of operators"),
    ];
    for (condition, reason) in cases {
        assert_eq!(malformed(&with(condition), id), reason, "{condition}");
    }
}

#[test]
fn enforces_size_limits() {
    // 2048 characters excluding whitespace for identity policies: whitespace is free.
    let padded = format!(
        "{}{}",
        doc(r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#),
        " ".repeat(5000)
    );
    assert!(Policy::parse(&padded, PolicyKind::Identity).is_ok());
    let long_sid = "a".repeat(2048);
    let text = doc(&format!(
        r#"{{"Sid": "{long_sid}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}"#
    ));
    assert!(matches!(
        Policy::parse(&text, PolicyKind::Identity),
        Err(PolicyError::TooLarge)
    ));
    // 20 KiB for bucket policies, whitespace included.
    let text = doc(&format!(
        r#"{{"Sid": "{}", "Principal": {ALICE}, "Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::photos/*"}}"#,
        "a".repeat(10_000)
    ));
    assert!(Policy::parse(&text, BUCKET).is_ok());
    let text = format!("{text}{}", " ".repeat(11_000));
    assert!(matches!(
        Policy::parse(&text, BUCKET),
        Err(PolicyError::TooLarge)
    ));
}

#[test]
fn identity_policies_may_name_kms_keys_and_bucket_policies_may_not() {
    let kms = r#"{"Effect": "Allow", "Action": ["kms:DescribeKey", "kms:*Key"],
        "Resource": "arn:aws:kms:eu-west-1:123456789012:key/*"}"#;
    assert!(Policy::parse(&doc(kms), PolicyKind::Identity).is_ok());
    let in_bucket = bucket_statement(
        r#""Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "arn:aws:s3:::photos/*""#,
    );
    assert!(Policy::parse(&in_bucket, BUCKET).is_err());
}
