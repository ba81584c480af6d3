//! Which keys an object's chunks are sealed under: the bucket's own, or keys derived from
//! the bucket's *and* a key from outside the bucket's keyring — the customer's (SSE-C,
//! `keys/customer.rs`) or a KMS key's (SSE-KMS).
//!
//! # Design
//!
//! An object under an outside key gets its own chunk-id key and seal key, derived from the
//! bucket's external-key base (itself derived from the bucket secret, so it needs the
//! master key, the bucket's wrapped key *and* its share) together with the outside key. So:
//! - destroying the bucket's share *or* the outside key makes the object unreadable: a
//!   customer key is never stored, and a KMS key's working key needs its own share file
//!   (`kms_shares.rs`), removed when the key is deleted;
//! - chunk ids differ per outside key (and per KMS encryption context), so deduplication
//!   never crosses keys or contexts, and an id reveals no equality across them either.
//!
//! The store never resolves a KMS key itself: KMS keys, their states and aliases belong to
//! the server's KMS. The record keeps the key's id and the digest of the encryption
//! context; the server looks the key up (refusing a disabled or deleted one) and hands the
//! working key in as an [`ExternalKey::Kms`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::customer::CustomerKey;
use crate::keys::keyring::BucketKeys;

/// Derives an object's working keys from the bucket's base and a KMS working key.
const CONTEXT_KMS_OBJECT: &str = "coffer 2026-12 sse-kms object keys";

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
    /// Under keys derived from the bucket's keys and a KMS key (SSE-KMS).
    Kms {
        /// The KMS key's id (a UUID's 16 bytes).
        key_id: [u8; 16],
        /// Digest of the request's encryption context (the server's canonical form).
        context: [u8; 32],
        /// Whether the client asked for an S3 Bucket Key (echoed; the keys are the same).
        bucket_key: bool,
    },
}

impl Encryption {
    /// Whether the object was written with a customer key (SSE-C).
    pub fn is_customer(&self) -> bool {
        matches!(self, Encryption::Customer { .. })
    }

    /// The KMS key the object was written under, if any (SSE-KMS).
    pub fn kms_key_id(&self) -> Option<[u8; 16]> {
        match self {
            Encryption::Kms { key_id, .. } => Some(*key_id),
            _ => None,
        }
    }
}

/// A KMS key's working key as the server's KMS resolved it, with the encryption context
/// the object is (or was) written under.
///
/// Zeroized on drop; `Debug` shows only the key id.
#[derive(Clone)]
pub struct KmsKey {
    key_id: [u8; 16],
    working: Zeroizing<[u8; 32]>,
    context: [u8; 32],
    bucket_key: bool,
}

impl KmsKey {
    /// The working key of KMS key `key_id`, for objects under encryption context digest
    /// `context`.
    pub fn new(
        key_id: [u8; 16],
        working: Zeroizing<[u8; 32]>,
        context: [u8; 32],
        bucket_key: bool,
    ) -> KmsKey {
        KmsKey {
            key_id,
            working,
            context,
            bucket_key,
        }
    }

    fn encryption(&self) -> Encryption {
        Encryption::Kms {
            key_id: self.key_id,
            context: self.context,
            bucket_key: self.bucket_key,
        }
    }
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsKey({}, [redacted])", hex::encode(self.key_id))
    }
}

/// A key from outside the bucket's keyring that an object is sealed under as well.
#[derive(Clone, Debug)]
pub enum ExternalKey {
    /// The request's customer key (SSE-C).
    Customer(CustomerKey),
    /// A KMS key (SSE-KMS).
    Kms(KmsKey),
}

impl From<CustomerKey> for ExternalKey {
    fn from(key: CustomerKey) -> ExternalKey {
        ExternalKey::Customer(key)
    }
}

impl From<KmsKey> for ExternalKey {
    fn from(key: KmsKey) -> ExternalKey {
        ExternalKey::Kms(key)
    }
}

impl BucketKeys {
    /// The object keys and record value for a write under `external` (or the bucket's own).
    pub(crate) fn for_write(
        self: &Arc<Self>,
        external: Option<&ExternalKey>,
    ) -> (Arc<BucketKeys>, Encryption) {
        match external {
            None => (self.clone(), Encryption::Coffer),
            Some(ExternalKey::Customer(key)) => (
                Arc::new(self.customer_object_keys(key)),
                Encryption::Customer {
                    key_mac: self.customer_key_mac(key),
                },
            ),
            Some(ExternalKey::Kms(key)) => {
                let secret = Zeroizing::new(
                    blake3::Hasher::new_derive_key(CONTEXT_KMS_OBJECT)
                        .update(&*self.external_base)
                        .update(&*key.working)
                        .update(&key.context)
                        .finalize()
                        .into(),
                );
                (Arc::new(BucketKeys::from_secret(&secret)), key.encryption())
            }
        }
    }

    /// The keys that open an object stored as `encryption`, given the request's `external`
    /// key.
    ///
    /// # Errors
    /// As [`check`].
    pub(crate) fn for_read(
        self: &Arc<Self>,
        encryption: Encryption,
        external: Option<&ExternalKey>,
    ) -> Result<Arc<BucketKeys>> {
        check(self, encryption, external)?;
        Ok(self.for_write(external).0)
    }
}

/// Whether `external` is the key (or absence of one) `encryption` asks for; constant-time
/// MAC comparison for customer keys (`blake3::Hash` equality is).
///
/// # Errors
/// `Error::CustomerKeyRequired` (SSE-C object, no customer key), `Error::CustomerKeyMismatch`
/// (another customer key), `Error::CustomerKeyNotApplicable` (a customer key for an object
/// without one), `Error::KmsKeyMismatch` (a KMS object without its KMS key, or a KMS key for
/// an object not under it: the caller resolved the wrong key).
pub(crate) fn check(
    keys: &BucketKeys,
    encryption: Encryption,
    external: Option<&ExternalKey>,
) -> Result<()> {
    match (encryption, external) {
        (Encryption::Coffer, None) => Ok(()),
        (Encryption::Coffer | Encryption::Kms { .. }, Some(ExternalKey::Customer(_))) => {
            Err(Error::CustomerKeyNotApplicable)
        }
        (Encryption::Customer { .. }, None | Some(ExternalKey::Kms(_))) => {
            Err(Error::CustomerKeyRequired)
        }
        (Encryption::Customer { key_mac }, Some(ExternalKey::Customer(key))) => {
            if blake3::keyed_hash(&keys.customer_mac, key.expose()) == blake3::Hash::from(key_mac) {
                Ok(())
            } else {
                Err(Error::CustomerKeyMismatch)
            }
        }
        (kms @ Encryption::Kms { .. }, Some(ExternalKey::Kms(key))) if kms == key.encryption() => {
            Ok(())
        }
        (Encryption::Coffer | Encryption::Kms { .. }, Some(ExternalKey::Kms(_)))
        | (Encryption::Kms { .. }, None) => Err(Error::KmsKeyMismatch),
    }
}

/// Whether a part written as `given` belongs in an upload created as `upload`.
///
/// # Errors
/// As [`check`].
pub(crate) fn same_keys(upload: Encryption, given: Encryption) -> Result<()> {
    match (upload, given) {
        (a, b) if a == b => Ok(()),
        (Encryption::Coffer | Encryption::Kms { .. }, Encryption::Customer { .. }) => {
            Err(Error::CustomerKeyNotApplicable)
        }
        (Encryption::Customer { .. }, Encryption::Coffer | Encryption::Kms { .. }) => {
            Err(Error::CustomerKeyRequired)
        }
        (Encryption::Customer { .. }, Encryption::Customer { .. }) => {
            Err(Error::CustomerKeyMismatch)
        }
        (
            Encryption::Coffer | Encryption::Kms { .. },
            Encryption::Coffer | Encryption::Kms { .. },
        ) => Err(Error::KmsKeyMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::chunk_id::ChunkId;
    use crate::chunks::seal;

    fn customer(byte: u8) -> ExternalKey {
        ExternalKey::Customer(CustomerKey::from_bytes(Zeroizing::new([byte; 32])))
    }

    fn kms(id: u8, working: u8, context: u8) -> ExternalKey {
        ExternalKey::Kms(KmsKey::new(
            [id; 16],
            Zeroizing::new([working; 32]),
            [context; 32],
            false,
        ))
    }

    #[test]
    fn outside_keys_change_ids_and_seals() {
        let bucket = Arc::new(BucketKeys::random().unwrap());
        let keys = [
            None,
            Some(customer(1)),
            Some(customer(2)),
            Some(kms(1, 1, 0)),
            Some(kms(2, 2, 0)),
            Some(kms(1, 1, 9)),
        ];
        let data = b"the same plaintext";
        let derived: Vec<_> = keys.iter().map(|k| bucket.for_write(k.as_ref())).collect();
        let ids: Vec<_> = derived.iter().map(|(k, _)| ChunkId::of(k, data)).collect();
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                assert_ne!(ids[i], ids[j], "keys {i} and {j} share chunk ids");
                assert_ne!(derived[i].1, derived[j].1);
            }
        }
        // Sealed under one KMS key and context, it opens under exactly that.
        let sealed = seal::seal(&derived[3].0, &ids[3], data).unwrap();
        for (i, (k, _)) in derived.iter().enumerate() {
            assert_eq!(seal::open(k, &ids[3], sealed.clone()).is_ok(), i == 3);
        }
    }

    #[test]
    fn reads_check_the_key() {
        let bucket = Arc::new(BucketKeys::random().unwrap());
        let (_, enc) = bucket.for_write(Some(&customer(1)));
        assert!(bucket.for_read(enc, Some(&customer(1))).is_ok());
        assert!(matches!(
            bucket.for_read(enc, Some(&customer(2))),
            Err(Error::CustomerKeyMismatch)
        ));
        assert!(matches!(
            bucket.for_read(enc, None),
            Err(Error::CustomerKeyRequired)
        ));
        assert!(matches!(
            bucket.for_read(enc, Some(&kms(1, 1, 0))),
            Err(Error::CustomerKeyRequired)
        ));
        assert!(matches!(
            bucket.for_read(Encryption::Coffer, Some(&customer(1))),
            Err(Error::CustomerKeyNotApplicable)
        ));
        assert!(bucket.for_read(Encryption::Coffer, None).is_ok());
        // The MAC depends on the bucket too.
        let other = Arc::new(BucketKeys::random().unwrap());
        assert_ne!(other.for_write(Some(&customer(1))).1, enc);

        let (_, enc) = bucket.for_write(Some(&kms(1, 1, 0)));
        assert_eq!(enc.kms_key_id(), Some([1; 16]));
        assert!(bucket.for_read(enc, Some(&kms(1, 1, 0))).is_ok());
        for wrong in [None, Some(kms(2, 1, 0)), Some(kms(1, 1, 3))] {
            assert!(matches!(
                bucket.for_read(enc, wrong.as_ref()),
                Err(Error::KmsKeyMismatch)
            ));
        }
        assert!(matches!(
            bucket.for_read(enc, Some(&customer(1))),
            Err(Error::CustomerKeyNotApplicable)
        ));
    }

    #[test]
    fn debug_hides_the_keys() {
        let shown = format!("{:?} {:?}", customer(7), kms(7, 0xab, 0));
        assert!(
            !shown.contains("ab, ab") && !shown.contains("171"),
            "{shown}"
        );
        assert!(shown.contains("redacted"));
    }
}
