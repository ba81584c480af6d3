//! How audit records are shown, by `coffer audit show` and the auditors' `ReadAuditTrail`
//! API alike: one tab-separated line or one JSON object per request, and the times filters
//! take.

use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use coffer_audit::{Phase, Record};

use crate::iam::iso8601;

/// One tab-separated line (see `coffer audit show --help` for the columns).
pub(crate) fn text_line(r: &Record) -> String {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(r.time_ms);
    [
        iso8601_ms(time, r.time_ms),
        r.request_id.clone(),
        r.caller
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |c| c.user.clone()),
        or_dash(r.caller.as_ref().map(|c| c.access_key.as_str())),
        r.source.clone(),
        r.operation.clone(),
        or_dash(r.bucket.as_deref()),
        or_dash(r.key.as_deref()),
        or_dash(r.version_id.as_deref()),
        match r.phase {
            Phase::Outcome => r.status.to_string(),
            Phase::Intent => UNFINISHED.to_owned(),
        },
        or_dash(r.error_code.as_deref()),
        r.bytes_in.to_string(),
        r.bytes_out.to_string(),
        r.duration_us.to_string(),
    ]
    .join("\t")
}

/// The status shown for a change whose outcome was never recorded (the server stopped
/// between its intent and its answer): it may or may not have been made.
pub(crate) const UNFINISHED: &str = "unfinished";

/// `2026-01-31T08:00:00.123Z`.
fn iso8601_ms(time: SystemTime, ms: u64) -> String {
    let whole = iso8601(time);
    match whole.strip_suffix('Z') {
        Some(head) => format!("{head}.{:03}Z", ms % 1000),
        None => whole,
    }
}

pub(crate) fn json_line(sequence: u64, r: &Record) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(r).context("could not encode a record")?;
    if let Some(map) = value.as_object_mut() {
        map.insert("sequence".to_owned(), sequence.into());
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(r.time_ms);
        map.insert("time".to_owned(), iso8601_ms(time, r.time_ms).into());
        map.insert(
            "user".to_owned(),
            r.caller
                .as_ref()
                .map_or("anonymous", |c| c.user.as_str())
                .into(),
        );
    }
    serde_json::to_string(&value).context("could not encode a record")
}

/// RFC 3339 or milliseconds since the epoch, as milliseconds since the epoch.
pub(crate) fn parse_time(flag: &str, text: &str) -> anyhow::Result<u64> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    else {
        bail!(
            "{flag} {text} is neither an RFC 3339 time (2026-01-31T08:00:00Z) nor milliseconds since 1970"
        );
    };
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).with_context(|| format!("{flag} {text} is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_milliseconds() {
        assert_eq!(
            parse_time("--since", "1700000000123").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            parse_time("--since", "2023-11-14T22:13:20.5Z").unwrap(),
            1_700_000_000_500
        );
        assert!(parse_time("--since", "yesterday").is_err());
    }

    #[test]
    fn a_line_shows_dashes_for_empty_fields_and_anonymous_callers() {
        let r = Record {
            time_ms: 1_700_000_000_123,
            request_id: "id".into(),
            source: "127.0.0.1".into(),
            operation: "Unknown".into(),
            status: 403,
            ..Record::default()
        };
        assert_eq!(
            text_line(&r),
            "2023-11-14T22:13:20.123Z\tid\tanonymous\t-\t127.0.0.1\tUnknown\t-\t-\t-\t403\t-\t0\t0\t0"
        );
    }
}
