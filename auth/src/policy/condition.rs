//! The `Condition` block: operators, their values (converted once at parse time) and their
//! evaluation against a request's condition keys.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::Value;

use super::cidr::Cidr;
use super::matching::{self, Template, Unit};
use super::{EvalRequest, PolicyError, date, request_values, variable_value};

/// One `"Operator": {"key": values}` pair of a condition block.
#[derive(Clone, Debug)]
pub(super) struct Condition {
    /// Lower-cased: condition keys are case-insensitive.
    key: String,
    test: Test,
}

#[derive(Clone, Debug)]
enum Test {
    /// `Null`: true when the key's presence is as stated.
    Null { absent: bool },
    Compare {
        set: Set,
        /// `...IfExists`: true when the key is absent.
        if_exists: bool,
        /// `...Not...`: true when the request value matches none of the policy's values.
        negated: bool,
        values: Values,
    },
}

/// How a multi-valued key is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Set {
    /// No prefix.
    Single,
    /// `ForAnyValue:`: at least one request value passes.
    AnyValue,
    /// `ForAllValues:`: every request value passes (and an absent key passes, as in AWS).
    AllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ordering {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Ordering {
    fn holds<T: PartialOrd>(self, request: &T, policy: &T) -> bool {
        match self {
            Ordering::Equal => request == policy,
            Ordering::Less => request < policy,
            Ordering::LessOrEqual => request <= policy,
            Ordering::Greater => request > policy,
            Ordering::GreaterOrEqual => request >= policy,
        }
    }
}

/// The policy's values, in the form the operator compares.
#[derive(Clone, Debug)]
enum Values {
    Strings {
        patterns: Vec<Template>,
        fold_case: bool,
    },
    /// ARNs compare component by component, so a wildcard never spans a `:`.
    Arns(Vec<Template>),
    Numbers(Ordering, Vec<f64>),
    Dates(Ordering, Vec<SystemTime>),
    Bools(Vec<bool>),
    Ips(Vec<Cidr>),
}

/// What an operator's base name (without prefix or `IfExists`) compares.
#[derive(Clone, Copy)]
enum Family {
    String { fold_case: bool, wildcards: bool },
    Arn,
    Numeric(Ordering),
    Date(Ordering),
    Bool,
    Ip,
}

/// Base operator names, lower-cased, with what they compare and whether they are negated.
const OPERATORS: &[(&str, Family, bool)] = &[
    ("stringequals", STRING, false),
    ("stringnotequals", STRING, true),
    ("stringequalsignorecase", STRING_FOLD, false),
    ("stringnotequalsignorecase", STRING_FOLD, true),
    ("stringlike", STRING_LIKE, false),
    ("stringnotlike", STRING_LIKE, true),
    ("numericequals", Family::Numeric(Ordering::Equal), false),
    ("numericnotequals", Family::Numeric(Ordering::Equal), true),
    ("numericlessthan", Family::Numeric(Ordering::Less), false),
    (
        "numericlessthanequals",
        Family::Numeric(Ordering::LessOrEqual),
        false,
    ),
    (
        "numericgreaterthan",
        Family::Numeric(Ordering::Greater),
        false,
    ),
    (
        "numericgreaterthanequals",
        Family::Numeric(Ordering::GreaterOrEqual),
        false,
    ),
    ("dateequals", Family::Date(Ordering::Equal), false),
    ("datenotequals", Family::Date(Ordering::Equal), true),
    ("datelessthan", Family::Date(Ordering::Less), false),
    (
        "datelessthanequals",
        Family::Date(Ordering::LessOrEqual),
        false,
    ),
    ("dategreaterthan", Family::Date(Ordering::Greater), false),
    (
        "dategreaterthanequals",
        Family::Date(Ordering::GreaterOrEqual),
        false,
    ),
    ("bool", Family::Bool, false),
    ("ipaddress", Family::Ip, false),
    ("notipaddress", Family::Ip, true),
    // AWS documents ArnEquals as ArnLike: wildcards are honoured in both.
    ("arnequals", Family::Arn, false),
    ("arnlike", Family::Arn, false),
    ("arnnotequals", Family::Arn, true),
    ("arnnotlike", Family::Arn, true),
];

const STRING: Family = Family::String {
    fold_case: false,
    wildcards: false,
};
const STRING_FOLD: Family = Family::String {
    fold_case: true,
    wildcards: false,
};
const STRING_LIKE: Family = Family::String {
    fold_case: false,
    wildcards: true,
};

/// Parses a statement's `Condition` block. `variables` is false for Version 2008-10-17.
pub(super) fn parse_block(block: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(operators) = block else {
        return Err(malformed("Condition must be an object of operators"));
    };
    let mut conditions = Vec::new();
    for (operator, body) in operators {
        let Value::Object(keys) = body else {
            return Err(malformed(format!(
                "Condition operator {operator} must map condition keys to values"
            )));
        };
        if keys.is_empty() {
            return Err(malformed(format!(
                "Condition operator {operator} names no condition key"
            )));
        }
        let parsed = Operator::parse(operator)?;
        for (key, values) in keys {
            if key.is_empty() {
                return Err(malformed("Condition key must not be empty"));
            }
            let values = value_strings(values)
                .ok_or_else(|| malformed(format!("Invalid Condition value for {operator}")))?;
            let test = parsed
                .test(&values, variables)
                .ok_or_else(|| malformed(format!("Invalid Condition value for {operator}")))?;
            conditions.push(Condition {
                key: key.to_ascii_lowercase(),
                test,
            });
        }
    }
    Ok(conditions)
}

/// A parsed operator name.
struct Operator {
    set: Set,
    if_exists: bool,
    /// `None` for `Null`.
    base: Option<(Family, bool)>,
}

impl Operator {
    fn parse(name: &str) -> Result<Self, PolicyError> {
        let invalid = || malformed(format!("Invalid Condition operator: {name}"));
        let (set, rest) = if let Some(rest) = strip_prefix_ignore_case(name, "ForAnyValue:") {
            (Set::AnyValue, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(name, "ForAllValues:") {
            (Set::AllValues, rest)
        } else {
            (Set::Single, name)
        };
        let (if_exists, base) = match strip_suffix_ignore_case(rest, "IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let base = base.to_ascii_lowercase();
        if base == "null" {
            // Null asks about presence itself: a set qualifier or IfExists makes no sense.
            if set != Set::Single || if_exists {
                return Err(invalid());
            }
            return Ok(Self {
                set,
                if_exists,
                base: None,
            });
        }
        let (_, family, negated) = OPERATORS
            .iter()
            .find(|(known, _, _)| *known == base)
            .ok_or_else(invalid)?;
        Ok(Self {
            set,
            if_exists,
            base: Some((*family, *negated)),
        })
    }

    /// The test for these policy values; `None` if a value does not suit the operator.
    fn test(&self, values: &[String], variables: bool) -> Option<Test> {
        let Some((family, negated)) = self.base else {
            let [value] = values else { return None };
            return Some(Test::Null {
                absent: parse_bool(value)?,
            });
        };
        let values = match family {
            Family::String {
                fold_case,
                wildcards,
            } => Values::Strings {
                patterns: templates(values, wildcards, variables)?,
                fold_case,
            },
            Family::Arn => Values::Arns(templates(values, true, variables)?),
            Family::Numeric(ordering) => Values::Numbers(
                ordering,
                values
                    .iter()
                    .map(|v| parse_number(v))
                    .collect::<Option<_>>()?,
            ),
            Family::Date(ordering) => Values::Dates(
                ordering,
                values
                    .iter()
                    .map(|v| date::parse(v))
                    .collect::<Option<_>>()?,
            ),
            Family::Bool => Values::Bools(
                values
                    .iter()
                    .map(|v| parse_bool(v))
                    .collect::<Option<_>>()?,
            ),
            Family::Ip => Values::Ips(
                values
                    .iter()
                    .map(|v| Cidr::parse(v))
                    .collect::<Option<_>>()?,
            ),
        };
        Some(Test::Compare {
            set: self.set,
            if_exists: self.if_exists,
            negated,
            values,
        })
    }
}

impl Condition {
    /// Whether the condition holds for `req`. `in_allow` says the statement is an Allow: a
    /// policy variable the request cannot fill then counts against the request in negated
    /// operators too, so a missing value never widens an Allow.
    pub(super) fn holds(&self, req: &EvalRequest<'_>, in_allow: bool) -> bool {
        let values = request_values(req, &self.key).filter(|values| !values.is_empty());
        match &self.test {
            Test::Null { absent } => values.is_none() == *absent,
            Test::Compare {
                set,
                if_exists,
                negated,
                values: policy,
            } => {
                let Some(values) = values else {
                    // AWS: an absent key fails every operator except ...IfExists, and
                    // ForAllValues holds vacuously over no values.
                    return *if_exists || *set == Set::AllValues;
                };
                let unresolved_matches = *negated && in_allow;
                let matcher = policy.resolve(req, unresolved_matches);
                let passes = |value: &String| matcher.matches_any(value) != *negated;
                match set {
                    Set::Single if *negated => values.iter().all(passes),
                    Set::Single | Set::AnyValue => values.iter().any(passes),
                    Set::AllValues => values.iter().all(passes),
                }
            }
        }
    }
}

/// Policy values ready to compare with one request's values (variables substituted).
struct Resolved<'a> {
    values: &'a Values,
    /// For string and ARN values: the substituted patterns, `None` where a variable had no
    /// value.
    patterns: Vec<Option<Cow<'a, [Unit]>>>,
    /// What a pattern with an unfilled variable counts as.
    unresolved_matches: bool,
}

impl Values {
    fn resolve<'a>(&'a self, req: &EvalRequest<'a>, unresolved_matches: bool) -> Resolved<'a> {
        let patterns = match self {
            Values::Strings { patterns, .. } | Values::Arns(patterns) => patterns
                .iter()
                .map(|template| template.resolve(&|key| variable_value(req, key)))
                .collect(),
            _ => Vec::new(),
        };
        Resolved {
            values: self,
            patterns,
            unresolved_matches,
        }
    }
}

impl Resolved<'_> {
    /// Whether `value` matches at least one of the policy's values.
    fn matches_any(&self, value: &str) -> bool {
        match self.values {
            Values::Strings { fold_case, .. } => {
                self.any_pattern(|units| matching::matches(units, value, *fold_case))
            }
            Values::Arns(_) => self.any_pattern(|units| arn_matches(units, value)),
            Values::Numbers(ordering, numbers) => {
                parse_number(value).is_some_and(|v| numbers.iter().any(|n| ordering.holds(&v, n)))
            }
            Values::Dates(ordering, dates) => {
                date::parse(value).is_some_and(|v| dates.iter().any(|d| ordering.holds(&v, d)))
            }
            Values::Bools(bools) => parse_bool(value).is_some_and(|v| bools.contains(&v)),
            Values::Ips(ranges) => value
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|address| ranges.iter().any(|range| range.contains(address))),
        }
    }

    fn any_pattern(&self, matches: impl Fn(&[Unit]) -> bool) -> bool {
        self.patterns.iter().any(|pattern| match pattern {
            Some(units) => matches(units),
            None => self.unresolved_matches,
        })
    }
}

/// Matches an ARN pattern against an ARN one colon-separated component at a time (partition,
/// service, region, account, resource), as AWS does; a pattern with fewer components
/// (`arn:aws:iam::*`) is matched as a whole.
fn arn_matches(pattern: &[Unit], arn: &str) -> bool {
    let pattern_parts: Vec<&[Unit]> = split_units(pattern, 6);
    if pattern_parts.len() < 6 {
        return matching::matches(pattern, arn, false);
    }
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    arn_parts.len() == 6
        && pattern_parts
            .iter()
            .zip(&arn_parts)
            .all(|(pattern, part)| matching::matches(pattern, part, false))
}

/// Splits `units` at literal `:` into at most `limit` parts, the last keeping any further
/// colons (resource paths may contain them).
fn split_units(units: &[Unit], limit: usize) -> Vec<&[Unit]> {
    let mut parts = Vec::with_capacity(limit);
    let mut rest = units;
    while parts.len() + 1 < limit {
        let Some(colon) = rest.iter().position(|u| *u == Unit::Char(':')) else {
            break;
        };
        parts.push(&rest[..colon]);
        rest = &rest[colon + 1..];
    }
    parts.push(rest);
    parts
}

fn templates(values: &[String], wildcards: bool, variables: bool) -> Option<Vec<Template>> {
    values
        .iter()
        .map(|v| Template::parse(v, wildcards, variables).ok())
        .collect()
}

/// A condition's values as strings: JSON booleans and numbers are accepted, as AWS accepts
/// `"aws:SecureTransport": false` and `"s3:max-keys": 10`.
fn value_strings(value: &Value) -> Option<Vec<String>> {
    let one = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let values: Vec<String> = match value {
        Value::Array(items) => items.iter().map(one).collect::<Option<_>>()?,
        other => vec![one(other)?],
    };
    (!values.is_empty()).then_some(values)
}

fn parse_number(text: &str) -> Option<f64> {
    let number: f64 = text.trim().parse().ok()?;
    // "NaN" and "inf" parse as f64 but are not numbers a policy can mean.
    number.is_finite().then_some(number)
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    let tail = text.get(split..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..split])
}

fn malformed(reason: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(reason.into())
}
