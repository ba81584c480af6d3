//! Coffer's users, credentials and access decisions.
//!
//! This crate knows nothing of HTTP or S3 wire types. The server wraps it:
//! [`Auth::secret_for`] feeds signature verification, [`Auth::decide`] answers "may this
//! principal do this to this bucket?".
//!
//! Credentials live in one sealed record of the store (never in clear, P3). There are no
//! default credentials (P8): the root comes from the operator or is generated at the first
//! start of a data directory and shown once.
//!
//! ```no_run
//! # async fn example(store: coffer_storage::Store) -> Result<(), coffer_auth::Error> {
//! use coffer_auth::{Action, Auth, RootSource};
//!
//! let (auth, generated) = Auth::open(&store, RootSource::StoredOrGenerated).await?;
//! if let Some(root) = generated {
//!     println!("AWS_ACCESS_KEY_ID={}", root.access_key);
//! }
//! let secret = auth.secret_for("CFEXAMPLEKEY0000000");
//! assert!(secret.is_none() || auth.decide("CFEXAMPLEKEY0000000", Action::ListBuckets, None).is_allowed());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod decision;
mod error;
mod keys;
pub mod policy;
mod records;
mod secret;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use decision::{Action, Decision, DenyReason};
pub use error::Error;
pub use keys::{
    GeneratedRoot, MAX_SECRET_LEN, MIN_SECRET_LEN, ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR,
    RootSource, check_access_key, check_secret,
};
pub use secret::{Secret, constant_time_eq};

use records::{CREDENTIALS_RECORD, CredentialRecord, RecordStore, UserRecord};

/// The user table and the access decision. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

/// Principal (stable user id) of the root user. Buckets created by root are owned by it, so
/// replacing the root access key keeps them reachable.
pub const ROOT_PRINCIPAL: &str = "root";

struct Inner {
    /// Access key → user.
    users: HashMap<String, User>,
    /// Principal → is root.
    principals: HashMap<String, bool>,
}

struct User {
    principal: String,
    secret: Secret,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.inner.users.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Loads the credentials of `store`, settling the root credential from `root`:
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
        Self::open_in(store, root).await
    }

    async fn open_in(
        store: &impl RecordStore,
        root: RootSource,
    ) -> Result<(Auth, Option<GeneratedRoot>), Error> {
        let stored = match store.get_record(CREDENTIALS_RECORD).await? {
            Some(bytes) => Some(CredentialRecord::decode(&bytes)?),
            None => None,
        };
        let stored_root = stored
            .as_ref()
            .and_then(|r| r.users.iter().find(|u| u.root).cloned());

        let (record, generated) = match (root, stored, stored_root) {
            (RootSource::Provided { access_key, secret }, stored, stored_root) => {
                let same = stored_root.as_ref().is_some_and(|r| {
                    r.access_key == access_key
                        && constant_time_eq(r.secret.as_bytes(), secret.expose().as_bytes())
                });
                if same {
                    (stored, None)
                } else {
                    // Replace the root, keep every other user.
                    let mut users: Vec<UserRecord> = stored
                        .as_ref()
                        .map(|r| {
                            r.users
                                .iter()
                                .filter(|u| !u.root && u.access_key != access_key)
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    users.push(UserRecord {
                        principal: ROOT_PRINCIPAL.to_owned(),
                        access_key,
                        secret: secret.expose().to_owned(),
                        root: true,
                    });
                    let record = CredentialRecord::new(users);
                    store
                        .put_record(CREDENTIALS_RECORD, record.encode()?)
                        .await?;
                    (Some(record), None)
                }
            }
            (RootSource::StoredOrGenerated, stored, Some(_)) => (stored, None),
            (RootSource::StoredOrGenerated, stored, None) => {
                let fresh = GeneratedRoot::generate()?;
                let mut users: Vec<UserRecord> =
                    stored.as_ref().map(|r| r.users.clone()).unwrap_or_default();
                users.push(UserRecord {
                    principal: ROOT_PRINCIPAL.to_owned(),
                    access_key: fresh.access_key.clone(),
                    secret: fresh.secret.expose().to_owned(),
                    root: true,
                });
                let record = CredentialRecord::new(users);
                store
                    .put_record(CREDENTIALS_RECORD, record.encode()?)
                    .await?;
                (Some(record), Some(fresh))
            }
        };

        let mut users = HashMap::new();
        let mut principals = HashMap::new();
        for u in record.as_ref().map_or(&[][..], |r| &r.users[..]) {
            users.insert(
                u.access_key.clone(),
                User {
                    principal: u.principal.clone(),
                    secret: Secret::new(u.secret.clone()),
                },
            );
            principals.insert(u.principal.clone(), u.root);
        }
        Ok((
            Auth {
                inner: Arc::new(Inner { users, principals }),
            },
            generated,
        ))
    }

    /// The secret key of `access_key`, or `None` if there is no such user.
    ///
    /// Callers must not let "unknown key" be told apart from "wrong secret" (answer with a
    /// signature mismatch in both cases).
    pub fn secret_for(&self, access_key: &str) -> Option<Secret> {
        self.inner
            .users
            .get(access_key)
            .map(|user| user.secret.clone())
    }

    /// The principal (stable user id) behind `access_key`, or `None` if there is no such
    /// user. Record bucket owners by principal, never by access key: keys can be replaced.
    /// Root's principal is [`ROOT_PRINCIPAL`].
    pub fn principal_of(&self, access_key: &str) -> Option<String> {
        self.inner
            .users
            .get(access_key)
            .map(|user| user.principal.clone())
    }

    /// Decides whether `principal` (from [`Auth::principal_of`] on a verified access key) may
    /// perform `action` on a bucket owned by `bucket_owner` (a principal; `None`: no bucket
    /// involved, or the bucket does not exist).
    ///
    /// Today there is one user, root, who may do everything. Any other principal is denied
    /// on buckets it does not own; unknown principals are always denied.
    pub fn decide(&self, principal: &str, action: Action, bucket_owner: Option<&str>) -> Decision {
        match self.inner.principals.get(principal) {
            None => Decision::Deny(DenyReason::UnknownPrincipal),
            Some(&is_root) => decision::rule(principal, is_root, action, bucket_owner),
        }
    }
}

#[cfg(test)]
mod tests;
