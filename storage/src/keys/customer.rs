//! SSE-C: customer-provided keys.
//!
//! # Design
//!
//! A customer key is never stored. An object written under one gets its own chunk-id key and
//! seal key, derived from the bucket's customer-key base (itself derived from the bucket
//! secret, so it needs the master key, the bucket's wrapped key *and* its share) together
//! with the customer key. So:
//! - a copy of the data directory plus the master key opens nothing written under SSE-C;
//! - chunk ids differ from those of plain objects and of objects under other customer keys,
//!   so deduplication never crosses keys (an id reveals no equality across keys either).
//!
//! To tell a wrong key from a right one without storing it, the object record keeps
//! `key_mac` = keyed BLAKE3 of the customer key under a bucket-derived MAC key (not a plain
//! hash: without the bucket key the MAC cannot be used to test guesses offline).

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::keyring::BucketKeys;

/// Derives an object's working keys from the bucket's base and the customer key.
const CONTEXT_CUSTOMER_OBJECT: &str = "coffer 2026-12 sse-c object keys";

/// A customer-provided key (SSE-C), 32 bytes.
///
/// Zeroized on drop; `Debug` prints `CustomerKey([redacted])`; it is never stored or logged.
#[derive(Clone)]
pub struct CustomerKey(Zeroizing<[u8; 32]>);

impl CustomerKey {
    /// Wraps the key's bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> CustomerKey {
        CustomerKey(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKey([redacted])")
    }
}

/// How an object version's chunks are keyed, as its record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Encryption {
    /// Under the bucket's keys (Coffer always encrypts; S3 shows this as SSE-S3).
    #[default]
    Coffer,
    /// Under keys derived from the bucket's keys and a customer key (SSE-C).
    Customer {
        /// Keyed BLAKE3 of the customer key under the bucket's MAC key.
        key_mac: [u8; 32],
    },
}

impl Encryption {
    /// Whether the object was written with a customer key (SSE-C).
    pub fn is_customer(&self) -> bool {
        matches!(self, Encryption::Customer { .. })
    }
}

impl BucketKeys {
    /// The object keys and record value for a write under `customer` (or the bucket's own).
    pub(crate) fn for_write(
        self: &std::sync::Arc<Self>,
        customer: Option<&CustomerKey>,
    ) -> (std::sync::Arc<BucketKeys>, Encryption) {
        match customer {
            None => (self.clone(), Encryption::Coffer),
            Some(key) => (
                std::sync::Arc::new(self.customer_object_keys(key)),
                Encryption::Customer {
                    key_mac: self.customer_key_mac(key),
                },
            ),
        }
    }

    /// The keys that open an object stored as `encryption`, given the request's `customer`
    /// key.
    ///
    /// # Errors
    /// `Error::CustomerKeyRequired` (SSE-C object, no key), `Error::CustomerKeyMismatch`
    /// (another key), `Error::CustomerKeyNotApplicable` (a key for a plain object).
    pub(crate) fn for_read(
        self: &std::sync::Arc<Self>,
        encryption: Encryption,
        customer: Option<&CustomerKey>,
    ) -> Result<std::sync::Arc<BucketKeys>> {
        check(self, encryption, customer)?;
        Ok(self.for_write(customer).0)
    }

    fn customer_object_keys(&self, key: &CustomerKey) -> BucketKeys {
        let mut both = Zeroizing::new([0u8; 64]);
        both[..32].copy_from_slice(&*self.customer_base);
        both[32..].copy_from_slice(key.expose());
        let secret = Zeroizing::new(blake3::derive_key(CONTEXT_CUSTOMER_OBJECT, &*both));
        BucketKeys::from_secret(&secret)
    }

    fn customer_key_mac(&self, key: &CustomerKey) -> [u8; 32] {
        *blake3::keyed_hash(&self.customer_mac, key.expose()).as_bytes()
    }
}

/// Whether `customer` is the key (or absence of one) `encryption` asks for; constant-time
/// MAC comparison (`blake3::Hash` equality is).
pub(crate) fn check(
    keys: &BucketKeys,
    encryption: Encryption,
    customer: Option<&CustomerKey>,
) -> Result<()> {
    match (encryption, customer) {
        (Encryption::Coffer, None) => Ok(()),
        (Encryption::Coffer, Some(_)) => Err(Error::CustomerKeyNotApplicable),
        (Encryption::Customer { .. }, None) => Err(Error::CustomerKeyRequired),
        (Encryption::Customer { key_mac }, Some(key)) => {
            if blake3::keyed_hash(&keys.customer_mac, key.expose()) == blake3::Hash::from(key_mac) {
                Ok(())
            } else {
                Err(Error::CustomerKeyMismatch)
            }
        }
    }
}

/// Whether a part written as `given` belongs in an upload created as `upload`.
///
/// # Errors
/// As [`check`].
pub(crate) fn same_keys(upload: Encryption, given: Encryption) -> Result<()> {
    match (upload, given) {
        (a, b) if a == b => Ok(()),
        (Encryption::Coffer, _) => Err(Error::CustomerKeyNotApplicable),
        (Encryption::Customer { .. }, Encryption::Coffer) => Err(Error::CustomerKeyRequired),
        (Encryption::Customer { .. }, Encryption::Customer { .. }) => {
            Err(Error::CustomerKeyMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::chunks::chunk_id::ChunkId;
    use crate::chunks::seal;

    fn key(byte: u8) -> CustomerKey {
        CustomerKey::from_bytes(Zeroizing::new([byte; 32]))
    }

    #[test]
    fn customer_keys_change_ids_and_seals() {
        let bucket = Arc::new(BucketKeys::random().unwrap());
        let (plain, plain_enc) = bucket.for_write(None);
        let (a, a_enc) = bucket.for_write(Some(&key(1)));
        let (b, b_enc) = bucket.for_write(Some(&key(2)));
        assert_eq!(plain_enc, Encryption::Coffer);
        assert_ne!(a_enc, b_enc);
        let data = b"the same plaintext";
        let ids = [
            ChunkId::of(&plain, data),
            ChunkId::of(&a, data),
            ChunkId::of(&b, data),
        ];
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        assert_ne!(ids[0], ids[2]);
        // Sealed under key 1, it opens only under key 1.
        let sealed = seal::seal(&a, &ids[1], data).unwrap();
        assert!(seal::open(&plain, &ids[1], sealed.clone()).is_err());
        assert!(seal::open(&b, &ids[1], sealed.clone()).is_err());
        assert_eq!(&seal::open(&a, &ids[1], sealed).unwrap()[..], data);
    }

    #[test]
    fn reads_check_the_key() {
        let bucket = Arc::new(BucketKeys::random().unwrap());
        let (_, enc) = bucket.for_write(Some(&key(1)));
        assert!(bucket.for_read(enc, Some(&key(1))).is_ok());
        assert!(matches!(
            bucket.for_read(enc, Some(&key(2))),
            Err(Error::CustomerKeyMismatch)
        ));
        assert!(matches!(
            bucket.for_read(enc, None),
            Err(Error::CustomerKeyRequired)
        ));
        assert!(matches!(
            bucket.for_read(Encryption::Coffer, Some(&key(1))),
            Err(Error::CustomerKeyNotApplicable)
        ));
        assert!(bucket.for_read(Encryption::Coffer, None).is_ok());
        // The MAC depends on the bucket too.
        let other = Arc::new(BucketKeys::random().unwrap());
        assert_ne!(other.for_write(Some(&key(1))).1, enc);
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", key(7)), "CustomerKey([redacted])");
    }
}
