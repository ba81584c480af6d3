//! SSE-C: customer-provided keys.
//!
//! # Design
//!
//! A customer key is never stored. An object written under one gets its own chunk-id key and
//! seal key, derived from the bucket's external-key base (`keys/encryption.rs`) (itself derived from the bucket
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

use zeroize::Zeroizing;

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

impl BucketKeys {
    pub(crate) fn customer_object_keys(&self, key: &CustomerKey) -> BucketKeys {
        let mut both = Zeroizing::new([0u8; 64]);
        both[..32].copy_from_slice(&*self.external_base);
        both[32..].copy_from_slice(key.expose());
        let secret = Zeroizing::new(blake3::derive_key(CONTEXT_CUSTOMER_OBJECT, &*both));
        BucketKeys::from_secret(&secret)
    }

    pub(crate) fn customer_key_mac(&self, key: &CustomerKey) -> [u8; 32] {
        *blake3::keyed_hash(&self.customer_mac, key.expose()).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let key = CustomerKey::from_bytes(Zeroizing::new([7; 32]));
        assert_eq!(format!("{key:?}"), "CustomerKey([redacted])");
    }
}
