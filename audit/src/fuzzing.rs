//! Entry points for the `fuzz/` targets: build the bytes of a trail (so a target can make
//! segments whose records open, and reach the decoders behind the AEAD) and run the
//! decoders of segment and anchor bytes directly. Built only with the `fuzzing` feature;
//! not an API.
//!
//! # Panics
//! [`decode_bytes`] panics when a decoded value does not encode back to itself; that is
//! its purpose.

use std::io::Cursor;

use crate::anchor::{self, Anchor};
use crate::format::{self, Entry, HEADER_LEN, Header, Next};
use crate::keys::AuditKey;
use crate::record::Record;

/// A segment header's bytes.
pub fn header(first: u64, chain: [u8; 32]) -> Vec<u8> {
    Header { first, chain }.encode().to_vec()
}

/// A frame's bytes (empty if `sealed` is over the frame limit).
pub fn frame(sequence: u64, sealed: &[u8]) -> Vec<u8> {
    format::encode_frame(sequence, sealed).unwrap_or_default()
}

/// An entry's plaintext: the chain before it and the record, as the writer encodes them.
pub fn entry(previous: [u8; 32], record: Record) -> Vec<u8> {
    postcard::to_allocvec(&Entry { previous, record }).unwrap_or_default()
}

/// Seals any plaintext as the entry of frame `sequence`.
pub fn seal(key: &[u8; 32], sequence: u64, plain: &[u8]) -> Vec<u8> {
    AuditKey::new(key).seal(sequence, plain).unwrap_or_default()
}

/// The chain hash after the frame `sequence` with `sealed` bytes.
pub fn chain(key: &[u8; 32], previous: &[u8; 32], sequence: u64, sealed: &[u8]) -> [u8; 32] {
    AuditKey::new(key).chain(previous, sequence, sealed)
}

/// Seals any plaintext as an anchor file's body, as expiry writes one.
pub fn anchor_file(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    anchor::seal(&AuditKey::new(key), plain).unwrap_or_default()
}

/// An anchor's plaintext, as expiry encodes it.
pub fn anchor_plain(segment: u64, first: u64, chain: [u8; 32], counts: [u64; 3]) -> Vec<u8> {
    let [segments_removed, removed_at_ms, cutoff_ms] = counts;
    postcard::to_allocvec(&Anchor {
        segment,
        first,
        chain,
        segments_removed,
        removed_at_ms,
        cutoff_ms,
    })
    .unwrap_or_default()
}

/// The decoders on arbitrary bytes: a segment (header, then frames until the end or a torn
/// one), an entry's plaintext and an anchor's, and an anchor file under `key`. Whatever
/// decodes must encode back to the same bytes.
pub fn decode_bytes(key: &[u8; 32], bytes: &[u8]) {
    if let Some(head) = bytes.first_chunk::<HEADER_LEN>()
        && let Some(header) = Header::decode(head)
    {
        assert_eq!(header.encode(), *head, "segment header round trip");
    }
    let mut file = Cursor::new(bytes);
    let mut used = 0;
    while let Ok(Next::Frame(f)) = format::read_frame(&mut file) {
        let again = frame(f.sequence, &f.sealed);
        let end = used + again.len();
        assert_eq!(bytes.get(used..end), Some(&again[..]), "frame round trip");
        used = end;
    }
    if let Ok(entry) = postcard::from_bytes::<Entry>(bytes) {
        let again = postcard::to_allocvec(&entry).unwrap_or_default();
        let back = postcard::from_bytes::<Entry>(&again);
        assert!(
            back.is_ok_and(|b| b.previous == entry.previous && b.record == entry.record),
            "entry round trip"
        );
    }
    if let Ok(anchor) = postcard::from_bytes::<Anchor>(bytes) {
        let again = postcard::to_allocvec(&anchor).unwrap_or_default();
        assert_eq!(postcard::from_bytes::<Anchor>(&again).ok(), Some(anchor));
    }
    let _ = anchor::decode(bytes, &AuditKey::new(key));
}
