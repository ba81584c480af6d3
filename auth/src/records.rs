//! The sealed directory record (users, keys, inline policies) and where it is kept.
//!
//! All storage access of this crate is here, behind [`RecordStore`], so the rest can be
//! tested without a real [`coffer_storage::Store`].

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

/// Name of the sealed record that holds the directory (also the AEAD associated data).
pub(crate) const CREDENTIALS_RECORD: &str = "auth/credentials";

/// Version 1 held the root credential only (issues 2–8).
const V1: u8 = 1;
/// Version 2: an account id, the root credential, users with keys and inline policies.
const V2: u8 = 2;

/// The stored form of the directory (postcard, then sealed by storage).
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct DirectoryRecord {
    version: u8,
    /// The one account id of this deployment: 12 digits, as ARNs need.
    pub(crate) account: String,
    pub(crate) root: KeyRecord,
    pub(crate) users: Vec<UserRecord>,
}

/// One named user.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct UserRecord {
    /// Stable id (`AIDA…`): buckets are owned by it, so a user deleted and created again
    /// under the same name does not inherit the old one's buckets.
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_ms: u64,
    pub(crate) keys: Vec<KeyRecord>,
    /// Inline identity policies: name and JSON text, as given.
    pub(crate) policies: Vec<(String, String)>,
}

/// One access key and its secret.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyRecord {
    pub(crate) access_key: String,
    pub(crate) secret: String,
    #[zeroize(skip)]
    pub(crate) status: KeyStatus,
    pub(crate) created_ms: u64,
}

/// Whether an access key may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    /// Signatures made with it are accepted.
    Active,
    /// It is refused like an unknown key, until set Active again.
    Inactive,
}

impl KeyStatus {
    /// IAM's name for it: `Active` or `Inactive`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// Version 1's table: the root only, in practice.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct V1Record {
    version: u8,
    users: Vec<V1User>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct V1User {
    principal: String,
    access_key: String,
    secret: String,
    root: bool,
}

impl DirectoryRecord {
    pub(crate) fn new(account: String, root: KeyRecord, users: Vec<UserRecord>) -> Self {
        DirectoryRecord {
            version: V2,
            account,
            root,
            users,
        }
    }

    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        // postcard only fails on writer errors, which a Vec cannot have; map it anyway.
        postcard::to_allocvec(self)
            .map(Zeroizing::new)
            .map_err(|_| Error::Corrupt)
    }

    /// Decodes version 2, or upgrades version 1 (whose only user was root) with a fresh
    /// account id from `new_account`. `None`: a version 1 table without a root.
    pub(crate) fn decode(
        bytes: &[u8],
        new_account: impl FnOnce() -> Result<String, Error>,
    ) -> Result<Option<DirectoryRecord>, Error> {
        match bytes.first() {
            Some(&V2) => {
                let record: DirectoryRecord =
                    postcard::from_bytes(bytes).map_err(|_| Error::Corrupt)?;
                Ok(Some(record))
            }
            Some(&V1) => {
                let old: V1Record = postcard::from_bytes(bytes).map_err(|_| Error::Corrupt)?;
                let Some(root) = old.users.iter().find(|u| u.root) else {
                    return Ok(None);
                };
                let root = KeyRecord {
                    access_key: root.access_key.clone(),
                    secret: root.secret.clone(),
                    status: KeyStatus::Active,
                    created_ms: 0,
                };
                Ok(Some(DirectoryRecord::new(new_account()?, root, Vec::new())))
            }
            _ => Err(Error::Corrupt),
        }
    }
}

/// A place for sealed named records: [`coffer_storage::Store`] in production.
#[async_trait::async_trait]
pub(crate) trait RecordStore: Send + Sync + 'static {
    async fn get_record(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error>;
    async fn put_record(&self, name: &str, value: Zeroizing<Vec<u8>>) -> Result<(), Error>;
}

// ---- coffer-storage binding: the only code in this crate that calls the Store. ----
#[async_trait::async_trait]
impl RecordStore for coffer_storage::Store {
    async fn get_record(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        self.get_sealed(name)
            .await
            .map_err(|source| Error::Storage {
                action: "read the sealed user directory",
                source,
            })
    }

    async fn put_record(&self, name: &str, value: Zeroizing<Vec<u8>>) -> Result<(), Error> {
        self.put_sealed(name, value)
            .await
            .map_err(|source| Error::Storage {
                action: "write the sealed user directory",
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_is_upgraded_keeping_the_root() {
        let old = V1Record {
            version: V1,
            users: vec![V1User {
                principal: "root".into(),
                access_key: "operator-key".into(),
                secret: "a-long-enough-secret".into(),
                root: true,
            }],
        };
        let bytes = postcard::to_allocvec(&old).unwrap();
        let new = DirectoryRecord::decode(&bytes, || Ok("123456789012".into()))
            .unwrap()
            .unwrap();
        assert_eq!(new.root.access_key, "operator-key");
        assert_eq!(new.account, "123456789012");
        assert!(new.users.is_empty());
        // And it round-trips as version 2.
        let again = DirectoryRecord::decode(&new.encode().unwrap(), || unreachable!())
            .unwrap()
            .unwrap();
        assert_eq!(again.root.secret, "a-long-enough-secret");
    }

    #[test]
    fn other_versions_and_garbage_are_corrupt() {
        for bytes in [&[][..], &[3, 0][..], &[2, 9, 9][..]] {
            assert!(matches!(
                DirectoryRecord::decode(bytes, || Ok(String::new())),
                Err(Error::Corrupt)
            ));
        }
    }
}
