//! Regressions found by the `audit_segment` fuzz target: numbers read from disk at the
//! ends of their range. A segment named `segment-ffffffffffffffff.audit`, a header whose
//! first sequence is `u64::MAX` (or 0) — no honest writer makes them, but they must be
//! errors, not panics (overflow checks) or wrapped numbers (release builds).

use std::path::Path;

use crate::format::{Entry, Header, encode_frame, segment_path};
use crate::keys::AuditKey;
use crate::writer::AuditLog;
use crate::{Error, Record, verify};

const KEY: [u8; 32] = [0x24; 32];

/// Writes segment `number` starting at `first`, holding honest records at `first`,
/// `first + 1`… (`records` of them).
fn segment(dir: &Path, number: u64, first: u64, records: u64) {
    let key = AuditKey::new(&KEY);
    let header = Header {
        first,
        chain: [0; 32],
    };
    let mut bytes = header.encode().to_vec();
    let mut chain = header.chain;
    let mut sequence = first;
    for _ in 0..records {
        let plain = postcard::to_allocvec(&Entry {
            previous: chain,
            record: Record::default(),
        })
        .unwrap();
        let sealed = key.seal(sequence, &plain).unwrap();
        bytes.extend(encode_frame(sequence, &sealed).unwrap());
        chain = key.chain(&chain, sequence, &sealed);
        sequence = sequence.wrapping_add(1);
    }
    std::fs::write(segment_path(dir, number), bytes).unwrap();
}

#[test]
fn the_last_segment_number_has_no_successor() {
    let dir = tempfile::tempdir().unwrap();
    segment(dir.path(), u64::MAX, 1, 1);
    assert!(matches!(
        AuditLog::open(dir.path(), &KEY),
        Err(Error::OutOfNumbers { what: "segment" })
    ));
}

#[test]
fn a_record_at_the_last_sequence_number_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    segment(dir.path(), 1, u64::MAX, 1);
    let out_of_range = |e: &Error| {
        matches!(
            e,
            Error::Tampered {
                what: "sequence number out of range",
                ..
            }
        )
    };
    assert!(AuditLog::open(dir.path(), &KEY).is_err_and(|e| out_of_range(&e)));
    assert!(verify(dir.path(), &KEY, None).is_err());
}

#[test]
fn appending_after_the_last_sequence_number_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    segment(dir.path(), 1, u64::MAX, 0);
    let mut log = AuditLog::open(dir.path(), &KEY).unwrap();
    assert!(matches!(
        log.append(&Record::default()),
        Err(Error::OutOfNumbers { what: "sequence" })
    ));
    assert_eq!(log.checkpoint().sequence, u64::MAX - 1);
}

#[test]
fn a_header_starting_at_sequence_0_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    segment(dir.path(), 1, 0, 0);
    assert!(matches!(
        AuditLog::open(dir.path(), &KEY),
        Err(Error::Tampered {
            what: "segment header damaged",
            ..
        })
    ));
    assert!(
        Header::decode(
            &Header {
                first: 0,
                chain: [0; 32]
            }
            .encode()
        )
        .is_none()
    );
}
