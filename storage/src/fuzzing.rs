//! Entry points for the `fuzz/` targets: thin wrappers around the decoders of bytes this
//! crate reads back from disk. Built only with the `fuzzing` feature; not an API.
//!
//! Each function runs one decoder (or a family) on arbitrary input and checks what holds
//! whatever the input: no panic, no allocation sized by an unchecked length, and where there
//! is an encoder, `decode(encode(x)) == x`. The checks are `assert!`s, so a broken one is a
//! crash the fuzzer reports.
//!
//! # Panics
//! Every function here panics when a property above does not hold; that is its purpose.

use std::ffi::OsStr;

use crate::keys::keyring::{self, Keyring, MasterKey};
use crate::keys::recovery_shares::{self, Share};
use crate::keys::{key_file, unlocker_file};

pub use crate::chunks::chunk_id::ChunkId;
pub use crate::keys::keyring::BucketKeys;

/// A bucket's working keys from a fixed secret, so a target can seal what it then opens.
pub fn bucket_keys(secret: &[u8; 32]) -> BucketKeys {
    BucketKeys::from_secret(secret)
}

/// Opens `sealed` as chunk `id` (arbitrary bytes read from a chunk file).
///
/// # Errors
/// What [`crate::hot_paths::open`] gives.
pub fn open_chunk(keys: &BucketKeys, id: [u8; 32], sealed: Vec<u8>) -> crate::Result<Vec<u8>> {
    crate::chunks::seal::open(keys, &ChunkId(id), sealed).map(|b| b.to_vec())
}

/// Seals `plaintext` the way the chunk store does, then opens it again: the plaintext must
/// come back, and any one flipped bit (at `flip`, if given) must be refused.
pub fn chunk_round_trip(keys: &BucketKeys, plaintext: &[u8], flip: Option<(usize, u8)>) {
    let id = ChunkId::of(keys, plaintext);
    let Ok(mut sealed) = crate::chunks::seal::seal(keys, &id, plaintext) else {
        panic!("sealing a small chunk failed");
    };
    if let Some((at, bit)) = flip {
        let at = at % sealed.len();
        sealed[at] ^= 1 << (bit % 8);
        assert!(
            crate::chunks::seal::open(keys, &id, sealed).is_err(),
            "a flipped bit opened"
        );
    } else {
        let opened = crate::chunks::seal::open(keys, &id, sealed);
        assert!(
            opened.is_ok_and(|b| b[..] == *plaintext),
            "a sealed chunk did not open to its plaintext"
        );
    }
}

/// Parses a file or folder name of the chunk tree (bucket id, fan-out byte, chunk id), as the
/// sweep and scrub walk does.
pub fn chunk_tree_name(name: &str) {
    let name = OsStr::new(name);
    let _ = crate::chunks::chunk_store::parse_hex::<16>(name);
    let _ = crate::chunks::chunk_store::parse_hex::<1>(name);
    if let Some(id) = crate::chunks::chunk_store::parse_hex::<32>(name) {
        assert_eq!(hex::encode(id), name.to_string_lossy().to_ascii_lowercase());
    }
}

/// Every decoder of the object, version, bucket and bucket-setting tables, on `bytes`.
pub fn index_records(bytes: &[u8]) {
    crate::index::fuzzing::index_records(bytes);
}

/// Every decoder of the multipart tables (uploads, parts, layouts), on `bytes`, and the
/// upload id a client names.
pub fn upload_records(bytes: &[u8]) {
    crate::index::fuzzing::upload_records(bytes);
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(id) = crate::multipart::parse_upload_id(text)
    {
        assert_eq!(hex::encode(id), text.to_ascii_lowercase());
    }
}

/// The key files, on arbitrary bytes: `<data>/keys` (parsed, then its blobs opened under a
/// fixed master key), `<data>/unlockers` (decoded, and re-encoded if it decodes), a sealed
/// record, and recovery share texts (one per line, then combined).
pub fn key_files(master: &[u8; 32], bytes: &[u8]) {
    let ring = Keyring::new(&MasterKey::from_bytes(zeroize::Zeroizing::new(*master)));
    if let Some((check, wrapped)) = key_file::parse(bytes) {
        let _ = ring.verify_key_check(check);
        let _ = ring.open_index_key(wrapped);
    }
    let _ = ring.verify_key_check(bytes);
    let _ = ring.open_index_key(bytes);
    let _ = ring.open_record("auth/credentials", bytes);
    let _ = ring.open_bucket_key_with_share(&[0; 16], bytes, &[0; 32]);
    if let Ok(file) = unlocker_file::decode(bytes) {
        let encoded = unlocker_file::encode(&file);
        let again = encoded
            .as_ref()
            .ok()
            .and_then(|e| unlocker_file::decode(e).ok());
        let re_encoded = again.as_ref().map(unlocker_file::encode);
        assert!(
            matches!((&encoded, &re_encoded), (Ok(a), Some(Ok(b))) if a == b),
            "an unlockers file does not round-trip"
        );
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let shares: Vec<Share> = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| Share::from_text(line, i + 1).ok())
            .collect();
        for share in &shares {
            let again = Share::from_text(&share.to_text(), 1);
            assert!(
                again.is_ok_and(|s| s.set == share.set
                    && s.threshold == share.threshold
                    && s.x == share.x),
                "a recovery share does not round-trip"
            );
        }
        let _ = recovery_shares::combine(&shares);
    }
}

/// Recovery shares as staff would type them: `secret` split `threshold` of `count`, the
/// texts edited by `edits` (position, byte; a 0 byte deletes), then parsed and combined.
/// Whatever the edits, nothing panics; when they leave every text as the parser reads it,
/// the shares give the secret back.
pub fn recovery_shares(secret: &[u8; 32], threshold: u8, count: u8, edits: &[(u16, u8)]) {
    let Ok(shares) = recovery_shares::split(secret, threshold, count) else {
        return;
    };
    let mut texts: Vec<String> = shares
        .iter()
        .map(|s| s.to_text().as_str().to_owned())
        .collect();
    let originals = texts.clone();
    for &(at, byte) in edits {
        let Some(text) = texts.get_mut(usize::from(at) % shares.len()) else {
            continue;
        };
        let mut bytes = std::mem::take(text).into_bytes();
        let i = usize::from(at >> 8) % (bytes.len() + 1);
        if byte == 0 {
            if i < bytes.len() {
                bytes.remove(i);
            }
        } else {
            bytes.insert(i, byte);
        }
        *text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let parsed: Vec<Share> = texts
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Share::from_text(t, i + 1).ok())
        .collect();
    let untouched = texts
        .iter()
        .zip(&originals)
        .filter(|(t, o)| normalized(t) == normalized(o))
        .count();
    if untouched == texts.len()
        && let Ok(back) = recovery_shares::combine(&parsed)
    {
        assert_eq!(*back, *secret, "recombined shares give another secret");
    }
}

/// A share text as the parser reads it: without dashes and spaces, upper case.
fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '-' && !c.is_ascii_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The plaintext behind the key files' AEAD: `secret` wrapped as the index key, a bucket
/// key and a sealed record under a fixed master key, then opened as the readers do. Only a
/// 32-byte secret may open as a key; a record opens to exactly what was sealed.
pub fn wrapped_secrets(master: &[u8; 32], secret: &[u8]) {
    let ring = Keyring::new(&MasterKey::from_bytes(zeroize::Zeroizing::new(*master)));
    if let Ok(wrapped) = ring.wrap_index_key_bytes(secret) {
        let opened = ring.open_index_key(&wrapped);
        assert_eq!(opened.is_ok(), secret.len() == 32, "index key length check");
        if let Ok(key) = opened {
            assert_eq!(&key[..], secret);
        }
    }
    if let Ok(sealed) = ring.seal_record("fuzz", secret) {
        let opened = ring.open_record("fuzz", &sealed);
        assert!(opened.is_ok_and(|v| v[..] == *secret), "record round trip");
        assert!(
            ring.open_record("other", &sealed).is_err(),
            "record name is bound"
        );
    }
    let cipher = keyring::cipher_from(master);
    if let Ok(wrapped) = keyring::wrap(&cipher, b"fuzz", b"", secret) {
        let opened = keyring::unwrap(&cipher, b"fuzz", b"", &wrapped);
        assert!(opened.is_ok_and(|v| v[..] == *secret), "wrap round trip");
    }
}
