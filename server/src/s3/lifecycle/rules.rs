//! A bucket's lifecycle rules, typed: checked once against AWS's rules when they come in as
//! XML, stored with postcard, and turned back into XML for GetBucketLifecycleConfiguration.
//!
//! Checks follow `PutBucketLifecycleConfiguration` as AWS answers it: a document the schema
//! refuses (no rules, over 1000 rules, a Filter with two conditions outside `And`, Days with
//! Date, a Status other than `Enabled`/`Disabled`) is `MalformedXML`; a bad value is
//! `InvalidArgument`; a combination AWS forbids is `InvalidRequest`. Transitions need storage
//! classes, which Coffer does not have, so they answer `NotImplemented`.

use s3s::dto::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Tag,
};
use s3s::{S3Error, S3Result, s3_error};
use serde::{Deserialize, Serialize};

/// Most rules in one configuration (AWS).
const MAX_RULES: usize = 1000;
/// Longest rule ID, in characters (AWS).
const MAX_ID_CHARS: usize = 255;
/// Most noncurrent versions a rule may keep (AWS).
const MAX_NEWER_NONCURRENT: u32 = 100;
/// Seconds in a day: lifecycle counts whole days, in UTC.
const DAY_SECS: i64 = 86_400;

/// A bucket's lifecycle configuration, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Lifecycle {
    /// The rules, in the order given.
    pub(crate) rules: Vec<Rule>,
}

/// One lifecycle rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rule {
    /// The rule's ID (given, or made up as AWS does when absent).
    pub(crate) id: String,
    /// `Status` is `Enabled`.
    pub(crate) enabled: bool,
    /// Which objects the rule applies to.
    pub(crate) filter: Filter,
    /// When current versions expire.
    pub(crate) expiration: Option<Expiration>,
    /// When noncurrent versions expire.
    pub(crate) noncurrent: Option<NoncurrentExpiration>,
    /// Days after initiation when incomplete multipart uploads are aborted.
    pub(crate) abort_upload_days: Option<u32>,
}

/// Which objects a rule applies to, in the form it was given (so GET answers the same XML).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Filter {
    /// The deprecated rule-level `<Prefix>`, outside any `<Filter>`.
    RulePrefix(String),
    /// `<Filter/>`: every object.
    All,
    /// `<Filter><Prefix>`.
    Prefix(String),
    /// `<Filter><Tag>`.
    Tag(String, String),
    /// `<Filter><ObjectSizeGreaterThan>` (bytes).
    SizeGreaterThan(u64),
    /// `<Filter><ObjectSizeLessThan>` (bytes).
    SizeLessThan(u64),
    /// `<Filter><And>`: every condition holds.
    And {
        /// Key prefix.
        prefix: Option<String>,
        /// Tags the object must carry.
        tags: Vec<(String, String)>,
        /// Size strictly greater than (bytes).
        size_greater_than: Option<u64>,
        /// Size strictly less than (bytes).
        size_less_than: Option<u64>,
    },
}

/// When current versions expire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Expiration {
    /// Days after creation (counted to the next midnight UTC, as AWS does).
    Days(u32),
    /// From this midnight UTC (seconds since the Unix epoch).
    Date(i64),
    /// Whether to remove a delete marker that has no other versions left.
    ExpiredObjectDeleteMarker(bool),
}

/// When noncurrent versions expire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NoncurrentExpiration {
    /// Days after becoming noncurrent.
    pub(crate) days: u32,
    /// How many of the newest noncurrent versions to keep regardless.
    pub(crate) newer_versions: Option<u32>,
}

fn malformed() -> S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
}

/// A positive day count, or `InvalidArgument` with AWS's message for `what`.
fn positive_days(days: i32, what: &str) -> S3Result<u32> {
    u32::try_from(days).ok().filter(|d| *d > 0).ok_or_else(|| {
        S3Error::with_message(
            s3s::S3ErrorCode::InvalidArgument,
            format!("{what} must be a positive integer"),
        )
    })
}

fn size(bytes: i64) -> S3Result<u64> {
    u64::try_from(bytes).map_err(|_| {
        s3_error!(
            InvalidArgument,
            "The object size filter must be a non-negative integer"
        )
    })
}

fn tag_pair(tag: Tag) -> S3Result<(String, String)> {
    let key = tag.key.ok_or_else(malformed)?;
    Ok((key, tag.value.unwrap_or_default()))
}

impl Filter {
    fn from_dto(prefix: Option<String>, filter: Option<LifecycleRuleFilter>) -> S3Result<Self> {
        let filter = match (prefix, filter) {
            (Some(prefix), None) => return Ok(Self::RulePrefix(prefix)),
            (None, Some(filter)) => filter,
            // AWS wants exactly one of the two.
            _ => return Err(malformed()),
        };
        let LifecycleRuleFilter {
            and,
            object_size_greater_than,
            object_size_less_than,
            prefix,
            tag,
        } = filter;
        let given = usize::from(and.is_some())
            + usize::from(object_size_greater_than.is_some())
            + usize::from(object_size_less_than.is_some())
            + usize::from(prefix.is_some())
            + usize::from(tag.is_some());
        if given > 1 {
            // Two conditions need `<And>`.
            return Err(malformed());
        }
        if let Some(and) = and {
            return Self::from_and(and);
        }
        Ok(
            match (object_size_greater_than, object_size_less_than, prefix, tag) {
                (Some(gt), ..) => Self::SizeGreaterThan(size(gt)?),
                (_, Some(lt), ..) => Self::SizeLessThan(size(lt)?),
                (_, _, Some(prefix), _) => Self::Prefix(prefix),
                (_, _, _, Some(tag)) => {
                    let (key, value) = tag_pair(tag)?;
                    Self::Tag(key, value)
                }
                _ => Self::All,
            },
        )
    }

    fn from_and(and: LifecycleRuleAndOperator) -> S3Result<Self> {
        let tags = and
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(tag_pair)
            .collect::<S3Result<Vec<_>>>()?;
        let mut keys = std::collections::HashSet::new();
        if !tags.iter().all(|(k, _)| keys.insert(k.as_str())) {
            return Err(s3_error!(
                InvalidRequest,
                "Duplicate Tag Keys are not allowed."
            ));
        }
        let size_greater_than = and.object_size_greater_than.map(size).transpose()?;
        let size_less_than = and.object_size_less_than.map(size).transpose()?;
        if let (Some(gt), Some(lt)) = (size_greater_than, size_less_than)
            && lt <= gt
        {
            return Err(s3_error!(
                InvalidArgument,
                "ObjectSizeLessThan must be greater than ObjectSizeGreaterThan"
            ));
        }
        Ok(Self::And {
            prefix: and.prefix,
            tags,
            size_greater_than,
            size_less_than,
        })
    }

    /// Whether the filter names tags (some actions refuse tag filters).
    pub(crate) fn has_tags(&self) -> bool {
        match self {
            Self::Tag(..) => true,
            Self::And { tags, .. } => !tags.is_empty(),
            _ => false,
        }
    }

    /// Whether the filter names a size (AbortIncompleteMultipartUpload refuses those).
    fn has_size(&self) -> bool {
        match self {
            Self::SizeGreaterThan(_) | Self::SizeLessThan(_) => true,
            Self::And {
                size_greater_than,
                size_less_than,
                ..
            } => size_greater_than.is_some() || size_less_than.is_some(),
            _ => false,
        }
    }

    /// Whether an object with `key`, `size` bytes and `tags` is one this filter selects.
    pub(crate) fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        let has = |k: &str, v: &str| tags.iter().any(|(tk, tv)| tk == k && tv == v);
        match self {
            Self::RulePrefix(p) | Self::Prefix(p) => key.starts_with(p.as_str()),
            Self::All => true,
            Self::Tag(k, v) => has(k, v),
            Self::SizeGreaterThan(gt) => size > *gt,
            Self::SizeLessThan(lt) => size < *lt,
            Self::And {
                prefix,
                tags: wanted,
                size_greater_than,
                size_less_than,
            } => {
                prefix.as_deref().is_none_or(|p| key.starts_with(p))
                    && wanted.iter().all(|(k, v)| has(k, v))
                    && size_greater_than.is_none_or(|gt| size > gt)
                    && size_less_than.is_none_or(|lt| size < lt)
            }
        }
    }

    /// The rule-level prefix and the `<Filter>` to answer with.
    fn to_dto(&self) -> (Option<String>, Option<LifecycleRuleFilter>) {
        let tag = |k: &str, v: &str| Tag {
            key: Some(k.to_owned()),
            value: Some(v.to_owned()),
        };
        let size = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let filter = match self {
            Self::RulePrefix(p) => return (Some(p.clone()), None),
            Self::All => LifecycleRuleFilter::default(),
            Self::Prefix(p) => LifecycleRuleFilter {
                prefix: Some(p.clone()),
                ..LifecycleRuleFilter::default()
            },
            Self::Tag(k, v) => LifecycleRuleFilter {
                tag: Some(tag(k, v)),
                ..LifecycleRuleFilter::default()
            },
            Self::SizeGreaterThan(n) => LifecycleRuleFilter {
                object_size_greater_than: Some(size(*n)),
                ..LifecycleRuleFilter::default()
            },
            Self::SizeLessThan(n) => LifecycleRuleFilter {
                object_size_less_than: Some(size(*n)),
                ..LifecycleRuleFilter::default()
            },
            Self::And {
                prefix,
                tags,
                size_greater_than,
                size_less_than,
            } => LifecycleRuleFilter {
                and: Some(LifecycleRuleAndOperator {
                    prefix: prefix.clone(),
                    tags: (!tags.is_empty()).then(|| tags.iter().map(|(k, v)| tag(k, v)).collect()),
                    object_size_greater_than: size_greater_than.map(size),
                    object_size_less_than: size_less_than.map(size),
                }),
                ..LifecycleRuleFilter::default()
            },
        };
        (None, Some(filter))
    }
}

impl Expiration {
    fn from_dto(e: LifecycleExpiration) -> S3Result<Self> {
        match (e.days, e.date, e.expired_object_delete_marker) {
            (Some(days), None, None) => Ok(Self::Days(positive_days(
                days,
                "'Days' for Expiration action",
            )?)),
            (None, Some(date), None) => {
                let date = time::OffsetDateTime::from(date);
                let secs = date.unix_timestamp();
                if secs.rem_euclid(DAY_SECS) != 0 || date.nanosecond() != 0 {
                    return Err(s3_error!(InvalidArgument, "'Date' must be at midnight GMT"));
                }
                Ok(Self::Date(secs))
            }
            (None, None, Some(marker)) => Ok(Self::ExpiredObjectDeleteMarker(marker)),
            // Days, Date and ExpiredObjectDeleteMarker exclude one another; none at all is
            // not an Expiration either.
            _ => Err(malformed()),
        }
    }

    fn to_dto(&self) -> LifecycleExpiration {
        match self {
            Self::Days(days) => LifecycleExpiration {
                days: Some(i32::try_from(*days).unwrap_or(i32::MAX)),
                ..LifecycleExpiration::default()
            },
            Self::Date(secs) => LifecycleExpiration {
                date: time::OffsetDateTime::from_unix_timestamp(*secs)
                    .ok()
                    .map(Into::into),
                ..LifecycleExpiration::default()
            },
            Self::ExpiredObjectDeleteMarker(marker) => LifecycleExpiration {
                expired_object_delete_marker: Some(*marker),
                ..LifecycleExpiration::default()
            },
        }
    }
}

impl NoncurrentExpiration {
    fn from_dto(n: &NoncurrentVersionExpiration) -> S3Result<Self> {
        let days = n.noncurrent_days.ok_or_else(malformed)?;
        let days = positive_days(
            days,
            "'NoncurrentDays' for NoncurrentVersionExpiration action",
        )?;
        let newer_versions = n
            .newer_noncurrent_versions
            .map(|count| {
                u32::try_from(count)
                    .ok()
                    .filter(|c| (1..=MAX_NEWER_NONCURRENT).contains(c))
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to 100"
                        )
                    })
            })
            .transpose()?;
        Ok(Self {
            days,
            newer_versions,
        })
    }

    fn to_dto(&self) -> NoncurrentVersionExpiration {
        NoncurrentVersionExpiration {
            noncurrent_days: Some(i32::try_from(self.days).unwrap_or(i32::MAX)),
            newer_noncurrent_versions: self
                .newer_versions
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
        }
    }
}

/// An ID for a rule that came without one: AWS makes up a random one too.
fn generated_id() -> S3Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|_| s3_error!(InternalError, "no randomness for a rule ID"))?;
    Ok(hex::encode(bytes))
}

impl Rule {
    fn from_dto(rule: LifecycleRule) -> S3Result<Self> {
        if rule.transitions.as_ref().is_some_and(|t| !t.is_empty())
            || rule
                .noncurrent_version_transitions
                .as_ref()
                .is_some_and(|t| !t.is_empty())
        {
            return Err(s3_error!(
                NotImplemented,
                "Transitions are not supported: Coffer has one storage class."
            ));
        }
        let enabled = match rule.status.as_str() {
            ExpirationStatus::ENABLED => true,
            ExpirationStatus::DISABLED => false,
            _ => return Err(malformed()),
        };
        let id = match rule.id {
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                return Err(s3_error!(
                    InvalidArgument,
                    "ID length should not exceed allowed limit of 255"
                ));
            }
            Some(id) if !id.is_empty() => id,
            _ => generated_id()?,
        };
        let filter = Filter::from_dto(rule.prefix, rule.filter)?;
        let expiration = rule.expiration.map(Expiration::from_dto).transpose()?;
        let noncurrent = rule
            .noncurrent_version_expiration
            .as_ref()
            .map(NoncurrentExpiration::from_dto)
            .transpose()?;
        let abort_upload_days = rule
            .abort_incomplete_multipart_upload
            .map(|a| {
                let days = a.days_after_initiation.ok_or_else(malformed)?;
                positive_days(
                    days,
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action",
                )
            })
            .transpose()?;
        Self::check_combination(
            &filter,
            expiration.as_ref(),
            noncurrent.as_ref(),
            abort_upload_days,
        )?;
        Ok(Self {
            id,
            enabled,
            filter,
            expiration,
            noncurrent,
            abort_upload_days,
        })
    }

    /// The action combinations AWS refuses.
    fn check_combination(
        filter: &Filter,
        expiration: Option<&Expiration>,
        noncurrent: Option<&NoncurrentExpiration>,
        abort_upload_days: Option<u32>,
    ) -> S3Result<()> {
        if expiration.is_none() && noncurrent.is_none() && abort_upload_days.is_none() {
            return Err(s3_error!(
                InvalidRequest,
                "At least one action needs to be specified in a rule"
            ));
        }
        if abort_upload_days.is_some() && filter.has_tags() {
            return Err(s3_error!(
                InvalidRequest,
                "AbortIncompleteMultipartUpload cannot be specified with Tags."
            ));
        }
        if abort_upload_days.is_some() && filter.has_size() {
            return Err(s3_error!(
                InvalidRequest,
                "AbortIncompleteMultipartUpload cannot be specified with an object size filter."
            ));
        }
        if matches!(
            expiration,
            Some(Expiration::ExpiredObjectDeleteMarker(true))
        ) && filter.has_tags()
        {
            return Err(s3_error!(
                InvalidRequest,
                "ExpiredObjectDeleteMarker cannot be specified with object tags."
            ));
        }
        Ok(())
    }

    fn to_dto(&self) -> LifecycleRule {
        let (prefix, filter) = self.filter.to_dto();
        LifecycleRule {
            abort_incomplete_multipart_upload: self.abort_upload_days.map(|days| {
                AbortIncompleteMultipartUpload {
                    days_after_initiation: Some(i32::try_from(days).unwrap_or(i32::MAX)),
                }
            }),
            expiration: self.expiration.as_ref().map(Expiration::to_dto),
            filter,
            id: Some(self.id.clone()),
            noncurrent_version_expiration: self
                .noncurrent
                .as_ref()
                .map(NoncurrentExpiration::to_dto),
            noncurrent_version_transitions: None,
            prefix,
            status: ExpirationStatus::from_static(if self.enabled {
                ExpirationStatus::ENABLED
            } else {
                ExpirationStatus::DISABLED
            }),
            transitions: None,
        }
    }
}

impl Lifecycle {
    /// The configuration of a PutBucketLifecycleConfiguration body, checked as AWS checks it.
    ///
    /// # Errors
    /// `MalformedXML`, `InvalidArgument`, `InvalidRequest` or `NotImplemented` (transitions),
    /// with AWS's messages.
    pub(crate) fn from_dto(config: BucketLifecycleConfiguration) -> S3Result<Self> {
        if config.rules.is_empty() || config.rules.len() > MAX_RULES {
            return Err(malformed());
        }
        let rules = config
            .rules
            .into_iter()
            .map(Rule::from_dto)
            .collect::<S3Result<Vec<_>>>()?;
        let mut ids = std::collections::HashSet::new();
        if !rules.iter().all(|r| ids.insert(r.id.as_str())) {
            return Err(s3_error!(
                InvalidArgument,
                "Rule ID must be unique. Found same ID for more than one rule"
            ));
        }
        Ok(Self { rules })
    }

    /// The rules as GetBucketLifecycleConfiguration answers them.
    pub(crate) fn to_dto(&self) -> Vec<LifecycleRule> {
        self.rules.iter().map(Rule::to_dto).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;

    fn rule() -> LifecycleRule {
        LifecycleRule {
            abort_incomplete_multipart_upload: None,
            expiration: Some(LifecycleExpiration {
                days: Some(30),
                ..LifecycleExpiration::default()
            }),
            filter: Some(LifecycleRuleFilter {
                prefix: Some("tmp/".into()),
                ..LifecycleRuleFilter::default()
            }),
            id: Some("tmp".into()),
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            transitions: None,
        }
    }

    fn code_of(rules: Vec<LifecycleRule>) -> S3ErrorCode {
        Lifecycle::from_dto(BucketLifecycleConfiguration { rules })
            .unwrap_err()
            .code()
            .clone()
    }

    #[test]
    fn a_valid_configuration_round_trips() {
        let mut and = rule();
        and.id = Some("and".into());
        and.filter = Some(LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("a/".into()),
                tags: Some(vec![Tag {
                    key: Some("k".into()),
                    value: Some("v".into()),
                }]),
                object_size_greater_than: Some(10),
                object_size_less_than: Some(100),
            }),
            ..LifecycleRuleFilter::default()
        });
        let config = Lifecycle::from_dto(BucketLifecycleConfiguration {
            rules: vec![rule(), and.clone()],
        })
        .unwrap();
        let stored = postcard::to_allocvec(&config).unwrap();
        let back: Lifecycle = postcard::from_bytes(&stored).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.to_dto(), vec![rule(), and]);
        let f = &back.rules[1].filter;
        assert!(f.matches("a/x", 50, &[("k".into(), "v".into())]));
        assert!(!f.matches("a/x", 100, &[("k".into(), "v".into())]));
        assert!(!f.matches("b/x", 50, &[("k".into(), "v".into())]));
        assert!(!f.matches("a/x", 50, &[]));
    }

    #[test]
    fn aws_refusals_carry_aws_codes() {
        let mut two = rule();
        two.filter.as_mut().unwrap().tag = Some(Tag {
            key: Some("k".into()),
            value: Some("v".into()),
        });
        assert_eq!(code_of(vec![two]), S3ErrorCode::MalformedXML);
        let mut zero = rule();
        zero.expiration.as_mut().unwrap().days = Some(0);
        assert_eq!(code_of(vec![zero]), S3ErrorCode::InvalidArgument);
        let mut long = rule();
        long.id = Some("x".repeat(256));
        assert_eq!(code_of(vec![long]), S3ErrorCode::InvalidArgument);
        assert_eq!(code_of(vec![rule(), rule()]), S3ErrorCode::InvalidArgument);
        let mut bad_status = rule();
        bad_status.status = ExpirationStatus::from("enabled".to_owned());
        assert_eq!(code_of(vec![bad_status]), S3ErrorCode::MalformedXML);
        assert_eq!(code_of(Vec::new()), S3ErrorCode::MalformedXML);
        assert_eq!(
            code_of(vec![rule(); MAX_RULES + 1]),
            S3ErrorCode::MalformedXML
        );
    }
}
