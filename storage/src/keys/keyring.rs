//! The key hierarchy: the master key, the keys it wraps, and the subkeys derived from them.
//!
//! - The [`MasterKey`] only wraps other keys. Three keys are derived from it with
//!   `blake3::derive_key`: the wrapping key, the sealed-records key and the token key (which
//!   seals what clients hand back, such as listings' continuation tokens).
//! - A bucket key is 32 random bytes, stored wrapped (AES-256-GCM-SIV, random nonce, purpose
//!   label and bucket id as associated data). Its subkeys — the chunk-id key and the chunk
//!   seal key — are derived with fixed context strings.
//! - A key-check record (a known value, wrapped) tells a wrong master key apart from a
//!   corrupt index before anything is written.
//! - The index key (random) is stored wrapped in `<data>/keys` (`key_file.rs`) and seals the
//!   index file (`index/sealed_backend.rs`).
//! - A bucket's working keys come from its unwrapped key *and* its key share
//!   (`key_shares.rs`), which deleting the bucket destroys (crypto-shredding).

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use aes_gcm_siv::aead::{AeadInOut as _, KeyInit as _};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const CONTEXT_WRAP: &str = "coffer 2026-11 key wrap";
const CONTEXT_RECORDS: &str = "coffer 2026-11 sealed records";
const CONTEXT_TOKENS: &str = "coffer 2026-12 client tokens";
const CONTEXT_CHUNK_ID: &str = "coffer 2026-11 chunk id";
const CONTEXT_CHUNK_SEAL: &str = "coffer 2026-11 chunk seal";
const CONTEXT_BUCKET_SHARE: &str = "coffer 2026-11 bucket key with share";
const CONTEXT_CUSTOMER_BASE: &str = "coffer 2026-12 sse-c base";
const CONTEXT_CUSTOMER_MAC: &str = "coffer 2026-12 sse-c key mac";

const LABEL_BUCKET_KEY: &[u8] = b"coffer bucket key\0";
const LABEL_KEY_CHECK: &[u8] = b"coffer key check\0";
const LABEL_RECORD: &[u8] = b"coffer sealed record\0";
const LABEL_INDEX_KEY: &[u8] = b"coffer index key\0";
const LABEL_TOKEN: &[u8] = b"coffer client token\0";

/// The value the key-check record wraps.
const KEY_CHECK_VALUE: &[u8; 32] = b"coffer 2026-11 master key check!";

/// Format version of wrapped blobs: `version ‖ nonce(12) ‖ ciphertext ‖ tag(16)`.
const WRAP_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The 32-byte master key. It only wraps other keys.
///
/// Zeroized on drop; `Debug` prints `MasterKey([redacted])`; deliberately not `Clone`.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// Generates a key from OS randomness.
    ///
    /// # Errors
    /// `Error::Io` if the OS has no randomness to give.
    pub fn generate() -> Result<MasterKey> {
        Ok(MasterKey(random_key()?))
    }

    /// Parses base64 (standard alphabet, padding optional) of exactly 32 bytes; surrounding
    /// whitespace is ignored.
    ///
    /// # Errors
    /// `Error::BadMasterKey` if the text is not base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<MasterKey> {
        let text = text.trim();
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .map_err(|_| Error::BadMasterKey)?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        if decoded.len() != key.len() {
            return Err(Error::BadMasterKey);
        }
        key.copy_from_slice(&decoded);
        Ok(MasterKey(key))
    }

    /// Reads a key file (base64 text, whitespace trimmed).
    ///
    /// # Errors
    /// `Error::KeyFilePermissions` if group or other may read it, `Error::Io` if it cannot be
    /// read, `Error::BadMasterKey` if its content is not a key.
    pub fn from_file(path: &Path) -> Result<MasterKey> {
        let mut file = std::fs::File::open(path).map_err(Error::io("open master key file"))?;
        let mode = file
            .metadata()
            .map_err(Error::io("stat master key file"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::KeyFilePermissions {
                path: path.to_path_buf(),
            });
        }
        let mut text = Zeroizing::new(String::new());
        std::io::Read::read_to_string(&mut file, &mut text)
            .map_err(Error::io("read master key file"))?;
        MasterKey::from_base64(&text)
    }

    /// Loads `path` if it exists, else generates a key and writes it there (0600, fsynced,
    /// directory fsynced). Returns `(key, created)`.
    ///
    /// # Errors
    /// As [`MasterKey::from_file`], and `Error::Io` if the new file cannot be written.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool)> {
        if path.exists() {
            return Ok((MasterKey::from_file(path)?, false));
        }
        let key = MasterKey::generate()?;
        let mut file = match crate::durable::create_private_file(path) {
            Ok(file) => file,
            // Someone else created it between our check and our create: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok((MasterKey::from_file(path)?, false));
            }
            Err(source) => {
                return Err(Error::Io {
                    action: "create master key file",
                    source,
                });
            }
        };
        let text = key.to_base64();
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(Error::io("write master key file"))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::durable::fsync_dir(parent)?;
        }
        Ok((key, true))
    }

    /// A key from its bytes (an unwrapped master key, an unlocker's key).
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> MasterKey {
        MasterKey(bytes)
    }

    /// The key's bytes, for wrapping it or deriving from it inside this crate.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as standard base64 (with padding), in a zeroizing string.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*self.0))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Keys derived from the master key: one wraps bucket keys and the key check, one seals
/// the key-value records other crates keep here, one seals tokens handed to clients (a
/// key of its own: what clients send back is never opened with a key that opens stored
/// records).
pub(crate) struct Keyring {
    wrap: Aes256GcmSiv,
    records: Aes256GcmSiv,
    tokens: Aes256GcmSiv,
}

impl Keyring {
    /// Derives the working keys; the master key itself is not kept.
    pub(crate) fn new(master: &MasterKey) -> Keyring {
        Keyring {
            wrap: cipher_from(&Zeroizing::new(blake3::derive_key(
                CONTEXT_WRAP,
                &*master.0,
            ))),
            records: cipher_from(&Zeroizing::new(blake3::derive_key(
                CONTEXT_RECORDS,
                &*master.0,
            ))),
            tokens: cipher_from(&Zeroizing::new(blake3::derive_key(
                CONTEXT_TOKENS,
                &*master.0,
            ))),
        }
    }

    /// A fresh key-check record for a new data directory.
    pub(crate) fn key_check(&self) -> Result<Vec<u8>> {
        wrap(&self.wrap, LABEL_KEY_CHECK, b"", KEY_CHECK_VALUE)
    }

    /// Whether `record` was written under this master key.
    pub(crate) fn verify_key_check(&self, record: &[u8]) -> Result<()> {
        match unwrap(&self.wrap, LABEL_KEY_CHECK, b"", record) {
            Ok(value) if value.as_slice() == KEY_CHECK_VALUE => Ok(()),
            _ => Err(Error::WrongMasterKey),
        }
    }

    /// Makes a new bucket key; returns it wrapped (to store) and its working subkeys.
    pub(crate) fn new_bucket_key(&self, bucket_id: &[u8; 16]) -> Result<(Vec<u8>, BucketKeys)> {
        let secret = random_key()?;
        let wrapped = wrap(&self.wrap, LABEL_BUCKET_KEY, bucket_id, &*secret)?;
        Ok((wrapped, BucketKeys::from_secret(&secret)))
    }

    /// Unwraps a stored bucket key (without its share: tests only).
    #[cfg(test)]
    pub(crate) fn open_bucket_key(
        &self,
        bucket_id: &[u8; 16],
        wrapped: &[u8],
    ) -> Result<BucketKeys> {
        let secret = unwrap(&self.wrap, LABEL_BUCKET_KEY, bucket_id, wrapped)
            .map_err(|_| Error::Corrupt { what: "bucket key" })?;
        let secret: &[u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| Error::Corrupt { what: "bucket key" })?;
        Ok(BucketKeys::from_secret(secret))
    }

    /// Seals a named record; the name is associated data.
    pub(crate) fn seal_record(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        wrap(&self.records, LABEL_RECORD, name.as_bytes(), value)
    }

    /// Opens a named record.
    pub(crate) fn open_record(&self, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        unwrap(&self.records, LABEL_RECORD, name.as_bytes(), sealed).map_err(|_| Error::Corrupt {
            what: "sealed record",
        })
    }

    /// Seals a token for a client; `scope` is associated data.
    pub(crate) fn seal_token(&self, scope: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        wrap(&self.tokens, LABEL_TOKEN, scope, value)
    }

    /// Opens a token sealed under `scope`; `None` for anything else (altered, forged, from
    /// another scope or another master key).
    pub(crate) fn open_token(&self, scope: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        unwrap(&self.tokens, LABEL_TOKEN, scope, sealed).ok()
    }
}

/// Keys of the sealed index, and key rotation (issue 4).
impl Keyring {
    /// Wraps the index key for the key file (`<data>/keys`).
    pub(crate) fn wrap_index_key(&self, key: &[u8; 32]) -> Result<Vec<u8>> {
        wrap(&self.wrap, LABEL_INDEX_KEY, b"", key)
    }

    /// Wraps bytes of any length as the index key would be, so fuzzing reaches the length
    /// check behind the AEAD.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn wrap_index_key_bytes(&self, key: &[u8]) -> Result<Vec<u8>> {
        wrap(&self.wrap, LABEL_INDEX_KEY, b"", key)
    }

    /// Unwraps the index key read from the key file.
    pub(crate) fn open_index_key(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let corrupt = || Error::Corrupt { what: "index key" };
        let secret = unwrap(&self.wrap, LABEL_INDEX_KEY, b"", wrapped).map_err(|_| corrupt())?;
        let mut key = Zeroizing::new([0u8; 32]);
        if secret.len() != key.len() {
            return Err(corrupt());
        }
        key.copy_from_slice(&secret);
        Ok(key)
    }

    /// Unwraps a stored bucket key and combines it with the bucket's key share (see
    /// `key_shares.rs`): without the share, the wrapped key opens nothing.
    pub(crate) fn open_bucket_key_with_share(
        &self,
        bucket_id: &[u8; 16],
        wrapped: &[u8],
        share: &[u8; 32],
    ) -> Result<BucketKeys> {
        let secret = unwrap(&self.wrap, LABEL_BUCKET_KEY, bucket_id, wrapped)
            .map_err(|_| Error::Corrupt { what: "bucket key" })?;
        let mut both = Zeroizing::new(Vec::with_capacity(secret.len() + share.len()));
        both.extend_from_slice(&secret);
        both.extend_from_slice(share);
        let combined = Zeroizing::new(blake3::derive_key(CONTEXT_BUCKET_SHARE, &both));
        Ok(BucketKeys::from_secret(&combined))
    }

    /// Rewraps a stored bucket key under `to` (master key rotation); the bucket key itself,
    /// and so every chunk sealed under it, stays the same.
    pub(crate) fn rewrap_bucket_key(
        &self,
        to: &Keyring,
        bucket_id: &[u8; 16],
        wrapped: &[u8],
    ) -> Result<Vec<u8>> {
        let secret = unwrap(&self.wrap, LABEL_BUCKET_KEY, bucket_id, wrapped)
            .map_err(|_| Error::Corrupt { what: "bucket key" })?;
        wrap(&to.wrap, LABEL_BUCKET_KEY, bucket_id, &secret)
    }

    /// Reseals a sealed record under `to` (master key rotation).
    pub(crate) fn reseal_record(&self, to: &Keyring, name: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let value = self.open_record(name, sealed)?;
        to.seal_record(name, &value)
    }
}

/// A bucket's working keys: the chunk-id key (keyed BLAKE3) and the chunk seal cipher, plus
/// the base that object keys are derived from with an outside key (SSE-C's or SSE-KMS's,
/// `keys/encryption.rs`) and the key that MACs customer keys (`keys/customer.rs`).
pub struct BucketKeys {
    pub(crate) chunk_id: Zeroizing<[u8; 32]>,
    pub(crate) seal: Aes256GcmSiv,
    pub(crate) external_base: Zeroizing<[u8; 32]>,
    pub(crate) customer_mac: Zeroizing<[u8; 32]>,
}

impl BucketKeys {
    /// Derives the subkeys of a bucket key.
    pub(crate) fn from_secret(secret: &[u8; 32]) -> BucketKeys {
        BucketKeys {
            chunk_id: Zeroizing::new(blake3::derive_key(CONTEXT_CHUNK_ID, secret)),
            seal: cipher_from(&Zeroizing::new(blake3::derive_key(
                CONTEXT_CHUNK_SEAL,
                secret,
            ))),
            external_base: Zeroizing::new(blake3::derive_key(CONTEXT_CUSTOMER_BASE, secret)),
            customer_mac: Zeroizing::new(blake3::derive_key(CONTEXT_CUSTOMER_MAC, secret)),
        }
    }

    /// Fresh random keys, for benches and tests that need no store.
    ///
    /// # Errors
    /// `Error::Io` if the OS has no randomness to give.
    pub fn random() -> Result<BucketKeys> {
        Ok(BucketKeys::from_secret(&*random_key()?))
    }
}

impl fmt::Debug for BucketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BucketKeys([redacted])")
    }
}

pub(crate) fn cipher_from(key: &[u8; 32]) -> Aes256GcmSiv {
    Aes256GcmSiv::new(key.into())
}

/// 32 random bytes from the OS, in a zeroizing box.
pub(crate) fn random_key() -> Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *key).map_err(randomness_error)?;
    Ok(key)
}

fn randomness_error(e: getrandom::Error) -> Error {
    Error::Io {
        action: "read OS randomness",
        source: std::io::Error::other(e.to_string()),
    }
}

/// Random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(randomness_error)?;
    Ok(out)
}

fn associated_data(label: &[u8], id: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(label.len() + id.len());
    aad.extend_from_slice(label);
    aad.extend_from_slice(id);
    aad
}

/// `version ‖ random nonce ‖ ciphertext ‖ tag`, associated data `label ‖ id`.
pub(crate) fn wrap(
    cipher: &Aes256GcmSiv,
    label: &[u8],
    id: &[u8],
    secret: &[u8],
) -> Result<Vec<u8>> {
    let nonce_bytes = random_bytes::<NONCE_LEN>()?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + secret.len() + TAG_LEN);
    out.push(WRAP_VERSION);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(secret);
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce_bytes),
            &associated_data(label, id),
            out[1 + NONCE_LEN..].as_mut().into(),
        )
        .map_err(|_| Error::Corrupt {
            what: "oversized secret",
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

pub(crate) fn unwrap(
    cipher: &Aes256GcmSiv,
    label: &[u8],
    id: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let corrupt = Error::Corrupt {
        what: "wrapped key",
    };
    if wrapped.len() < 1 + NONCE_LEN + TAG_LEN || wrapped[0] != WRAP_VERSION {
        return Err(corrupt);
    }
    let nonce: [u8; NONCE_LEN] = wrapped[1..=NONCE_LEN]
        .try_into()
        .map_err(|_| Error::Corrupt {
            what: "wrapped key",
        })?;
    let (body, tag) = wrapped[1 + NONCE_LEN..].split_at(wrapped.len() - 1 - NONCE_LEN - TAG_LEN);
    let tag = Tag::try_from(tag).map_err(|_| Error::Corrupt {
        what: "wrapped key",
    })?;
    let mut plain = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            &associated_data(label, id),
            plain.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| corrupt)?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_base64_round_trip_and_redacted_debug() {
        let key = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(*key.0, *again.0);
        assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
        assert!(matches!(
            MasterKey::from_base64("c2hvcnQ="),
            Err(Error::BadMasterKey)
        ));
        assert!(matches!(
            MasterKey::from_base64("!!"),
            Err(Error::BadMasterKey)
        ));
    }

    #[test]
    fn key_file_created_0600_and_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (key, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(*key.0, *again.0);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::from_file(&path),
            Err(Error::KeyFilePermissions { .. })
        ));
    }

    #[test]
    fn key_check_refuses_other_master_key() {
        let ring = Keyring::new(&MasterKey::generate().unwrap());
        let other = Keyring::new(&MasterKey::generate().unwrap());
        let record = ring.key_check().unwrap();
        ring.verify_key_check(&record).unwrap();
        assert!(matches!(
            other.verify_key_check(&record),
            Err(Error::WrongMasterKey)
        ));
    }

    #[test]
    fn bucket_key_bound_to_its_bucket_id() {
        let ring = Keyring::new(&MasterKey::generate().unwrap());
        let (wrapped, keys) = ring.new_bucket_key(&[1; 16]).unwrap();
        let opened = ring.open_bucket_key(&[1; 16], &wrapped).unwrap();
        assert_eq!(*keys.chunk_id, *opened.chunk_id);
        assert!(matches!(
            ring.open_bucket_key(&[2; 16], &wrapped),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn sealed_record_bound_to_its_name() {
        let ring = Keyring::new(&MasterKey::generate().unwrap());
        let sealed = ring.seal_record("a", b"secret value").unwrap();
        assert_eq!(
            ring.open_record("a", &sealed).unwrap().as_slice(),
            b"secret value"
        );
        assert!(ring.open_record("b", &sealed).is_err());
    }

    #[test]
    fn token_hides_its_value_and_opens_only_in_its_scope() {
        let ring = Keyring::new(&MasterKey::generate().unwrap());
        let sealed = ring.seal_token(b"scope", b"photos-2026").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"photos"), "value in clear");
        assert_eq!(
            ring.open_token(b"scope", &sealed).unwrap().as_slice(),
            b"photos-2026"
        );
        assert!(ring.open_token(b"other", &sealed).is_none());
        // A flipped bit anywhere (version, nonce, ciphertext, tag) opens to nothing.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(ring.open_token(b"scope", &bad).is_none(), "bit flip at {i}");
        }
        assert!(
            ring.open_token(b"scope", &sealed[..sealed.len() - 1])
                .is_none()
        );
        assert!(ring.open_token(b"scope", b"").is_none());
        // Neither another master key nor the records key opens it.
        let other = Keyring::new(&MasterKey::generate().unwrap());
        assert!(other.open_token(b"scope", &sealed).is_none());
        assert!(ring.open_record("scope", &sealed).is_err());
        let record = ring.seal_record("scope", b"photos-2026").unwrap();
        assert!(ring.open_token(b"scope", &record).is_none());
    }
}
