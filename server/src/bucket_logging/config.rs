//! A bucket's logging configuration as stored (`BucketSetting::Logging`), and the names of
//! the log objects it asks for.
//!
//! Stored typed, never as the XML a client sent: a version byte, then postcard. Storage
//! seals it with the bucket's other settings, and it dies with the bucket.

use serde::{Deserialize, Serialize};

/// S3's longest object key, in bytes.
const MAX_KEY_LEN: usize = 1024;
/// The longest part of a log object's key after the prefix: the partitioned form with a
/// 12-digit account, a 32-character region, a 63-character bucket, the date path and the
/// 16-character unique string comes to 155 bytes; the rest is margin.
const MAX_KEY_SUFFIX_LEN: usize = 200;
/// The longest `TargetPrefix` accepted, so that every log object key stays within S3's
/// 1024-byte key limit.
pub(crate) const MAX_PREFIX_LEN: usize = MAX_KEY_LEN - MAX_KEY_SUFFIX_LEN;

/// The version byte of the encoding below.
const FORMAT_V1: u8 = 1;

/// Where a bucket's server access logs go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoggingConfig {
    /// The bucket log objects are written into (same owner as the logged bucket).
    pub(crate) target_bucket: String,
    /// What every log object key starts with.
    pub(crate) target_prefix: String,
    /// How the rest of the key is built.
    pub(crate) key_format: KeyFormat,
    /// When logging was turned on, in milliseconds since the Unix epoch. Requests that
    /// arrived earlier are never delivered: they may concern an older bucket of the same
    /// name (the trail knows buckets by name), whose owner may be someone else.
    pub(crate) since_ms: u64,
}

/// `TargetObjectKeyFormat`. Stored as its variant index: never reorder, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyFormat {
    /// `SimplePrefix` (and the default): `[prefix]YYYY-mm-DD-HH-MM-SS-UniqueString`.
    Simple,
    /// `PartitionedPrefix`: `[prefix][account]/[region]/[bucket]/[YYYY]/[MM]/[DD]/[YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]`.
    Partitioned(DateSource),
}

/// `PartitionDateSource`. Stored as its variant index: never reorder, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DateSource {
    /// The day the requests happened; one object per day, its time part `00-00-00`.
    EventTime,
    /// When the object was delivered.
    DeliveryTime,
}

/// A stored logging configuration that does not decode (damaged, or written by a newer
/// Coffer).
#[derive(Debug, thiserror::Error)]
#[error("a stored bucket logging configuration does not decode")]
pub(crate) struct Undecodable;

impl LoggingConfig {
    /// Whether `record`'s request came after logging was turned on. The request that
    /// turned it on arrived at or before [`LoggingConfig::since_ms`] (it was set while the
    /// request was served), and is left out even in the same millisecond; any other request
    /// of that millisecond is in.
    pub(crate) fn covers(&self, record: &coffer_audit::Record) -> bool {
        record.time_ms > self.since_ms
            || (record.time_ms == self.since_ms && record.operation != "PutBucketLogging")
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_V1];
        // postcard fails only on writer errors, which a Vec cannot have.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`Undecodable`].
    pub(crate) fn decode(bytes: &[u8]) -> Result<LoggingConfig, Undecodable> {
        match bytes.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest).map_err(|_| Undecodable),
            _ => Err(Undecodable),
        }
    }
}

/// A calendar time in UTC, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Utc {
    pub(crate) year: i32,
    pub(crate) month: u8,
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
}

impl Utc {
    /// The time `ms` milliseconds after the Unix epoch.
    pub(crate) fn from_ms(ms: u64) -> Utc {
        let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
        let at = time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Utc {
            year: at.year(),
            month: u8::from(at.month()),
            day: at.day(),
            hour: at.hour(),
            minute: at.minute(),
            second: at.second(),
        }
    }

    /// Midnight of the same day.
    pub(crate) fn day_start(self) -> Utc {
        Utc {
            hour: 0,
            minute: 0,
            second: 0,
            ..self
        }
    }

    /// `YYYY-mm-DD-HH-MM-SS`.
    fn stamp(self) -> String {
        format!(
            "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// What names a log object, short of its unique string: records with the same stem go
/// into the same object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Stem {
    /// The target bucket.
    pub(crate) target: String,
    /// The key up to the unique string (`…-` included).
    pub(crate) key: String,
}

impl Stem {
    /// The stem of a log object of `source` under `config`, for a request at `event` and a
    /// delivery at `delivery`, in account `account` and region `region`.
    pub(crate) fn new(
        config: &LoggingConfig,
        account: &str,
        region: &str,
        source: &str,
        event: Utc,
        delivery: Utc,
    ) -> Stem {
        let prefix = &config.target_prefix;
        let key = match config.key_format {
            KeyFormat::Simple => format!("{prefix}{}-", delivery.stamp()),
            KeyFormat::Partitioned(source_of_date) => {
                let at = match source_of_date {
                    DateSource::EventTime => event.day_start(),
                    DateSource::DeliveryTime => delivery,
                };
                format!(
                    "{prefix}{account}/{region}/{source}/{:04}/{:02}/{:02}/{}-",
                    at.year,
                    at.month,
                    at.day,
                    at.stamp()
                )
            }
        };
        Stem {
            target: config.target_bucket.clone(),
            key,
        }
    }

    /// The key of one log object: the stem and a unique string (16 upper-case hex
    /// digits, as AWS's).
    pub(crate) fn object_key(&self, unique: [u8; 8]) -> String {
        format!("{}{}", self.key, hex::encode_upper(unique))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key_format: KeyFormat) -> LoggingConfig {
        LoggingConfig {
            target_bucket: "logs".into(),
            target_prefix: "access/".into(),
            key_format,
            since_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn configurations_round_trip_and_damage_is_refused() {
        for format in [
            KeyFormat::Simple,
            KeyFormat::Partitioned(DateSource::EventTime),
            KeyFormat::Partitioned(DateSource::DeliveryTime),
        ] {
            let c = config(format);
            let bytes = c.encode();
            assert_eq!(bytes[0], FORMAT_V1);
            assert_eq!(LoggingConfig::decode(&bytes).unwrap(), c);
        }
        let bytes = config(KeyFormat::Simple).encode();
        assert!(LoggingConfig::decode(&[]).is_err());
        assert!(LoggingConfig::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert!(LoggingConfig::decode(&newer).is_err());
        // Not XML, not text: the names are in it, but as postcard strings.
        assert!(!bytes.windows(6).any(|w| w == b"<Targe"));
    }

    #[test]
    fn logging_covers_requests_after_it_was_turned_on() {
        let c = config(KeyFormat::Simple);
        let at = |time_ms, operation: &str| coffer_audit::Record {
            time_ms,
            operation: operation.into(),
            ..coffer_audit::Record::default()
        };
        assert!(!c.covers(&at(c.since_ms - 1, "GetObject")));
        assert!(c.covers(&at(c.since_ms, "GetObject")));
        assert!(!c.covers(&at(c.since_ms, "PutBucketLogging")));
        assert!(c.covers(&at(c.since_ms + 1, "PutBucketLogging")));
    }

    /// The variant indexes are on disk.
    #[test]
    fn key_formats_are_stable_on_disk() {
        assert_eq!(postcard::to_allocvec(&KeyFormat::Simple).unwrap(), [0]);
        assert_eq!(
            postcard::to_allocvec(&KeyFormat::Partitioned(DateSource::EventTime)).unwrap(),
            [1, 0]
        );
        assert_eq!(
            postcard::to_allocvec(&KeyFormat::Partitioned(DateSource::DeliveryTime)).unwrap(),
            [1, 1]
        );
    }

    #[test]
    fn log_object_keys_follow_aws_formats() {
        // 2019-02-06T00:00:38Z and 2019-02-07T13:05:09Z.
        let event = Utc::from_ms(1_549_411_238_000);
        let delivery = Utc::from_ms(1_549_544_709_123);
        let unique = [0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89];
        let stem = |format| {
            Stem::new(
                &config(format),
                "123456789012",
                "us-east-1",
                "photos",
                event,
                delivery,
            )
        };
        let simple = stem(KeyFormat::Simple);
        assert_eq!(simple.target, "logs");
        assert_eq!(
            simple.object_key(unique),
            "access/2019-02-07-13-05-09-ABCDEF0123456789"
        );
        assert_eq!(
            stem(KeyFormat::Partitioned(DateSource::EventTime)).object_key(unique),
            "access/123456789012/us-east-1/photos/2019/02/06/2019-02-06-00-00-00-ABCDEF0123456789"
        );
        assert_eq!(
            stem(KeyFormat::Partitioned(DateSource::DeliveryTime)).object_key(unique),
            "access/123456789012/us-east-1/photos/2019/02/07/2019-02-07-13-05-09-ABCDEF0123456789"
        );
        // The longest key stays within S3's limit.
        let longest = LoggingConfig {
            target_prefix: "p".repeat(MAX_PREFIX_LEN),
            ..config(KeyFormat::Partitioned(DateSource::EventTime))
        };
        let key = Stem::new(
            &longest,
            "123456789012",
            &"r".repeat(32),
            &"b".repeat(63),
            event,
            delivery,
        )
        .object_key(unique);
        assert!(key.len() <= MAX_KEY_LEN, "{}", key.len());
    }
}
