//! The trail's keys, all derived from one 32-byte key.

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use zeroize::Zeroizing;

/// The keys that seal and chain the trail.
pub struct AuditKey {
    seal: Aes256GcmSiv,
    chain: Zeroizing<[u8; 32]>,
    nonce: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey([redacted])")
    }
}

impl AuditKey {
    /// Derives the sealing, chaining and nonce keys from the trail's key.
    pub fn new(key: &[u8; 32]) -> AuditKey {
        let seal = Zeroizing::new(blake3::derive_key("coffer 2026-11 audit seal key", key));
        AuditKey {
            seal: Aes256GcmSiv::new(&(*seal).into()),
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

    /// The chain hash after a record.
    pub(crate) fn chain(&self, previous: &[u8; 32], sequence: u64, sealed: &[u8]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.chain);
        hasher.update(previous);
        hasher.update(&sequence.to_le_bytes());
        hasher.update(sealed);
        *hasher.finalize().as_bytes()
    }
}
