//! When lifecycle rules make something due, and the `x-amz-expiration` header that tells a
//! client when its object will expire.
//!
//! AWS sends `x-amz-expiration: expiry-date="Fri, 23 Dec 2012 00:00:00 GMT",
//! rule-id="picture-deletion-rule"` on GetObject, HeadObject, PutObject, CopyObject and
//! CompleteMultipartUpload when an enabled rule with a current-version `Expiration` (`Days` or
//! `Date`) selects the object; of several, the earliest expiry is reported. The rule ID is
//! URL-encoded (AWS says so; it also keeps a free-text ID a valid header value). A noncurrent
//! version gets no header: only `NoncurrentVersionExpiration` applies to it.
//!
//! The date is the one the sweep (`sweep.rs`) acts on, computed by the same [`due`].

use std::time::{SystemTime, UNIX_EPOCH};

use coffer_storage::{BucketInfo, BucketSetting, ObjectInfo};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::S3Result;
use s3s::dto::{Timestamp, TimestampFormat};

use super::Lifecycle;
use super::rules::Expiration;
use crate::s3::Coffer;
use crate::s3::error_map::storage_error;

/// Seconds in a day.
const DAY_SECS: u64 = 86_400;

/// What a URL-encoded rule ID keeps as is: RFC 3986's unreserved characters.
const RULE_ID_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// When an action `days` after `start` is due, in seconds since the Unix epoch: the first
/// midnight UTC at or after `start` plus the days (AWS: "rounding the resulting time to the
/// next day midnight UTC"). A start of exactly midnight stays on midnight; any part of a
/// second past it counts, so the result is never early.
pub(super) fn due(start: SystemTime, days: u32) -> u64 {
    let start = start
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
    let at = start.saturating_add(u64::from(days).saturating_mul(DAY_SECS));
    at.div_ceil(DAY_SECS).saturating_mul(DAY_SECS)
}

/// The `x-amz-expiration` value for the current version of an object with `key`, `size`
/// bytes, `tags` and `last_modified`, under `lifecycle`; `None` when no enabled rule expires
/// it. Of several rules, the earliest expiry wins (on a tie, the first rule).
pub(crate) fn expiration_header(
    lifecycle: &Lifecycle,
    key: &str,
    size: u64,
    tags: &[(String, String)],
    last_modified: SystemTime,
) -> Option<String> {
    let (at, rule) = lifecycle
        .rules
        .iter()
        .filter(|r| r.enabled && r.filter.matches(key, size, tags))
        .filter_map(|r| {
            let at = match r.expiration {
                Some(Expiration::Days(days)) => {
                    i64::try_from(due(last_modified, days)).unwrap_or(i64::MAX)
                }
                Some(Expiration::Date(date)) => date,
                // Delete markers only: nothing to say about an object.
                Some(Expiration::ExpiredObjectDeleteMarker(_)) | None => return None,
            };
            Some((at, r))
        })
        .min_by_key(|(at, _)| *at)?;
    // Past year 9999 (Days near i32::MAX): no date to write, and never in practice.
    let at = time::OffsetDateTime::from_unix_timestamp(at).ok()?;
    let mut date = Vec::new();
    Timestamp::from(at)
        .format(TimestampFormat::HttpDate, &mut date)
        .ok()?;
    let date = String::from_utf8(date).ok()?;
    let id = utf8_percent_encode(&rule.id, RULE_ID_KEEP);
    Some(format!("expiry-date=\"{date}\", rule-id=\"{id}\""))
}

/// The `x-amz-expiration` value for `obj` under the bucket's `lifecycle`, if any: none for a
/// noncurrent version.
pub(crate) fn expiration_of(lifecycle: Option<&Lifecycle>, obj: &ObjectInfo) -> Option<String> {
    let lifecycle = lifecycle.filter(|_| obj.is_current)?;
    expiration_header(
        lifecycle,
        &obj.key,
        obj.size,
        &obj.meta.tags,
        obj.last_modified,
    )
}

/// The lifecycle rules as stored, if any. Rules that do not decode are logged and treated as
/// none: a read or write must not fail over a header.
pub(crate) fn decode_stored(stored: Option<&[u8]>) -> Option<Lifecycle> {
    match postcard::from_bytes(stored?) {
        Ok(lifecycle) => Some(lifecycle),
        Err(e) => {
            tracing::error!(
                error = %e,
                "a bucket's stored lifecycle rules do not decode; x-amz-expiration left out"
            );
            None
        }
    }
}

/// The bucket a request names, with its lifecycle rules, read together (one index read, as
/// resolving the bucket alone would be).
///
/// # Errors
/// `NoSuchBucket`; `InternalError` for index errors.
pub(crate) async fn bucket_with_lifecycle(
    coffer: &Coffer,
    name: &str,
) -> S3Result<(BucketInfo, Option<Lifecycle>)> {
    let (bucket, stored) = coffer
        .store
        .bucket_with_setting(name, BucketSetting::Lifecycle)
        .await
        .map_err(storage_error)?;
    Ok((bucket, decode_stored(stored.as_deref())))
}

#[cfg(test)]
mod tests {
    use super::super::rules::{Filter, Rule};
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn rule(id: &str, filter: Filter, expiration: Option<Expiration>) -> Rule {
        Rule {
            id: id.to_owned(),
            enabled: true,
            filter,
            expiration,
            noncurrent: None,
            abort_upload_days: None,
        }
    }

    fn rules(rules: Vec<Rule>) -> Lifecycle {
        Lifecycle { rules }
    }

    /// 2012-12-20T10:30:00Z.
    const WRITTEN: u64 = 1_355_999_400;
    /// 2012-12-20T00:00:00Z.
    const MIDNIGHT: u64 = 1_355_961_600;

    #[test]
    fn days_round_up_to_the_next_midnight_utc() {
        // 1970-01-01T10:00Z + 1 day → 1970-01-03T00:00Z.
        assert_eq!(due(at(36_000), 1), 2 * DAY_SECS);
        // Exactly midnight stays.
        assert_eq!(due(at(DAY_SECS), 1), 2 * DAY_SECS);
        // A millisecond past midnight is past it.
        assert_eq!(
            due(at(DAY_SECS) + Duration::from_millis(1), 1),
            3 * DAY_SECS
        );
    }

    #[test]
    fn days_report_the_midnight_after_creation_plus_days() {
        let l = rules(vec![rule(
            "picture-deletion-rule",
            Filter::Prefix("tmp/".into()),
            Some(Expiration::Days(3)),
        )]);
        assert_eq!(
            expiration_header(&l, "tmp/a", 1, &[], at(WRITTEN)).as_deref(),
            Some(r#"expiry-date="Mon, 24 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule""#)
        );
        // Written at exactly midnight: three days on, not four.
        assert_eq!(
            expiration_header(&l, "tmp/a", 1, &[], at(MIDNIGHT)).as_deref(),
            Some(r#"expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule""#)
        );
        assert_eq!(expiration_header(&l, "keep/a", 1, &[], at(WRITTEN)), None);
    }

    #[test]
    fn the_earliest_of_several_rules_is_reported() {
        let l = rules(vec![
            rule("all-30", Filter::All, Some(Expiration::Days(30))),
            rule(
                "date",
                Filter::All,
                // 2012-12-23T00:00:00Z.
                Some(Expiration::Date(1_356_220_800)),
            ),
            rule(
                "tmp-1",
                Filter::Prefix("tmp/".into()),
                Some(Expiration::Days(1)),
            ),
        ]);
        let header = |key| expiration_header(&l, key, 1, &[], at(WRITTEN));
        assert_eq!(
            header("tmp/a").as_deref(),
            Some(r#"expiry-date="Sat, 22 Dec 2012 00:00:00 GMT", rule-id="tmp-1""#)
        );
        assert_eq!(
            header("a").as_deref(),
            Some(r#"expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="date""#)
        );
    }

    #[test]
    fn only_enabled_current_version_expirations_count() {
        let mut disabled = rule("disabled", Filter::All, Some(Expiration::Days(1)));
        disabled.enabled = false;
        let mut noncurrent = rule("noncurrent", Filter::All, None);
        noncurrent.noncurrent = Some(super::super::rules::NoncurrentExpiration {
            days: 1,
            newer_versions: None,
        });
        let mut uploads = rule("uploads", Filter::All, None);
        uploads.abort_upload_days = Some(1);
        let l = rules(vec![
            disabled,
            noncurrent,
            uploads,
            rule(
                "markers",
                Filter::All,
                Some(Expiration::ExpiredObjectDeleteMarker(true)),
            ),
        ]);
        assert_eq!(expiration_header(&l, "a", 1, &[], at(WRITTEN)), None);
    }

    #[test]
    fn filters_on_tags_and_size_select() {
        let l = rules(vec![
            rule(
                "tagged",
                Filter::Tag("expire".into(), "yes".into()),
                Some(Expiration::Days(1)),
            ),
            rule(
                "big",
                Filter::And {
                    prefix: Some("big/".into()),
                    tags: Vec::new(),
                    size_greater_than: Some(1000),
                    size_less_than: None,
                },
                Some(Expiration::Days(2)),
            ),
        ]);
        let yes = [("expire".to_owned(), "yes".to_owned())];
        let header = |key, size, tags: &[(String, String)]| {
            expiration_header(&l, key, size, tags, at(WRITTEN))
        };
        assert!(header("a", 1, &yes).is_some_and(|h| h.ends_with(r#"rule-id="tagged""#)));
        assert_eq!(header("a", 1, &[]), None);
        assert!(header("big/a", 2000, &[]).is_some_and(|h| h.ends_with(r#"rule-id="big""#)));
        assert_eq!(header("big/a", 1000, &[]), None);
    }

    #[test]
    fn rule_ids_are_url_encoded() {
        let l = rules(vec![rule(
            "old \"scans\"\n\u{e9}",
            Filter::All,
            Some(Expiration::Days(1)),
        )]);
        let header = expiration_header(&l, "a", 1, &[], at(WRITTEN)).unwrap();
        assert!(
            header.ends_with(r#"rule-id="old%20%22scans%22%0A%C3%A9""#),
            "{header}"
        );
        assert!(http::HeaderValue::from_str(&header).is_ok());
    }

    #[test]
    fn days_beyond_year_9999_give_no_header() {
        let l = rules(vec![rule(
            "far",
            Filter::All,
            Some(Expiration::Days(u32::MAX)),
        )]);
        assert_eq!(expiration_header(&l, "a", 1, &[], at(WRITTEN)), None);
    }

    #[test]
    fn undecodable_rules_are_none() {
        assert_eq!(decode_stored(None), None);
        assert_eq!(decode_stored(Some(&[0xff, 0xff, 0xff])), None);
        let l = rules(vec![rule("r", Filter::All, Some(Expiration::Days(1)))]);
        let stored = postcard::to_allocvec(&l).unwrap();
        assert_eq!(decode_stored(Some(&stored)), Some(l));
    }
}
