//! Coffer's users, credentials, policies and access decisions.
//!
//! This crate knows nothing of HTTP or S3 wire types. The server wraps it:
//! [`Auth::secret_for`] feeds signature verification, [`Auth::identify`] names the caller,
//! and [`Auth::authorize`] is the one place that decides every S3, IAM and STS request
//! (rules in `decision.rs`); [`policy`] is AWS's policy language and [`acl`] the ACLs
//! Coffer accepts (P2) and the bucket grants it keeps.
//!
//! The directory (users, keys, inline policies) lives in one sealed record of the store
//! (never in clear, P3). There are no default credentials (P8): the root comes from the
//! operator or is generated at the first start of a data directory and shown once.
//!
//! ```no_run
//! # async fn example(store: coffer_storage::Store) -> Result<(), coffer_auth::Error> {
//! use coffer_auth::{Auth, RootSource};
//!
//! let (auth, generated) = Auth::open(&store, RootSource::StoredOrGenerated).await?;
//! if let Some(root) = generated {
//!     println!("AWS_ACCESS_KEY_ID={}", root.access_key);
//! }
//! let scanner = auth.create_user("scanner").await?;
//! let key = auth.create_access_key(&scanner.name).await?;
//! assert_eq!(auth.identify(&key.info.access_key).unwrap().name, "scanner");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod acl;
mod decision;
mod directory;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keys;
pub mod policy;
mod records;
mod s3_actions;
mod secret;
mod users;

use std::fmt;
use std::sync::{Arc, RwLock};

pub use decision::{AccessRequest, BucketFacts, Decision, DenyReason, RequestFacts};
pub use directory::Identity;
pub use error::Error;
pub use keys::{
    GeneratedRoot, MAX_SECRET_LEN, MIN_SECRET_LEN, ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR,
    RootSource, SecretStrength, check_access_key, check_secret,
};
pub use records::KeyStatus;
pub use s3_actions::{
    BYPASS_GOVERNANCE, OWNERSHIP_REFUSED, WEBSITE_REFUSED, refused_operation, s3_action,
    s3_action_for, s3_actions_for, s3_resource,
};
pub use secret::{Secret, constant_time_eq};
pub use users::{AccessKeyInfo, NewAccessKey, UserInfo};

use directory::Directory;
use records::{CREDENTIALS_RECORD, DirectoryRecord, KeyRecord, RecordStore};

/// The user directory and the access decision. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

/// Principal (stable user id) of the root user. Buckets created by root are owned by it, so
/// replacing the root access key keeps them reachable.
pub const ROOT_PRINCIPAL: &str = "root";

struct Inner {
    store: Arc<dyn RecordStore>,
    /// The table requests read; replaced whole after each change.
    current: RwLock<Arc<Directory>>,
    /// Changes are made one at a time: read, change, store sealed, swap.
    changes: tokio::sync::Mutex<()>,
    /// The root the operator gave at open, which replaces the stored one.
    provided: Option<(String, Secret)>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.directory().record.users.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Loads the directory of `store`, settling the root credential from `root`:
    ///
    /// - [`RootSource::Provided`]: that credential is the root. If the data directory
    ///   already holds a *different* root, the provided one **replaces** it (the old access
    ///   key stops working); this is how an operator rotates or recovers the root.
    /// - [`RootSource::StoredOrGenerated`]: the stored root; at the first start of a data
    ///   directory a root is generated, stored sealed, and returned once as
    ///   [`GeneratedRoot`] so the caller can show it. It is never returned again.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the sealed record cannot be read or written,
    /// [`Error::Corrupt`] if it does not decode, [`Error::Random`] if generation fails.
    pub async fn open(
        store: &coffer_storage::Store,
        root: RootSource,
    ) -> Result<(Auth, Option<GeneratedRoot>), Error> {
        Self::open_in(Arc::new(store.clone()), root).await
    }

    async fn open_in(
        store: Arc<dyn RecordStore>,
        root: RootSource,
    ) -> Result<(Auth, Option<GeneratedRoot>), Error> {
        let provided = match &root {
            RootSource::Provided { access_key, secret } => {
                Some((access_key.clone(), secret.clone()))
            }
            RootSource::StoredOrGenerated => None,
        };
        let stored = match store.get_record(CREDENTIALS_RECORD).await? {
            Some(bytes) => DirectoryRecord::decode(&bytes, users::new_account_id)?,
            None => None,
        };
        let (record, generated, changed) = match (root, stored) {
            (RootSource::Provided { access_key, secret }, Some(mut record)) => {
                let changed = replace_root(&mut record, access_key, &secret);
                (record, None, changed)
            }
            (RootSource::Provided { access_key, secret }, None) => {
                let record = DirectoryRecord::new(
                    users::new_account_id()?,
                    root_key(access_key, &secret),
                    Vec::new(),
                );
                (record, None, true)
            }
            (RootSource::StoredOrGenerated, Some(record)) => (record, None, false),
            (RootSource::StoredOrGenerated, None) => {
                let fresh = GeneratedRoot::generate()?;
                let record = DirectoryRecord::new(
                    users::new_account_id()?,
                    root_key(fresh.access_key.clone(), &fresh.secret),
                    Vec::new(),
                );
                (record, Some(fresh), true)
            }
        };
        // An upgraded version 1 record is written back as version 2 on its first change.
        if changed {
            match store.put_record(CREDENTIALS_RECORD, record.encode()?).await {
                // A standby: the directory is the primary's, which `refresh` reads as the
                // index it follows brings it; the root given is used meanwhile.
                Err(Error::Storage {
                    source: coffer_storage::Error::NotWriter { .. },
                    ..
                }) => {}
                other => other?,
            }
        }
        let auth = Auth {
            inner: Arc::new(Inner {
                store,
                current: RwLock::new(Arc::new(Directory::new(record))),
                changes: tokio::sync::Mutex::new(()),
                provided,
            }),
        };
        Ok((auth, generated))
    }

    /// Reads the stored directory again, for a standby whose index follows a primary's
    /// (users, keys and policies changed there). The root given at open still replaces
    /// the stored one, in memory only. Returns whether there was a stored directory.
    ///
    /// # Errors
    /// [`Error::Storage`], [`Error::Corrupt`].
    pub async fn refresh(&self) -> Result<bool, Error> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let Some(bytes) = self.inner.store.get_record(CREDENTIALS_RECORD).await? else {
            return Ok(false);
        };
        let Some(mut record) = DirectoryRecord::decode(&bytes, users::new_account_id)? else {
            return Ok(false);
        };
        if let Some((access_key, secret)) = &self.inner.provided {
            replace_root(&mut record, access_key.clone(), secret);
        }
        let fresh = Arc::new(Directory::new(record));
        match self.inner.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(true)
    }

    /// The table as it is now.
    fn directory(&self) -> Arc<Directory> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the Arc in
        // it is whole either way.
        match self.inner.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The deployment's account id (12 digits), the same for root and every user.
    pub fn account(&self) -> String {
        self.directory().record.account.clone()
    }

    /// Root's access key id (never its secret), for an operator who must tell which root
    /// credential a data directory holds.
    pub fn root_access_key(&self) -> String {
        self.directory().record.root.access_key.clone()
    }

    /// The secret key of `access_key`, or `None` if there is no such Active key.
    ///
    /// Callers must not let "unknown key" be told apart from "wrong secret" (answer with a
    /// signature mismatch in both cases).
    pub fn secret_for(&self, access_key: &str) -> Option<Secret> {
        self.directory().secret(access_key)
    }

    /// Who is behind `access_key`, or `None` if it is unknown or Inactive (checked at every
    /// request, so a key disabled now is refused on its next request).
    pub fn identify(&self, access_key: &str) -> Option<Identity> {
        self.directory().identity(access_key)
    }

    /// The principal (stable user id) behind `access_key`, or `None` if there is no such
    /// Active key. Record bucket owners by principal, never by access key: keys can be
    /// replaced. Root's principal is [`ROOT_PRINCIPAL`].
    pub fn principal_of(&self, access_key: &str) -> Option<String> {
        self.identify(access_key).map(|id| id.principal)
    }

    /// The name to show for the owner `principal` (`root`, a user's name, or the id itself
    /// for a user since deleted).
    pub fn display_name(&self, principal: &str) -> String {
        let dir = self.directory();
        if principal == ROOT_PRINCIPAL {
            return "root".to_owned();
        }
        dir.user_by_principal(principal).map_or_else(
            || principal.to_owned(),
            |i| dir.record.users[i].name.clone(),
        )
    }
}

/// Root's key record from an operator's or a generated credential.
/// Makes `access_key` and `secret` the root of `record`; whether that changed it.
fn replace_root(record: &mut DirectoryRecord, access_key: String, secret: &Secret) -> bool {
    let same = record.root.access_key == access_key
        && constant_time_eq(record.root.secret.as_bytes(), secret.expose().as_bytes());
    if !same {
        // A user's key cannot also be root's.
        for user in &mut record.users {
            user.keys.retain(|k| k.access_key != access_key);
        }
        record.root = root_key(access_key, secret);
    }
    !same
}

fn root_key(access_key: String, secret: &Secret) -> KeyRecord {
    KeyRecord {
        access_key,
        secret: secret.expose().to_owned(),
        status: KeyStatus::Active,
        created_ms: users::now_ms(),
    }
}

#[cfg(test)]
mod tests;
