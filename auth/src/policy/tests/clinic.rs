//! Policies a clinic would really write, end to end.

use super::super::{ConditionContext, Effect};
use super::{ACCOUNT, alice, bucket, eval, eval_as, identity, user};

#[test]
fn camera_key_can_only_drop_photos_into_incoming() {
    let camera = identity(
        r#"{"Sid": "CameraUpload", "Effect": "Allow", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::photos/incoming/*"}"#,
    );
    assert_eq!(
        eval(
            &camera,
            "s3:PutObject",
            "arn:aws:s3:::photos/incoming/2026-11-30/img1.jpg"
        ),
        Effect::Allow
    );
    assert_eq!(
        eval(
            &camera,
            "s3:PutObject",
            "arn:aws:s3:::photos/patients/0042/a.jpg"
        ),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&camera, "s3:PutObject", "arn:aws:s3:::photos/incoming"),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(
            &camera,
            "s3:GetObject",
            "arn:aws:s3:::photos/incoming/img1.jpg"
        ),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(
            &camera,
            "s3:DeleteObject",
            "arn:aws:s3:::photos/incoming/img1.jpg"
        ),
        Effect::NotApplicable
    );
    assert_eq!(
        eval(&camera, "s3:ListBucket", "arn:aws:s3:::photos"),
        Effect::NotApplicable
    );
}

#[test]
fn auditor_reads_and_lists_the_bucket_but_changes_nothing() {
    let auditor = bucket(&format!(
        r#"{{"Sid": "Audit", "Effect": "Allow",
             "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:user/auditor"}},
             "Action": ["s3:Get*", "s3:List*"],
             "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]}}"#
    ));
    let who = user(ACCOUNT, "auditor");
    let context = ConditionContext::new();
    let ask = |action, resource| eval_as(&auditor, &who, &context, action, resource);
    assert_eq!(
        ask("s3:GetObject", "arn:aws:s3:::photos/patients/0042/a.jpg"),
        Effect::Allow
    );
    assert_eq!(
        ask("s3:GetBucketLocation", "arn:aws:s3:::photos"),
        Effect::Allow
    );
    assert_eq!(ask("s3:ListBucket", "arn:aws:s3:::photos"), Effect::Allow);
    assert_eq!(
        ask("s3:PutObject", "arn:aws:s3:::photos/x"),
        Effect::NotApplicable
    );
    assert_eq!(
        ask("s3:DeleteObject", "arn:aws:s3:::photos/x"),
        Effect::NotApplicable
    );
    assert_eq!(
        ask("s3:PutBucketPolicy", "arn:aws:s3:::photos"),
        Effect::NotApplicable
    );
    let other = eval_as(
        &auditor,
        &alice(),
        &context,
        "s3:GetObject",
        "arn:aws:s3:::photos/x",
    );
    assert_eq!(other, Effect::NotApplicable);
}

#[test]
fn listing_is_scoped_to_one_patient() {
    let doctor = identity(
        r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos",
            "Condition": {"StringLike": {"s3:prefix": ["patients/0042/*"]}}},
           {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/patients/0042/*"}"#,
    );
    let list = |prefix: Option<&str>| {
        let mut context = ConditionContext::new();
        if let Some(prefix) = prefix {
            context.insert("s3:prefix", prefix);
        }
        eval_as(
            &doctor,
            &alice(),
            &context,
            "s3:ListBucket",
            "arn:aws:s3:::photos",
        )
    };
    assert_eq!(list(Some("patients/0042/")), Effect::Allow);
    assert_eq!(list(Some("patients/0042/2026/")), Effect::Allow);
    assert_eq!(list(Some("patients/0043/")), Effect::NotApplicable);
    assert_eq!(list(Some("patients/")), Effect::NotApplicable);
    assert_eq!(
        list(None),
        Effect::NotApplicable,
        "listing without a prefix lists everyone"
    );
    assert_eq!(
        eval(
            &doctor,
            "s3:GetObject",
            "arn:aws:s3:::photos/patients/0042/a.jpg"
        ),
        Effect::Allow
    );
    assert_eq!(
        eval(
            &doctor,
            "s3:GetObject",
            "arn:aws:s3:::photos/patients/0043/a.jpg"
        ),
        Effect::NotApplicable
    );
}

#[test]
fn everything_is_denied_unless_secure_transport_is_true() {
    let policy = bucket(&format!(
        r#"{{"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
             "Condition": {{"BoolIfExists": {{"aws:SecureTransport": "false"}}}}}},
           {{"Effect": "Allow", "Principal": {{"AWS": "{ACCOUNT}"}}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::photos/*"}}"#
    ));
    let get = |secure: &str| {
        let mut context = ConditionContext::new();
        context.insert("aws:SecureTransport", secure);
        eval_as(
            &policy,
            &alice(),
            &context,
            "s3:GetObject",
            "arn:aws:s3:::photos/a.jpg",
        )
    };
    assert_eq!(get("true"), Effect::Allow);
    assert_eq!(get("false"), Effect::Deny);
    // A request that does not say how it arrived is treated as plain HTTP: IfExists.
    let unknown = eval_as(
        &policy,
        &alice(),
        &ConditionContext::new(),
        "s3:GetObject",
        "arn:aws:s3:::photos/a.jpg",
    );
    assert_eq!(unknown, Effect::Deny);
    let mut context = ConditionContext::new();
    context.insert("aws:SecureTransport", "false");
    let put = eval_as(
        &policy,
        &alice(),
        &context,
        "s3:PutObject",
        "arn:aws:s3:::photos/a.jpg",
    );
    assert_eq!(put, Effect::Deny);
}
