//! The trail's promises, each broken on purpose: every alteration, removal, reordering and
//! insertion is found at its place; truncation is found against a checkpoint; a crash's
//! torn tail is not a break; nothing readable reaches the disk.

use std::path::{Path, PathBuf};

use crate::format::{FRAME_HEAD, HEADER_LEN, segments};
use crate::writer::AuditLog;
use crate::{Caller, Checkpoint, Error, Filter, Phase, Reader, Record, verify};

const KEY: [u8; 32] = [0x42; 32];

fn record(i: u64) -> Record {
    Record {
        phase: Phase::Outcome,
        time_ms: 1_000 + i,
        request_id: format!("req-{i}"),
        caller: (!i.is_multiple_of(3)).then(|| Caller {
            user: if i.is_multiple_of(2) {
                "camera".into()
            } else {
                "auditor".into()
            },
            access_key: "AKIAEXAMPLE".into(),
        }),
        source: "192.0.2.7".into(),
        operation: if i.is_multiple_of(2) {
            "PutObject".into()
        } else {
            "GetObject".into()
        },
        bucket: Some("patient-photos".into()),
        key: Some(format!("jane-doe-marker/{i}.jpg")),
        version_id: None,
        status: if i.is_multiple_of(5) { 403 } else { 200 },
        error_code: (i.is_multiple_of(5)).then(|| "AccessDenied".into()),
        bytes_in: i,
        bytes_out: 2 * i,
        duration_us: 10,
    }
}

fn write(dir: &Path, n: u64) -> Checkpoint {
    let mut log = AuditLog::open(dir, &KEY).unwrap();
    for i in 0..n {
        log.append(&record(i)).unwrap();
    }
    log.sync().unwrap();
    log.checkpoint()
}

fn only_segment(dir: &Path) -> PathBuf {
    let all = segments(dir).unwrap();
    assert_eq!(all.len(), 1);
    all[0].1.clone()
}

/// Byte ranges of each frame of a segment.
fn frames(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while at + FRAME_HEAD <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(at..at + FRAME_HEAD + len);
        at += FRAME_HEAD + len;
    }
    out
}

fn broken_at(dir: &Path) -> (u64, &'static str) {
    match verify(dir, &KEY, None) {
        Err(Error::Tampered { position, what, .. }) => (position, what),
        other => panic!("expected a break, got {other:?}"),
    }
}

#[test]
fn records_round_trip_across_reopens_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), 10);
    assert_eq!(first.sequence, 10);
    let second = write(dir.path(), 5);
    assert_eq!(second.sequence, 15);
    let all: Vec<_> = Reader::open(dir.path(), &KEY, Filter::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all.len(), 15);
    assert_eq!(all[3], (4, record(3)));
    assert_eq!(all[12], (13, record(2)));
    let denied = Filter {
        status: Some(403),
        ..Filter::default()
    };
    assert_eq!(Reader::open(dir.path(), &KEY, denied).unwrap().count(), 3);
    let anonymous = Filter {
        user: Some("anonymous".into()),
        operation: Some("GetObject".into()),
        ..Filter::default()
    };
    assert!(
        Reader::open(dir.path(), &KEY, anonymous)
            .unwrap()
            .map(Result::unwrap)
            .all(|(_, r)| r.caller.is_none() && r.operation == "GetObject")
    );
    let report = verify(dir.path(), &KEY, Some(second)).unwrap();
    assert_eq!((report.records, report.last), (15, second));
    verify(dir.path(), &KEY, Some(first)).unwrap();
}

#[test]
fn an_altered_byte_is_found_at_its_record() {
    for target in [0usize, 3, 7] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 8);
        let path = only_segment(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let frame = frames(&bytes)[target].clone();
        // A byte of the sealed entry, then (separately) of the sequence number.
        bytes[frame.end - 3] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(broken_at(dir.path()), (target as u64, "record altered"));
        bytes[frame.end - 3] ^= 0x01;
        bytes[frame.start + 5] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(broken_at(dir.path()).0, target as u64);
    }
}

#[test]
fn removed_swapped_and_inserted_records_are_found_at_their_place() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 8);
    let path = only_segment(dir.path());
    let original = std::fs::read(&path).unwrap();
    let f = frames(&original);
    let splice = |parts: &[std::ops::Range<usize>]| -> Vec<u8> {
        let mut out = original[..HEADER_LEN].to_vec();
        for p in parts {
            out.extend_from_slice(&original[p.clone()]);
        }
        out
    };
    // Removed: the fourth record.
    let mut without: Vec<_> = f.clone();
    without.remove(3);
    std::fs::write(&path, splice(&without)).unwrap();
    assert_eq!(broken_at(dir.path()), (3, "a record is missing"));
    // Swapped: the third and fourth.
    let mut swapped = f.clone();
    swapped.swap(2, 3);
    std::fs::write(&path, splice(&swapped)).unwrap();
    assert_eq!(broken_at(dir.path()), (2, "a record is missing"));
    // Inserted: a copy of the second after the fifth.
    let mut inserted = f.clone();
    inserted.insert(5, f[1].clone());
    std::fs::write(&path, splice(&inserted)).unwrap();
    assert_eq!(
        broken_at(dir.path()),
        (5, "a record is repeated or out of order")
    );
    // Intact again.
    std::fs::write(&path, &original).unwrap();
    verify(dir.path(), &KEY, None).unwrap();
}

#[test]
fn truncation_is_found_against_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = write(dir.path(), 8);
    let path = only_segment(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let f = frames(&bytes);
    std::fs::write(&path, &bytes[..f[5].start]).unwrap();
    // Alone, a shorter trail is still a valid trail.
    assert_eq!(verify(dir.path(), &KEY, None).unwrap().records, 5);
    assert!(matches!(
        verify(dir.path(), &KEY, Some(checkpoint)),
        Err(Error::Truncated { sequence: 8 })
    ));
    // A checkpoint from another trail does not match.
    let other = Checkpoint {
        sequence: 3,
        chain: [9; 32],
    };
    assert!(matches!(
        verify(dir.path(), &KEY, Some(other)),
        Err(Error::Tampered { position: 2, .. })
    ));
}

#[test]
fn a_torn_tail_is_dropped_on_reopen_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 4);
    // Every open starts a segment: the fifth record is alone in segment 2.
    write(dir.path(), 1);
    let all = segments(dir.path()).unwrap();
    assert_eq!(all.len(), 2);
    let path = all[1].1.clone();
    let five = std::fs::read(&path).unwrap();
    // The fifth frame cut short by a crash.
    std::fs::write(&path, &five[..HEADER_LEN + 20]).unwrap();
    assert_eq!(verify(dir.path(), &KEY, None).unwrap().records, 4);
    // Reopened, the torn frame is dropped and segment 2, now empty, is written to.
    let cp = write(dir.path(), 3);
    assert_eq!(cp.sequence, 7);
    assert_eq!(segments(dir.path()).unwrap().len(), 2);
    assert_eq!(verify(dir.path(), &KEY, Some(cp)).unwrap().records, 7);
}

#[test]
fn segments_chain_into_each_other_synced_or_not() {
    // A relaxed trail (new segments not fsynced) writes the same chain.
    for durable in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open_with(dir.path(), &KEY, 600, durable).unwrap();
        for i in 0..40 {
            log.append(&record(i)).unwrap();
        }
        log.sync().unwrap();
        let cp = log.checkpoint();
        drop(log);
        let all = segments(dir.path()).unwrap();
        assert!(all.len() >= 4, "{} segments", all.len());
        let report = verify(dir.path(), &KEY, Some(cp)).unwrap();
        assert_eq!(report.records, 40);
        assert_eq!(report.segments, all.len() as u64);
        // Removing one in the middle breaks the chain; removing the oldest by hand (without
        // expiry's anchor) is found too, in tests_retention.
        std::fs::remove_file(&all[2].1).unwrap();
        assert!(matches!(
            verify(dir.path(), &KEY, None),
            Err(Error::Tampered {
                position: 0,
                what: "segment does not continue the one before it",
                ..
            })
        ));
    }
}

#[test]
fn nothing_readable_reaches_the_disk_and_a_wrong_key_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 6);
    let bytes = std::fs::read(only_segment(dir.path())).unwrap();
    for marker in [
        &b"jane-doe-marker"[..],
        b"patient-photos",
        b"camera",
        b"auditor",
        b"AKIAEXAMPLE",
        b"PutObject",
        b"192.0.2.7",
        b"req-",
    ] {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "{}",
            String::from_utf8_lossy(marker)
        );
    }
    let wrong = [0x43; 32];
    assert!(matches!(
        verify(dir.path(), &wrong, None),
        Err(Error::Tampered { position: 0, .. })
    ));
    assert!(AuditLog::open(dir.path(), &wrong).is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(only_segment(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
}
