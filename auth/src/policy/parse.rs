//! JSON text → validated statements. Every rule of the grammar is checked here, so a stored
//! policy always means what its owner can read in it.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::condition;
use super::duplicate_keys::has_duplicate_keys;
use super::matching::{self, Template, Unit};
use super::principal::Principals;
use super::statement::{Actions, Resources, Statement};
use super::{PolicyError, PolicyKind};

/// AWS's limit for an inline user policy, counted without whitespace.
const IDENTITY_MAX_CHARS: usize = 2048;
/// AWS's limit for a bucket policy.
const BUCKET_MAX_BYTES: usize = 20 * 1024;

/// The version under which policy variables are substituted; older documents (and those
/// without a `Version`) read `${...}` literally, as AWS does.
const VERSION_WITH_VARIABLES: &str = "2012-10-17";
const VERSION_LEGACY: &str = "2008-10-17";

const TOP_FIELDS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

const INVALID_ACTION: &str = "Policy has invalid action";
const INVALID_RESOURCE: &str = "Policy has invalid resource";

/// Parses `text` as a policy of `kind`.
pub(super) fn statements(text: &str, kind: PolicyKind<'_>) -> Result<Vec<Statement>, PolicyError> {
    check_size(text, kind)?;
    // serde_json's message would echo parts of the document; the position is not worth that.
    let document: Value =
        serde_json::from_str(text).map_err(|_| malformed("This policy contains invalid Json"))?;
    if has_duplicate_keys(text) {
        return Err(malformed("Policy contains a duplicate field"));
    }
    let Value::Object(top) = document else {
        return Err(malformed("Policy document must be a JSON object"));
    };
    check_fields(&top, TOP_FIELDS)?;
    let variables = match top.get("Version") {
        None => false,
        Some(Value::String(v)) if v == VERSION_WITH_VARIABLES => true,
        Some(Value::String(v)) if v == VERSION_LEGACY => false,
        Some(_) => return Err(malformed("The policy must contain a valid version string")),
    };
    if top.get("Id").is_some_and(|id| !id.is_string()) {
        return Err(malformed("Policy Id must be a string"));
    }
    let items = match top.get("Statement") {
        None => return Err(malformed("Missing required field Statement")),
        Some(statement @ Value::Object(_)) => std::slice::from_ref(statement),
        Some(Value::Array(items)) if !items.is_empty() => items.as_slice(),
        Some(_) => {
            return Err(malformed(
                "Statement must be an object or a non-empty array",
            ));
        }
    };
    let mut sids = HashSet::new();
    items
        .iter()
        .map(|item| {
            let Value::Object(fields) = item else {
                return Err(malformed("Each Statement must be an object"));
            };
            if let Some(sid) = fields.get("Sid") {
                let sid = sid
                    .as_str()
                    .ok_or_else(|| malformed("Statement Sid must be a string"))?;
                if !sids.insert(sid) {
                    return Err(malformed("Statement IDs (SID) must be unique"));
                }
            }
            statement(fields, kind, variables)
        })
        .collect()
}

fn check_size(text: &str, kind: PolicyKind<'_>) -> Result<(), PolicyError> {
    let too_large = match kind {
        PolicyKind::Identity => {
            text.chars().filter(|c| !c.is_whitespace()).count() > IDENTITY_MAX_CHARS
        }
        PolicyKind::Bucket { .. } => text.len() > BUCKET_MAX_BYTES,
    };
    if too_large {
        return Err(PolicyError::TooLarge);
    }
    Ok(())
}

fn statement(
    fields: &Map<String, Value>,
    kind: PolicyKind<'_>,
    variables: bool,
) -> Result<Statement, PolicyError> {
    check_fields(fields, STATEMENT_FIELDS)?;
    let deny = match fields.get("Effect") {
        None => return Err(malformed("Missing required field Effect")),
        Some(Value::String(effect)) if effect == "Allow" => false,
        Some(Value::String(effect)) if effect == "Deny" => true,
        Some(_) => return Err(malformed("Invalid effect: must be Allow or Deny")),
    };
    // Principals first: a public grant is refused as such (P2) even if it is also wrong in
    // some other way, so the owner learns the rule that matters.
    let principals = principals(fields, kind, deny)?;
    let (negated, actions) = one_of(fields, "Action", "NotAction")?;
    let actions = Actions {
        negated,
        patterns: string_list(actions, INVALID_ACTION)?
            .into_iter()
            .map(|action| action_pattern(action, kind))
            .collect::<Result<_, _>>()?,
    };
    let (negated, resources) = one_of(fields, "Resource", "NotResource")?;
    let resources = Resources {
        negated,
        patterns: string_list(resources, INVALID_RESOURCE)?
            .into_iter()
            .map(|resource| resource_pattern(resource, kind, variables))
            .collect::<Result<_, _>>()?,
    };
    let conditions = match fields.get("Condition") {
        Some(block) => condition::parse_block(block, variables)?,
        None => Vec::new(),
    };
    Ok(Statement {
        deny,
        actions,
        resources,
        principals,
        conditions,
    })
}

fn principals(
    fields: &Map<String, Value>,
    kind: PolicyKind<'_>,
    deny: bool,
) -> Result<Option<Principals>, PolicyError> {
    let principal = fields.get("Principal");
    let not_principal = fields.get("NotPrincipal");
    match kind {
        PolicyKind::Identity => {
            if principal.is_some() || not_principal.is_some() {
                return Err(malformed("Policy document should not specify a principal."));
            }
            Ok(None)
        }
        PolicyKind::Bucket { .. } => match (principal, not_principal) {
            (Some(value), None) => Principals::parse(value, false, deny).map(Some),
            (None, Some(value)) => Principals::parse(value, true, deny).map(Some),
            (None, None) => Err(malformed("Missing required field Principal")),
            (Some(_), Some(_)) => Err(malformed(
                "Statement cannot contain both Principal and NotPrincipal",
            )),
        },
    }
}

/// The value of whichever of `field` / `not_field` is present (exactly one must be), and
/// whether it was the negated one.
fn one_of<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
    not_field: &str,
) -> Result<(bool, &'a Value), PolicyError> {
    match (fields.get(field), fields.get(not_field)) {
        (Some(value), None) => Ok((false, value)),
        (None, Some(value)) => Ok((true, value)),
        (None, None) => Err(malformed(format!("Missing required field {field}"))),
        (Some(_), Some(_)) => Err(malformed(format!(
            "Statement cannot contain both {field} and {not_field}"
        ))),
    }
}

/// A string or a non-empty array of strings; `invalid` otherwise.
fn string_list<'a>(value: &'a Value, invalid: &str) -> Result<Vec<&'a str>, PolicyError> {
    let items: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(|| malformed(invalid)))
            .collect::<Result<_, _>>()?,
        _ => return Err(malformed(invalid)),
    };
    if items.is_empty() {
        return Err(malformed(invalid));
    }
    Ok(items)
}

/// `*`, or `service:pattern` for a service this kind of policy may name.
fn action_pattern(action: &str, kind: PolicyKind<'_>) -> Result<Vec<Unit>, PolicyError> {
    if action == "*" {
        return Ok(matching::compile(action, true));
    }
    let (service, name) = action
        .split_once(':')
        .ok_or_else(|| malformed(INVALID_ACTION))?;
    let services: &[&str] = match kind {
        // `audit:ReadAuditTrail` is Coffer's own: who may read the audit trail. `kms:*`
        // administers the built-in KMS keys.
        PolicyKind::Identity => &["s3", "iam", "sts", "audit", "kms"],
        PolicyKind::Bucket { .. } => &["s3"],
    };
    let service_ok = services.iter().any(|s| s.eq_ignore_ascii_case(service));
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?');
    if !service_ok || !name_ok {
        return Err(malformed(INVALID_ACTION));
    }
    Ok(matching::compile(action, true))
}

/// An ARN pattern this kind of policy may name.
fn resource_pattern(
    resource: &str,
    kind: PolicyKind<'_>,
    variables: bool,
) -> Result<Template, PolicyError> {
    let valid = match kind {
        PolicyKind::Identity => {
            resource == "*"
                || ["arn:aws:s3:::", "arn:aws:iam::", "arn:aws:kms:"]
                    .iter()
                    .any(|prefix| {
                        resource
                            .strip_prefix(prefix)
                            .is_some_and(|rest| !rest.is_empty())
                    })
        }
        // Only the bucket itself and its objects: a bucket policy must not speak for other
        // buckets, and a wildcard in the name (`photos*`) would reach `photos-archive`.
        PolicyKind::Bucket { bucket } => resource
            .strip_prefix("arn:aws:s3:::")
            .and_then(|rest| rest.strip_prefix(bucket))
            .is_some_and(|after| after.is_empty() || after.starts_with('/')),
    };
    if !valid {
        return Err(malformed(INVALID_RESOURCE));
    }
    Template::parse(resource, true, variables).map_err(|_| malformed(INVALID_RESOURCE))
}

fn check_fields(fields: &Map<String, Value>, known: &[&str]) -> Result<(), PolicyError> {
    match fields.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(malformed(format!("Unknown field {unknown}"))),
        None => Ok(()),
    }
}

fn malformed(reason: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(reason.into())
}
