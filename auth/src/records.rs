//! The sealed credential record and where it is kept.
//!
//! All storage access of this crate is here, behind [`RecordStore`], so the rest can be
//! tested without a real [`coffer_storage::Store`].

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

/// Name of the sealed record that holds the credentials (also the AEAD associated data).
pub(crate) const CREDENTIALS_RECORD: &str = "auth/credentials";

const RECORD_VERSION: u8 = 1;

/// The stored form of the user table (postcard, then sealed by storage).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct CredentialRecord {
    pub(crate) version: u8,
    pub(crate) users: Vec<UserRecord>,
}

/// One user in the stored table.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct UserRecord {
    /// Stable user id: bucket owners are recorded by it, so rotating a key keeps ownership.
    pub(crate) principal: String,
    pub(crate) access_key: String,
    pub(crate) secret: String,
    pub(crate) root: bool,
}

impl CredentialRecord {
    pub(crate) fn new(users: Vec<UserRecord>) -> CredentialRecord {
        CredentialRecord {
            version: RECORD_VERSION,
            users,
        }
    }

    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        // postcard only fails on writer errors, which a Vec cannot have; map it anyway.
        postcard::to_allocvec(self)
            .map(Zeroizing::new)
            .map_err(|_| Error::Corrupt)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<CredentialRecord, Error> {
        let record: CredentialRecord = postcard::from_bytes(bytes).map_err(|_| Error::Corrupt)?;
        if record.version != RECORD_VERSION {
            return Err(Error::Corrupt);
        }
        Ok(record)
    }
}

/// A place for sealed named records: [`coffer_storage::Store`] in production.
pub(crate) trait RecordStore: Sync {
    async fn get_record(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error>;
    async fn put_record(&self, name: &str, value: Zeroizing<Vec<u8>>) -> Result<(), Error>;
}

// ---- coffer-storage binding: the only code in this crate that calls the Store. ----
impl RecordStore for coffer_storage::Store {
    async fn get_record(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        self.get_sealed(name)
            .await
            .map_err(|source| Error::Storage {
                action: "read the sealed credential record",
                source,
            })
    }

    async fn put_record(&self, name: &str, value: Zeroizing<Vec<u8>>) -> Result<(), Error> {
        self.put_sealed(name, value)
            .await
            .map_err(|source| Error::Storage {
                action: "write the sealed credential record",
                source,
            })
    }
}
