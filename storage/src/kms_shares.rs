//! KMS key shares: as for buckets (`keys/key_shares.rs`), the half of each KMS key that
//! destroying the key removes.
//!
//! A KMS key's material is kept in a sealed record of the index, and redb is copy-on-write:
//! after the key is destroyed, a free page may still hold the sealed record that had it. So
//! each KMS key also has a random 32-byte share in its own file,
//! `<data>/kms-shares/<key id hex>` (0600, durable before the key's record commits), and its
//! working key is derived from the material *and* the share. Removing the share is what
//! makes the objects under the key unreadable, backups of the index included.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::store::Store;

/// The folder under the data directory.
pub(crate) const DIR: &str = "kms-shares";
const CONTEXT_KMS_SHARE: &str = "coffer 2026-12 kms key with share";

impl Store {
    /// Makes and stores the share of new KMS key `id` (durably, if syncing). Call before
    /// the key's record is committed.
    ///
    /// # Errors
    /// `Error::Io`.
    pub async fn create_kms_share(&self, id: [u8; 16]) -> Result<()> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || shared.kms_shares.create(&id))
            .await
            .map_err(Error::join)?
    }

    /// The working key of KMS key `id`: `material` combined with the key's share.
    ///
    /// # Errors
    /// `Error::Corrupt` if the share is missing (the key was destroyed) or damaged;
    /// `Error::Io`.
    pub async fn kms_key(&self, id: [u8; 16], material: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>> {
        let shared = self.inner.shared.clone();
        let share = tokio::task::spawn_blocking(move || shared.kms_shares.load(&id))
            .await
            .map_err(Error::join)??;
        let mut both = Zeroizing::new([0u8; 64]);
        both[..32].copy_from_slice(material);
        both[32..].copy_from_slice(&*share);
        Ok(Zeroizing::new(blake3::derive_key(
            CONTEXT_KMS_SHARE,
            &*both,
        )))
    }

    /// Destroys the share of KMS key `id` (crypto-shredding); a missing share is fine.
    ///
    /// # Errors
    /// `Error::Io`.
    pub async fn remove_kms_share(&self, id: [u8; 16]) -> Result<()> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || shared.kms_shares.remove(&id))
            .await
            .map_err(Error::join)?
    }
}
