//! The value parsers and the wildcard matcher on their own.

use std::net::IpAddr;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::super::cidr::Cidr;
use super::super::date;
use super::super::matching::{Template, compile, matches};

fn like(pattern: &str, text: &str) -> bool {
    matches(&compile(pattern, true), text, false)
}

#[test]
fn wildcards_match_whole_strings() {
    assert!(like("*", ""));
    assert!(like("*", "anything"));
    assert!(like("photos/*", "photos/"));
    assert!(like("photos/*", "photos/a/b/c.jpg"));
    assert!(!like("photos/*", "photos"));
    assert!(like("a?c", "abc"));
    assert!(!like("a?c", "ac"));
    assert!(!like("a?c", "abbc"));
    assert!(like("*.jpg", "x.jpg"));
    assert!(!like("*.jpg", "x.jpg.exe"));
    assert!(like("a*b*c", "a__b__b__c"));
    assert!(!like("a*b*c", "a__c__b"));
    assert!(like("?", "é"), "? is one character, not one byte");
    assert!(like("**a**", "bab"));
    assert!(!like("abc", "abcd"));
}

#[test]
fn case_folding_is_opt_in() {
    let pattern = compile("s3:Get*", true);
    assert!(matches(&pattern, "S3:GETOBJECT", true));
    assert!(!matches(&pattern, "S3:GETOBJECT", false));
    assert!(matches(&compile("ÉTÉ", false), "été", true));
}

#[test]
fn without_wildcards_star_is_literal() {
    let pattern = compile("a*", false);
    assert!(matches(&pattern, "a*", false));
    assert!(!matches(&pattern, "ab", false));
}

#[test]
fn pathological_pattern_stays_fast() {
    // A backtracking matcher takes exponential time here; ours is bounded by
    // pattern length × text length.
    let text = "a".repeat(20_000);
    let pattern = compile("a*a*a*a*a*a*a*a*a*a*b", true);
    let started = Instant::now();
    assert!(!matches(&pattern, &text, false));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches(&pattern, &format!("{text}b"), false));
}

#[test]
fn templates_escape_and_reject() {
    let lookup = |key: &str| (key == "aws:username").then_some("al*ce");
    let template = Template::parse("home/${aws:username}/${*}${?}${$}", true, true).unwrap();
    let units = template.resolve(&lookup).unwrap();
    assert!(matches(&units, "home/al*ce/*?$", false));
    assert!(
        !matches(&units, "home/alice/*?$", false),
        "substituted values are literal"
    );
    let template = Template::parse("${s3:prefix, 'none'}", false, true).unwrap();
    assert!(matches(&template.resolve(&lookup).unwrap(), "none", false));
    let template = Template::parse("${s3:prefix}", false, true).unwrap();
    assert!(template.resolve(&lookup).is_none());
    assert!(Template::parse("${aws:username", true, true).is_err());
    assert!(Template::parse("${a b}", true, true).is_err());
    // Version 2008-10-17 reads `${...}` literally.
    let template = Template::parse("${aws:username}", true, false).unwrap();
    assert!(matches(
        &template.resolve(&lookup).unwrap(),
        "${aws:username}",
        false
    ));
}

#[test]
fn dates_parse_iso8601_and_epoch_seconds() {
    let at = |secs: u64| Some(UNIX_EPOCH + Duration::from_secs(secs));
    assert_eq!(date::parse("1970-01-01T00:00:00Z"), at(0));
    assert_eq!(date::parse("2026-01-01T00:00:00Z"), at(1_767_225_600));
    assert_eq!(date::parse("1767225600"), at(1_767_225_600));
    assert_eq!(date::parse("2026-01-01"), at(1_767_225_600));
    assert_eq!(date::parse("2026-01-01T02:00:00+02:00"), at(1_767_225_600));
    assert_eq!(date::parse("2025-12-31T19:00:00-0500"), at(1_767_225_600));
    assert_eq!(date::parse("2024-02-29T12:00:00Z"), at(1_709_208_000));
    assert_eq!(
        date::parse("2026-01-01T00:00:00.25Z"),
        Some(UNIX_EPOCH + Duration::from_millis(1_767_225_600_250))
    );
    assert!(date::parse("1969-12-31T23:59:59Z").is_some_and(|d| d < UNIX_EPOCH));
    for bad in [
        "",
        "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-1-01T00:00:00Z",
        "2026-01-01T00:00:00+25:00",
        "2026-01-01T00:00:00.Z",
        "tomorrow",
    ] {
        assert_eq!(date::parse(bad), None, "{bad}");
    }
}

#[test]
fn cidrs_v4_and_v6() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let range = Cidr::parse("192.0.2.0/24").unwrap();
    assert!(range.contains(ip("192.0.2.77")));
    assert!(!range.contains(ip("192.0.3.1")));
    assert!(
        range.contains(ip("::ffff:192.0.2.1")),
        "IPv4-mapped IPv6 is IPv4"
    );
    assert!(!range.contains(ip("2001:db8::1")));
    assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    assert!(
        Cidr::parse("203.0.113.9")
            .unwrap()
            .contains(ip("203.0.113.9"))
    );
    assert!(
        !Cidr::parse("203.0.113.9")
            .unwrap()
            .contains(ip("203.0.113.10"))
    );
    let range = Cidr::parse("2001:db8::/32").unwrap();
    assert!(range.contains(ip("2001:db8:ffff::1")));
    assert!(!range.contains(ip("2001:db9::1")));
    assert!(!range.contains(ip("192.0.2.1")));
    assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
    for bad in [
        "192.0.2.0/33",
        "2001:db8::/129",
        "192.0.2.0/",
        "192.0.2.0/+8",
        "192.0.2/24",
        "x",
    ] {
        assert_eq!(Cidr::parse(bad), None, "{bad}");
    }
}
