//! `Principal` and `NotPrincipal` in bucket policies, and the P2 refusal of public grants.

use serde_json::Value;

use super::matching::{self, Unit};
use super::{Caller, PolicyError};

/// Why a bucket policy was refused under P2. One message for every public form: the owner
/// needs the rule, not the detail of which form tripped it.
pub(super) const PUBLIC_REFUSAL: &str = "Coffer refuses any policy that could grant access to \
     everyone: an Allow statement must name its users or accounts (no \"*\", no wildcards, no \
     NotPrincipal, no principal type other than AWS)";

const INVALID: &str = "Invalid principal in policy";

/// The principals a statement names.
#[derive(Clone, Debug)]
pub(super) struct Principals {
    /// `NotPrincipal`: the statement applies to callers NOT named.
    negated: bool,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
enum Entry {
    /// `"*"`: only ever accepted in a Deny.
    Everyone,
    /// A 12-digit account id, written bare or as `arn:aws:iam::<account>:root`.
    Account(String),
    /// A user ARN; wildcards only in a Deny.
    User(Vec<Unit>),
}

impl Principals {
    /// Parses a `Principal` (or, with `negated`, `NotPrincipal`) value of a statement whose
    /// effect is Deny when `deny` is set.
    pub(super) fn parse(value: &Value, negated: bool, deny: bool) -> Result<Self, PolicyError> {
        // P2: an Allow must grant to named principals only. NotPrincipal in an Allow grants
        // to everyone but a few, so it is public too.
        if negated && !deny {
            return Err(PolicyError::Public(PUBLIC_REFUSAL));
        }
        let entries = match value {
            Value::String(s) if s == "*" => {
                if !deny {
                    return Err(PolicyError::Public(PUBLIC_REFUSAL));
                }
                vec![Entry::Everyone]
            }
            Value::Object(map) if !map.is_empty() => {
                let mut entries = Vec::new();
                for (kind, names) in map {
                    if kind != "AWS" {
                        // Service, Federated, CanonicalUser...: Coffer cannot tell who these
                        // are, so allowing them could mean anyone. A Deny naming them could
                        // never match one of our callers, so it is an error rather than a
                        // statement that silently does nothing.
                        return Err(if deny {
                            malformed()
                        } else {
                            PolicyError::Public(PUBLIC_REFUSAL)
                        });
                    }
                    for name in string_or_array(names)? {
                        entries.push(parse_aws(name, deny)?);
                    }
                }
                entries
            }
            _ => return Err(malformed()),
        };
        Ok(Self { negated, entries })
    }

    /// Whether the statement applies to `caller`.
    pub(super) fn matches(&self, caller: &Caller) -> bool {
        let named = self.entries.iter().any(|entry| match entry {
            Entry::Everyone => true,
            Entry::Account(account) => *account == caller.account,
            Entry::User(pattern) => matching::matches(pattern, &caller.user_arn, false),
        });
        named != self.negated
    }
}

fn parse_aws(name: &str, deny: bool) -> Result<Entry, PolicyError> {
    if name.contains(['*', '?']) && !deny {
        return Err(PolicyError::Public(PUBLIC_REFUSAL));
    }
    if name == "*" {
        return Ok(Entry::Everyone);
    }
    if is_account(name) {
        return Ok(Entry::Account(name.to_owned()));
    }
    let rest = name.strip_prefix("arn:aws:iam::").ok_or_else(malformed)?;
    let (account, resource) = rest.split_once(':').ok_or_else(malformed)?;
    if !is_account(account) {
        return Err(malformed());
    }
    if resource == "root" {
        return Ok(Entry::Account(account.to_owned()));
    }
    match resource.strip_prefix("user/") {
        Some(user) if !user.is_empty() && !user.contains(':') => {
            // Wildcards reach this point only in a Deny (checked above).
            Ok(Entry::User(matching::compile(name, true)))
        }
        _ => Err(malformed()),
    }
}

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn string_or_array(value: &Value) -> Result<Vec<&str>, PolicyError> {
    let names: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(malformed))
            .collect::<Result<_, _>>()?,
        _ => return Err(malformed()),
    };
    if names.is_empty() {
        return Err(malformed());
    }
    Ok(names)
}

fn malformed() -> PolicyError {
    PolicyError::Malformed(INVALID.to_owned())
}
