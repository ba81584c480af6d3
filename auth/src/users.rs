//! Changes to the directory: users, their access keys and inline policies, with IAM's
//! names, limits and errors (so the IAM API in front of it maps them one to one).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::directory::{Directory, user_arn};
use crate::keys::{ACCESS_KEY_ALPHABET, random_chars};
use crate::records::{CREDENTIALS_RECORD, DirectoryRecord, KeyRecord, KeyStatus, UserRecord};
use crate::{Auth, Error, GeneratedRoot, Secret};

/// Access keys one user may hold (AWS's limit).
pub const MAX_KEYS_PER_USER: usize = 2;
/// Inline policies one user may hold.
pub const MAX_POLICIES_PER_USER: usize = 10;
/// Users one deployment may hold (AWS's default quota is 5000).
pub const MAX_USERS: usize = 5000;

/// A user as IAM's GetUser and ListUsers describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The name.
    pub name: String,
    /// The stable id (`AIDA…`).
    pub id: String,
    /// `arn:aws:iam::<account>:user/<name>`.
    pub arn: String,
    /// When it was created.
    pub created: SystemTime,
}

/// An access key as ListAccessKeys describes it (no secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyInfo {
    /// Its user's name.
    pub user: String,
    /// The access key id.
    pub access_key: String,
    /// Active or Inactive.
    pub status: KeyStatus,
    /// When it was created.
    pub created: SystemTime,
}

/// A key just created: the only time its secret is handed out.
#[derive(Debug)]
pub struct NewAccessKey {
    /// Its description.
    pub info: AccessKeyInfo,
    /// The secret, shown once.
    pub secret: Secret,
}

impl Auth {
    /// Applies `change` to a copy of the directory, stores it sealed, then makes it current.
    /// A change that fails leaves everything as it was.
    async fn change<T>(
        &self,
        change: impl FnOnce(&mut DirectoryRecord) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let mut record = self.directory().record.clone();
        let out = change(&mut record)?;
        self.inner
            .store
            .put_record(CREDENTIALS_RECORD, record.encode()?)
            .await?;
        let fresh = Arc::new(Directory::new(record));
        match self.inner.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(out)
    }

    /// Creates user `name` with no keys and no policies.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a name IAM refuses, [`Error::EntityAlreadyExists`],
    /// [`Error::LimitExceeded`] past [`MAX_USERS`].
    pub async fn create_user(&self, name: &str) -> Result<UserInfo, Error> {
        check_name(name, "userName", 64)?;
        let id = format!("AIDA{}", random_chars(ACCESS_KEY_ALPHABET, 17)?);
        let account = self.account();
        self.change(|record| {
            if record
                .users
                .iter()
                .any(|u| u.name.eq_ignore_ascii_case(name))
            {
                return Err(Error::EntityAlreadyExists(name.to_owned()));
            }
            if record.users.len() >= MAX_USERS {
                return Err(Error::LimitExceeded(
                    "Cannot exceed quota for UsersPerAccount",
                ));
            }
            let user = UserRecord {
                id,
                name: name.to_owned(),
                created_ms: now_ms(),
                keys: Vec::new(),
                policies: Vec::new(),
            };
            let info = user_info(&account, &user);
            record.users.push(user);
            Ok(info)
        })
        .await
    }

    /// User `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`].
    pub fn user(&self, name: &str) -> Result<UserInfo, Error> {
        let dir = self.directory();
        let i = dir.user_index(name).ok_or_else(|| no_user(name))?;
        Ok(user_info(&dir.record.account, &dir.record.users[i]))
    }

    /// The user whose stable id is `principal`, if it is a user (not root, not deleted).
    pub fn user_by_principal(&self, principal: &str) -> Option<UserInfo> {
        let dir = self.directory();
        let i = dir.user_by_principal(principal)?;
        Some(user_info(&dir.record.account, &dir.record.users[i]))
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<UserInfo> {
        let dir = self.directory();
        let mut all: Vec<UserInfo> = dir
            .record
            .users
            .iter()
            .map(|u| user_info(&dir.record.account, u))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Deletes user `name`. As in IAM, its keys and policies must go first; `owns_buckets`
    /// (the caller looks that up in storage) also blocks it, so no bucket is left with an
    /// owner nobody can be.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`], [`Error::DeleteConflict`].
    pub async fn delete_user(&self, name: &str, owns_buckets: bool) -> Result<(), Error> {
        self.change(|record| {
            let i = find(record, name)?;
            let user = &record.users[i];
            if !user.keys.is_empty() {
                return Err(Error::DeleteConflict("delete access keys"));
            }
            if !user.policies.is_empty() {
                return Err(Error::DeleteConflict("delete policies"));
            }
            if owns_buckets {
                return Err(Error::DeleteConflict("delete the user's buckets"));
            }
            record.users.remove(i);
            Ok(())
        })
        .await
    }

    /// A new Active access key for user `name`; its secret is generated (never chosen) and
    /// returned this once.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`]; [`Error::LimitExceeded`] past [`MAX_KEYS_PER_USER`].
    pub async fn create_access_key(&self, name: &str) -> Result<NewAccessKey, Error> {
        let fresh = GeneratedRoot::generate()?;
        self.change(|record| {
            let i = find(record, name)?;
            if record.users[i].keys.len() >= MAX_KEYS_PER_USER {
                return Err(Error::LimitExceeded(
                    "Cannot exceed quota for AccessKeysPerUser: 2",
                ));
            }
            let key = KeyRecord {
                access_key: fresh.access_key.clone(),
                secret: fresh.secret.expose().to_owned(),
                status: KeyStatus::Active,
                created_ms: now_ms(),
            };
            let info = key_info(&record.users[i].name, &key);
            record.users[i].keys.push(key);
            Ok(NewAccessKey {
                info,
                secret: fresh.secret.clone(),
            })
        })
        .await
    }

    /// The access keys of user `name` (no secrets).
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`].
    pub fn access_keys(&self, name: &str) -> Result<Vec<AccessKeyInfo>, Error> {
        let dir = self.directory();
        let user = &dir.record.users[dir.user_index(name).ok_or_else(|| no_user(name))?];
        Ok(user.keys.iter().map(|k| key_info(&user.name, k)).collect())
    }

    /// The name of the user an access key belongs to (Active or not), `None` for root's key
    /// and unknown keys.
    pub fn user_of_key(&self, access_key: &str) -> Option<String> {
        let dir = self.directory();
        dir.record
            .users
            .iter()
            .find(|u| u.keys.iter().any(|k| k.access_key == access_key))
            .map(|u| u.name.clone())
    }

    /// Sets a key of user `name` Active or Inactive; an Inactive key is refused from its
    /// next request on.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`] for the user or the key.
    pub async fn set_access_key_status(
        &self,
        name: &str,
        access_key: &str,
        status: KeyStatus,
    ) -> Result<(), Error> {
        self.change(|record| {
            let i = find(record, name)?;
            let key = record.users[i]
                .keys
                .iter_mut()
                .find(|k| k.access_key == access_key)
                .ok_or_else(|| no_key(access_key))?;
            key.status = status;
            Ok(())
        })
        .await
    }

    /// Deletes a key of user `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`] for the user or the key.
    pub async fn delete_access_key(&self, name: &str, access_key: &str) -> Result<(), Error> {
        self.change(|record| {
            let i = find(record, name)?;
            let keys = &mut record.users[i].keys;
            let before = keys.len();
            keys.retain(|k| k.access_key != access_key);
            if keys.len() == before {
                return Err(no_key(access_key));
            }
            Ok(())
        })
        .await
    }

    /// Replaces root's secret with a generated one, returned this once (for recovery on a
    /// stopped data directory).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reset_root(&self) -> Result<GeneratedRoot, Error> {
        let fresh = GeneratedRoot::generate()?;
        self.change(|record| {
            for user in &mut record.users {
                user.keys.retain(|k| k.access_key != fresh.access_key);
            }
            record.root = KeyRecord {
                access_key: fresh.access_key.clone(),
                secret: fresh.secret.expose().to_owned(),
                status: KeyStatus::Active,
                created_ms: now_ms(),
            };
            Ok(())
        })
        .await?;
        Ok(fresh)
    }

    /// Stores inline policy `policy_name` of user `name` (replacing one of that name),
    /// once `check` (the policy parser) accepts its text.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`], [`Error::Invalid`] for a bad policy name,
    /// [`Error::MalformedPolicy`] from `check`, [`Error::LimitExceeded`].
    pub async fn put_user_policy(
        &self,
        name: &str,
        policy_name: &str,
        text: &str,
    ) -> Result<(), Error> {
        check_name(policy_name, "policyName", 128)?;
        crate::decision::parse_identity_policy(text)?;
        self.change(|record| {
            let i = find(record, name)?;
            let policies = &mut record.users[i].policies;
            if let Some(slot) = policies.iter_mut().find(|(n, _)| n == policy_name) {
                text.clone_into(&mut slot.1);
            } else if policies.len() >= MAX_POLICIES_PER_USER {
                return Err(Error::LimitExceeded(
                    "Cannot exceed quota for PoliciesPerUser",
                ));
            } else {
                policies.push((policy_name.to_owned(), text.to_owned()));
            }
            Ok(())
        })
        .await
    }

    /// The text of inline policy `policy_name` of user `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`] for the user or the policy.
    pub fn user_policy(&self, name: &str, policy_name: &str) -> Result<String, Error> {
        let dir = self.directory();
        let user = &dir.record.users[dir.user_index(name).ok_or_else(|| no_user(name))?];
        user.policies
            .iter()
            .find(|(n, _)| n == policy_name)
            .map(|(_, text)| text.clone())
            .ok_or_else(|| no_policy(policy_name))
    }

    /// The names of user `name`'s inline policies.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`].
    pub fn user_policies(&self, name: &str) -> Result<Vec<String>, Error> {
        let dir = self.directory();
        let user = &dir.record.users[dir.user_index(name).ok_or_else(|| no_user(name))?];
        Ok(user.policies.iter().map(|(n, _)| n.clone()).collect())
    }

    /// Deletes inline policy `policy_name` of user `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`] for the user or the policy.
    pub async fn delete_user_policy(&self, name: &str, policy_name: &str) -> Result<(), Error> {
        self.change(|record| {
            let i = find(record, name)?;
            let policies = &mut record.users[i].policies;
            let before = policies.len();
            policies.retain(|(n, _)| n != policy_name);
            if policies.len() == before {
                return Err(no_policy(policy_name));
            }
            Ok(())
        })
        .await
    }
}

fn find(record: &DirectoryRecord, name: &str) -> Result<usize, Error> {
    record
        .users
        .iter()
        .position(|u| u.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| no_user(name))
}

fn no_user(name: &str) -> Error {
    Error::NoSuchEntity {
        what: "user",
        name: name.to_owned(),
    }
}

fn no_key(access_key: &str) -> Error {
    Error::NoSuchEntity {
        what: "access key",
        name: access_key.to_owned(),
    }
}

fn no_policy(name: &str) -> Error {
    Error::NoSuchEntity {
        what: "policy",
        name: name.to_owned(),
    }
}

fn user_info(account: &str, user: &UserRecord) -> UserInfo {
    UserInfo {
        name: user.name.clone(),
        id: user.id.clone(),
        arn: user_arn(account, &user.name),
        created: time_from_ms(user.created_ms),
    }
}

fn key_info(user: &str, key: &KeyRecord) -> AccessKeyInfo {
    AccessKeyInfo {
        user: user.to_owned(),
        access_key: key.access_key.clone(),
        status: key.status,
        created: time_from_ms(key.created_ms),
    }
}

/// IAM's rule for user and policy names: `[\w+=,.@-]`, 1 to `max` characters.
fn check_name(name: &str, field: &str, max: usize) -> Result<(), Error> {
    let ok = (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length \
             1 to {max}"
        )))
    }
}

/// A fresh 12-digit account id (the first digit not 0, as in AWS).
pub(crate) fn new_account_id() -> Result<String, Error> {
    let first = random_chars(b"123456789", 1)?;
    Ok(first + &random_chars(b"0123456789", 11)?)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn time_from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
