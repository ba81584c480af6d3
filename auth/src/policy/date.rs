//! Dates for the `Date...` condition operators: ISO 8601 (`2026-01-01T00:00:00Z`,
//! `2026-01-01T09:30:00.5+02:00`, `2026-01-01`) or epoch seconds (`1767225600`).
//!
//! Hand-written because only this small subset is needed and we keep `coffer-auth`'s
//! dependencies few.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a date as AWS condition values write them; `None` if it is not one.
pub(super) fn parse(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = text.parse().ok()?;
        return UNIX_EPOCH.checked_add(Duration::from_secs(seconds));
    }
    parse_iso8601(text)
}

fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut fields = date.split('-');
    let year: i64 = digits(fields.next()?, 4)?;
    let month: u32 = digits(fields.next()?, 2)?;
    let day: u32 = digits(fields.next()?, 2)?;
    if fields.next().is_some() || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let (clock_seconds, nanos, offset_seconds) = match time {
        Some(time) => parse_time(time)?,
        None => (0, 0, 0),
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + clock_seconds - offset_seconds;
    let whole = Duration::from_secs(seconds.unsigned_abs());
    let at = if seconds >= 0 {
        UNIX_EPOCH.checked_add(whole)?
    } else {
        UNIX_EPOCH.checked_sub(whole)?
    };
    at.checked_add(Duration::from_nanos(nanos))
}

/// `HH:MM[:SS[.fraction]]` then `Z`, `±HH:MM`, `±HHMM` or nothing (read as UTC).
/// Returns seconds into the day, nanoseconds, and the zone's offset east of UTC in seconds.
fn parse_time(time: &str) -> Option<(i64, u64, i64)> {
    let zone_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let zone = &zone[1..];
            let (hours, minutes) = match zone.split_once(':') {
                Some(parts) => parts,
                None if zone.len() == 4 => zone.split_at(2),
                None => return None,
            };
            let hours: i64 = digits(hours, 2)?;
            let minutes: i64 = digits(minutes, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let (clock, fraction) = match clock.split_once(['.', ',']) {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    };
    let mut fields = clock.split(':');
    let hours: i64 = digits(fields.next()?, 2)?;
    let minutes: i64 = digits(fields.next()?, 2)?;
    let seconds: i64 = match fields.next() {
        Some(seconds) => digits(seconds, 2)?,
        None => 0,
    };
    // 60 admits a leap second, which AWS timestamps can carry.
    if fields.next().is_some() || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    let nanos = match fraction {
        Some(fraction) => parse_fraction(fraction)?,
        None => 0,
    };
    Some((hours * 3600 + minutes * 60 + seconds, nanos, offset))
}

/// `.5` → 500 000 000 ns; digits past nanoseconds are dropped, as precision ends there.
fn parse_fraction(fraction: &str) -> Option<u64> {
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0;
    let mut scale = 100_000_000;
    for b in fraction.bytes().take(9) {
        nanos += u64::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(nanos)
}

/// Exactly `len` ASCII digits.
fn digits<T: std::str::FromStr>(text: &str, len: usize) -> Option<T> {
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
///
/// Counts in 400-year eras starting each March, so the leap day falls at the end of a
/// "year" and every month but February has a fixed offset.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days separate 0000-03-01 from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}
