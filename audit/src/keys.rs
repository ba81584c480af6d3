//! The trail's keys, all derived from one 32-byte key.

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use zeroize::Zeroizing;

/// The keys that seal and chain the trail.
pub struct AuditKey {
    seal: Aes256GcmSiv,
    /// Seals the anchor expiry leaves (its own key, so an anchor can never be passed off
    /// as a record or the other way round).
    anchor: Aes256GcmSiv,
    chain: Zeroizing<[u8; 32]>,
    nonce: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey([redacted])")
    }
}

impl AuditKey {
    /// Derives the sealing, anchor, chaining and nonce keys from the trail's key.
    pub fn new(key: &[u8; 32]) -> AuditKey {
        let seal = Zeroizing::new(blake3::derive_key("coffer 2026-11 audit seal key", key));
        let anchor = Zeroizing::new(blake3::derive_key("coffer 2026-11 audit anchor key", key));
        AuditKey {
            seal: Aes256GcmSiv::new(&(*seal).into()),
            anchor: Aes256GcmSiv::new(&(*anchor).into()),
            chain: Zeroizing::new(blake3::derive_key("coffer 2026-11 audit chain key", key)),
            nonce: Zeroizing::new(blake3::derive_key("coffer 2026-11 audit nonce key", key)),
        }
    }

    fn nonce(&self, sequence: u64) -> Nonce {
        let hash = blake3::keyed_hash(&self.nonce, &sequence.to_le_bytes());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&hash.as_bytes()[..12]);
        Nonce::from(nonce)
    }

    /// Seals an entry; its sequence number is the associated data.
    pub(crate) fn seal(&self, sequence: u64, plaintext: &[u8]) -> Option<Vec<u8>> {
        let ad = sequence.to_le_bytes();
        self.seal
            .encrypt(
                &self.nonce(sequence),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .ok()
    }

    /// Opens an entry sealed under `sequence`; `None` if it was altered or moved.
    pub(crate) fn open(&self, sequence: u64, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let ad = sequence.to_le_bytes();
        self.seal
            .decrypt(
                &self.nonce(sequence),
                Payload {
                    msg: sealed,
                    aad: &ad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    /// Seals an anchor's body; `ad` is the file's clear prefix. The nonce is a keyed hash
    /// of the body (returned, to be stored beside it): distinct anchors get distinct
    /// nonces, and AES-GCM-SIV stays safe even when the same body is sealed twice.
    pub(crate) fn seal_anchor(&self, ad: &[u8], plaintext: &[u8]) -> Option<([u8; 12], Vec<u8>)> {
        let mut hasher = blake3::Hasher::new_keyed(&self.nonce);
        hasher.update(b"anchor");
        hasher.update(plaintext);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&hasher.finalize().as_bytes()[..12]);
        let sealed = self
            .anchor
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: ad,
                },
            )
            .ok()?;
        Some((nonce, sealed))
    }

    /// Opens an anchor's body; `None` if it was altered or sealed under another key.
    pub(crate) fn open_anchor(
        &self,
        ad: &[u8],
        nonce: &[u8; 12],
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.anchor
            .decrypt(
                &Nonce::from(*nonce),
                Payload {
                    msg: sealed,
                    aad: ad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    /// The chain hash after a record.
    pub(crate) fn chain(&self, previous: &[u8; 32], sequence: u64, sealed: &[u8]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.chain);
        hasher.update(previous);
        hasher.update(&sequence.to_le_bytes());
        hasher.update(sealed);
        *hasher.finalize().as_bytes()
    }
}
