//! Continuation tokens of the listings that page with one (ListObjectsV2, ListBuckets).
//!
//! A token holds the last name of the page it ends (a key, a bucket name), so the next page
//! starts after it. AWS calls its tokens "obfuscated and not a real key"; ours are sealed by
//! the store ([`Store::seal_token`]: AES-256-GCM-SIV under a key of its own, derived from
//! the master key), so a token seen in a shell history, a proxy log or a bug report tells
//! nothing of the names, and an altered or forged one is refused rather than followed. The
//! listing a token belongs to ([`Listing`]: which bucket's keys, whose buckets) is its
//! associated data: a token only continues the listing that gave it. A token does not
//! survive a master key rotation; the client then lists again from the start.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_storage::Store;
use s3s::{S3Result, s3_error};

use super::error_map::internal;

/// Version byte inside the sealed value, so the format can change later.
const FORMAT_V1: u8 = 1;

/// The listing a token continues.
pub(super) enum Listing<'a> {
    /// ListObjectsV2 of this bucket.
    Keys { bucket: &'a str },
    /// ListBuckets of this principal.
    Buckets { owner: &'a str },
}

impl Listing<'_> {
    /// The associated data: a tag for the kind of listing, then its name.
    fn scope(&self) -> Vec<u8> {
        let (tag, name) = match self {
            Listing::Keys { bucket } => (b'k', bucket),
            Listing::Buckets { owner } => (b'b', owner),
        };
        let mut scope = Vec::with_capacity(1 + name.len());
        scope.push(tag);
        scope.extend_from_slice(name.as_bytes());
        scope
    }
}

/// The token that continues `listing` after `last`.
///
/// # Errors
/// `InternalError` if the OS has no randomness for the nonce.
pub(super) fn encode(store: &Store, listing: &Listing<'_>, last: &str) -> S3Result<String> {
    let mut value = Vec::with_capacity(1 + last.len());
    value.push(FORMAT_V1);
    value.extend_from_slice(last.as_bytes());
    let sealed = store
        .seal_token(&listing.scope(), &value)
        .map_err(internal)?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// The name a token of `listing` continues after.
///
/// # Errors
/// `InvalidArgument` (AWS's answer to a token it did not give) for anything that is not a
/// token this server sealed for `listing`.
pub(super) fn decode(store: &Store, listing: &Listing<'_>, token: &str) -> S3Result<String> {
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The continuation token provided is incorrect"
        )
    };
    let sealed = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let value = store
        .open_token(&listing.scope(), &sealed)
        .ok_or_else(invalid)?;
    match value.split_first() {
        Some((&FORMAT_V1, last)) => String::from_utf8(last.to_vec()).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_storage::{
        DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, Durability, MasterKey, Placement, StoreConfig,
    };

    async fn new_store() -> Store {
        Store::open(StoreConfig {
            placement: Placement::Memory { max_bytes: 1 << 20 },
            chunk_size: DEFAULT_CHUNK_SIZE,
            inline_max: DEFAULT_INLINE_MAX,
            durability: Durability::Relaxed,
            master_key: MasterKey::generate().unwrap(),
        })
        .await
        .unwrap()
    }

    fn is_invalid(result: S3Result<String>) -> bool {
        result.is_err_and(|e| *e.code() == s3s::S3ErrorCode::InvalidArgument)
    }

    #[tokio::test]
    async fn tokens_round_trip_any_name_and_hide_it() {
        let store = new_store().await;
        let listing = Listing::Keys { bucket: "scans" };
        for last in [
            "",
            "a/b",
            "ключ with spaces+%",
            "x\u{0}y",
            "patient-4711.dcm",
        ] {
            let token = encode(&store, &listing, last).unwrap();
            assert_eq!(decode(&store, &listing, &token).unwrap(), last);
            let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
            if !last.is_empty() {
                assert!(
                    !raw.windows(last.len()).any(|w| w == last.as_bytes()),
                    "{last:?} in clear"
                );
                assert!(!token.contains(last), "{last:?} in the token text");
            }
        }
        // Each token is sealed afresh: two tokens for one name differ.
        assert_ne!(
            encode(&store, &listing, "a").unwrap(),
            encode(&store, &listing, "a").unwrap()
        );
    }

    #[tokio::test]
    async fn a_token_continues_only_its_own_listing() {
        let store = new_store().await;
        let token = encode(&store, &Listing::Buckets { owner: "alice" }, "photos").unwrap();
        for other in [
            Listing::Buckets { owner: "bob" },
            Listing::Keys { bucket: "alice" },
        ] {
            assert!(is_invalid(decode(&store, &other, &token)));
        }
        // Nor on another server (another master key).
        let elsewhere = new_store().await;
        assert!(is_invalid(decode(
            &elsewhere,
            &Listing::Buckets { owner: "alice" },
            &token
        )));
    }

    #[tokio::test]
    async fn altered_forged_and_old_format_tokens_are_refused() {
        let store = new_store().await;
        let listing = Listing::Buckets { owner: "alice" };
        let token = encode(&store, &listing, "photos").unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(&raw);
        // The unsealed format ListObjectsV2 used before: version 1, then the name in clear.
        let mut plain = vec![1u8];
        plain.extend_from_slice(b"photos");
        for bad in [
            altered,
            URL_SAFE_NO_PAD.encode(plain),
            String::new(),
            "!!".to_owned(),
            "A".repeat(2000),
        ] {
            assert!(is_invalid(decode(&store, &listing, &bad)), "{bad:?}");
        }
    }
}
