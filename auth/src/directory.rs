//! The user directory as held in memory: who each access key belongs to.
//!
//! Built whole from the sealed [`DirectoryRecord`] after every change, so a request sees
//! one consistent table (an `Arc` swapped under a lock, never edited in place).

use std::collections::HashMap;

use crate::policy::Policy;
use crate::records::{DirectoryRecord, KeyStatus};
use crate::{ROOT_PRINCIPAL, Secret};

/// Who is behind a verified access key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The stable id buckets are owned by: [`ROOT_PRINCIPAL`] or the user's `AIDA…` id.
    pub principal: String,
    /// `root`, or the user's name.
    pub name: String,
    /// `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`.
    pub arn: String,
    /// The deployment's account id.
    pub account: String,
    /// Whether this is the root user (the clinic's break-glass account).
    pub is_root: bool,
}

/// Where an access key belongs.
#[derive(Clone, Copy)]
enum Holder {
    Root,
    User(usize),
}

pub(crate) struct Directory {
    pub(crate) record: DirectoryRecord,
    by_key: HashMap<String, Holder>,
    /// Each user's inline policies, parsed once per change of the table. A stored policy
    /// that no longer parses (it did when it was put) denies everything: fail closed.
    policies: HashMap<String, Vec<Result<Policy, crate::Error>>>,
}

impl Directory {
    pub(crate) fn new(record: DirectoryRecord) -> Directory {
        let mut by_key = HashMap::new();
        let mut policies = HashMap::new();
        by_key.insert(record.root.access_key.clone(), Holder::Root);
        for (i, user) in record.users.iter().enumerate() {
            for key in &user.keys {
                by_key.insert(key.access_key.clone(), Holder::User(i));
            }
            let parsed = user
                .policies
                .iter()
                .map(|(_, text)| crate::decision::parse_identity_policy(text))
                .collect();
            policies.insert(user.id.clone(), parsed);
        }
        Directory {
            record,
            by_key,
            policies,
        }
    }

    /// The secret of an Active key; `None` for unknown and Inactive keys alike.
    pub(crate) fn secret(&self, access_key: &str) -> Option<Secret> {
        let key = match *self.by_key.get(access_key)? {
            Holder::Root => &self.record.root,
            Holder::User(i) => self.record.users[i]
                .keys
                .iter()
                .find(|k| k.access_key == access_key)?,
        };
        (key.status == KeyStatus::Active).then(|| Secret::new(key.secret.clone()))
    }

    /// The identity behind an Active key.
    pub(crate) fn identity(&self, access_key: &str) -> Option<Identity> {
        self.secret(access_key)?;
        Some(match *self.by_key.get(access_key)? {
            Holder::Root => self.root_identity(),
            Holder::User(i) => self.user_identity(i),
        })
    }

    pub(crate) fn root_identity(&self) -> Identity {
        let account = &self.record.account;
        Identity {
            principal: ROOT_PRINCIPAL.to_owned(),
            name: "root".to_owned(),
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.clone(),
            is_root: true,
        }
    }

    pub(crate) fn user_identity(&self, index: usize) -> Identity {
        let account = &self.record.account;
        let user = &self.record.users[index];
        Identity {
            principal: user.id.clone(),
            name: user.name.clone(),
            arn: user_arn(account, &user.name),
            account: account.clone(),
            is_root: false,
        }
    }

    /// The index of the user named `name` (IAM names are unique without regard to case).
    pub(crate) fn user_index(&self, name: &str) -> Option<usize> {
        self.record
            .users
            .iter()
            .position(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The parsed inline policies of the user whose stable id is `principal`; `None` if
    /// there is no such user.
    pub(crate) fn policies_of(&self, principal: &str) -> Option<&[Result<Policy, crate::Error>]> {
        self.policies.get(principal).map(Vec::as_slice)
    }

    /// The user whose stable id is `principal`.
    pub(crate) fn user_by_principal(&self, principal: &str) -> Option<usize> {
        self.record.users.iter().position(|u| u.id == principal)
    }
}

/// The ARN of user `name` in `account`.
pub(crate) fn user_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}
