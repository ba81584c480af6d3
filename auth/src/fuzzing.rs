//! Entry points for the `fuzz/` targets: the decoders of what this crate reads back from
//! disk. The user directory is a sealed record (storage opens the seal; the `key_files`
//! target fuzzes that) whose plaintext is decoded here; its inline policies and stored
//! bucket policies are parsed again at every load; bucket grants are a bucket setting.
//! Built only with the `fuzzing` feature; not an API.
//!
//! # Panics
//! Each function panics when a decoded value does not encode back to itself; that is its
//! purpose.

use crate::acl::{decode_grants, encode_grants};
use crate::directory::Directory;
use crate::policy::{Policy, PolicyKind};
use crate::records::DirectoryRecord;

/// The user directory's plaintext: decoded (or upgraded from version 1), then loaded as
/// the server does, which parses every inline policy. A decoded record encodes to bytes
/// that decode to a record encoding the same way.
pub fn directory_record(bytes: &[u8]) {
    let Ok(Some(record)) = DirectoryRecord::decode(bytes, || Ok("123456789012".to_owned())) else {
        return;
    };
    let encoded = record.encode().map(|e| e.to_vec());
    let again = encoded.as_ref().ok().and_then(|e| {
        DirectoryRecord::decode(e, || Ok(String::new()))
            .ok()
            .flatten()
    });
    let re_encoded = again.map(|r| r.encode().map(|e| e.to_vec()));
    assert!(
        matches!((&encoded, &re_encoded), (Ok(a), Some(Ok(b))) if a == b),
        "a directory record does not round-trip"
    );
    let directory = Directory::new(record);
    let _ = directory.secret(&directory.record.root.access_key);
}

/// A bucket's stored grants.
pub fn grants(bytes: &[u8]) {
    if let Ok(grants) = decode_grants(bytes) {
        let again = encode_grants(&grants)
            .ok()
            .and_then(|e| decode_grants(&e).ok());
        assert_eq!(again, Some(grants), "grants round trip");
    }
}

/// A stored policy document, as an identity policy and as a bucket policy.
pub fn policy(text: &str) {
    let _ = Policy::parse(text, PolicyKind::Identity);
    let _ = Policy::parse(text, PolicyKind::Bucket { bucket: "fuzz" });
}
