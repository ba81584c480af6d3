//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`, and their `x-amz-copy-source-if-*` twins.
//!
//! Evaluation follows RFC 9110 §13.2.2, which is also what AWS documents: a
//! matching `If-Match` makes `If-Unmodified-Since` irrelevant, and an
//! `If-None-Match` makes `If-Modified-Since` irrelevant. Dates compare at
//! whole seconds because HTTP dates carry no more.

use coffer_storage::ObjectInfo;
use s3s::dto::{ETagCondition, Timestamp};
use s3s::{S3Result, s3_error};
use std::time::{SystemTime, UNIX_EPOCH};

/// The four conditions as they arrive on a request.
#[derive(Default)]
#[allow(clippy::struct_field_names)] // named as the HTTP headers are
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag,
    }
}

fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn ts_secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

fn evaluate(c: &Conditions<'_>, etag: &str, last_modified: SystemTime) -> Outcome {
    let modified = secs(last_modified);
    if let Some(cond) = c.if_match {
        if !etag_matches(cond, etag) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(t) = c.if_unmodified_since
        && modified > ts_secs(t)
    {
        return Outcome::PreconditionFailed;
    }
    if let Some(cond) = c.if_none_match {
        if etag_matches(cond, etag) {
            return Outcome::NotModified;
        }
    } else if let Some(t) = c.if_modified_since
        && modified <= ts_secs(t)
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// For GET and HEAD: `304 NotModified` or `412 PreconditionFailed` when a
/// condition says so.
pub(crate) fn check_read(c: &Conditions<'_>, obj: &ObjectInfo) -> S3Result<()> {
    match evaluate(c, &obj.etag, obj.last_modified) {
        Outcome::Proceed => Ok(()),
        Outcome::NotModified => Err(s3_error!(NotModified)),
        Outcome::PreconditionFailed => Err(precondition_failed()),
    }
}

/// For a copy source: every failed condition is `412 PreconditionFailed`.
pub(crate) fn check_copy_source(c: &Conditions<'_>, obj: &ObjectInfo) -> S3Result<()> {
    match evaluate(c, &obj.etag, obj.last_modified) {
        Outcome::Proceed => Ok(()),
        Outcome::NotModified | Outcome::PreconditionFailed => Err(precondition_failed()),
    }
}

fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::ETag;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }
    fn ts(secs: u64) -> Timestamp {
        Timestamp::from(at(secs))
    }
    fn tag(v: &str) -> ETagCondition {
        ETagCondition::ETag(ETag::Strong(v.into()))
    }

    #[test]
    fn if_match_wins_over_unmodified_since() {
        let (m, t) = (tag("abc"), ts(100));
        let c = Conditions {
            if_match: Some(&m),
            if_unmodified_since: Some(&t),
            ..Default::default()
        };
        assert_eq!(evaluate(&c, "abc", at(200)), Outcome::Proceed);
        assert_eq!(evaluate(&c, "abd", at(50)), Outcome::PreconditionFailed);
    }

    #[test]
    fn none_match_gives_not_modified_and_wins_over_modified_since() {
        let (m, t) = (tag("abc"), ts(100));
        let c = Conditions {
            if_none_match: Some(&m),
            if_modified_since: Some(&t),
            ..Default::default()
        };
        assert_eq!(evaluate(&c, "abc", at(200)), Outcome::NotModified);
        assert_eq!(evaluate(&c, "zzz", at(50)), Outcome::Proceed);
    }

    #[test]
    fn dates_compare_at_whole_seconds() {
        let t = ts(100);
        let c = Conditions {
            if_modified_since: Some(&t),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&c, "x", at(100) + Duration::from_millis(900)),
            Outcome::NotModified
        );
        assert_eq!(evaluate(&c, "x", at(101)), Outcome::Proceed);
        let c = Conditions {
            if_unmodified_since: Some(&t),
            ..Default::default()
        };
        assert_eq!(evaluate(&c, "x", at(101)), Outcome::PreconditionFailed);
        assert_eq!(evaluate(&c, "x", at(100)), Outcome::Proceed);
    }

    #[test]
    fn star_matches_any_existing_object() {
        let any = ETagCondition::Any;
        let c = Conditions {
            if_none_match: Some(&any),
            ..Default::default()
        };
        assert_eq!(evaluate(&c, "whatever", at(1)), Outcome::NotModified);
    }
}
