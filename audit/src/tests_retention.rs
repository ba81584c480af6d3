//! Retention's promises, each broken on purpose: expiry removes whole segments, oldest
//! first, never the one being written, and the rest still verifies through the anchor; a
//! start removed by hand, a tampered anchor, an anchor from another trail and a stale one
//! are all refused; a crash between the anchor and the removals leaves a trail that
//! verifies and an expiry that finishes the job.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::format::segments;
use crate::writer::AuditLog;
use crate::{ANCHOR_FILE, Checkpoint, Error, Filter, Reader, Record, verify};

const KEY: [u8; 32] = [0x42; 32];

fn record(time_ms: u64) -> Record {
    Record {
        time_ms,
        request_id: format!("req-{time_ms}"),
        operation: "PutObject".into(),
        status: 200,
        ..Record::default()
    }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// One server run: opens the trail (a new segment), appends records arriving at `times`.
fn session(dir: &Path, times: &[u64]) -> AuditLog {
    let mut log = AuditLog::open(dir, &KEY).unwrap();
    for t in times {
        log.append(&record(*t)).unwrap();
    }
    log.sync().unwrap();
    log
}

/// Three closed segments (records 1–3 at 100–300, 4–5 at 400–500, 6–7 at 600–700) and a
/// fourth being written (record 8 at 800).
fn four_segments(dir: &Path) -> AuditLog {
    drop(session(dir, &[100, 200, 300]));
    drop(session(dir, &[400, 500]));
    drop(session(dir, &[600, 700]));
    session(dir, &[800])
}

fn numbers(dir: &Path) -> Vec<u64> {
    segments(dir).unwrap().into_iter().map(|(n, _)| n).collect()
}

fn segment_file(dir: &Path, number: u64) -> std::path::PathBuf {
    crate::format::segment_path(dir, number)
}

#[test]
fn every_open_starts_a_segment_and_an_empty_one_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    drop(session(dir.path(), &[1, 2]));
    drop(session(dir.path(), &[3]));
    assert_eq!(numbers(dir.path()), [1, 2]);
    // Restarts that record nothing leave one empty segment, written to later.
    drop(session(dir.path(), &[]));
    drop(session(dir.path(), &[]));
    assert_eq!(numbers(dir.path()), [1, 2, 3]);
    let log = session(dir.path(), &[4]);
    assert_eq!(numbers(dir.path()), [1, 2, 3]);
    let report = verify(dir.path(), &KEY, Some(log.checkpoint())).unwrap();
    assert_eq!((report.records, report.segments, report.first), (4, 3, 1));
    assert_eq!(report.expired, None);
}

#[test]
fn expiry_removes_the_old_segments_and_the_rest_verifies_from_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    // Nothing is older than 50 ms.
    let none = log.expire(at(50)).unwrap();
    assert_eq!((none.segments, none.records, none.first_kept), (0, 0, 1));
    assert!(!dir.path().join(ANCHOR_FILE).exists());

    // Segment 2's latest record is at 500: a cutoff of 500 removes segment 1 only.
    let report = log.expire(at(500)).unwrap();
    assert_eq!(
        (report.segments, report.records, report.first_kept),
        (1, 3, 4)
    );
    assert_eq!(numbers(dir.path()), [2, 3, 4]);
    assert!(dir.path().join(ANCHOR_FILE).exists());
    let verified = verify(dir.path(), &KEY, Some(log.checkpoint())).unwrap();
    assert_eq!(
        (verified.first, verified.records, verified.segments),
        (4, 5, 3)
    );
    let expired = verified.expired.unwrap();
    assert_eq!((expired.records, expired.segments), (3, 1));
    assert_eq!(expired.cutoff_ms, 500);

    // The trail goes on; a later expiry removes segments 2 and 3.
    log.append(&record(900)).unwrap();
    log.sync().unwrap();
    let report = log.expire(at(10_000)).unwrap();
    assert_eq!(
        (report.segments, report.records, report.first_kept),
        (2, 4, 8)
    );
    // Never the segment being written, however old its records.
    assert_eq!(numbers(dir.path()), [4]);
    let verified = verify(dir.path(), &KEY, Some(log.checkpoint())).unwrap();
    assert_eq!((verified.first, verified.records), (8, 2));
    assert_eq!(verified.expired.unwrap().segments, 3);

    // Show reads what remains, with its sequence numbers.
    let left: Vec<u64> = Reader::open(dir.path(), &KEY, Filter::default())
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(left, [8, 9]);

    // After a restart the kept segment is closed; it expires in turn, leaving a trail
    // that starts on an empty segment.
    drop(log);
    let mut log = session(dir.path(), &[]);
    assert_eq!(log.expire(at(10_000)).unwrap().segments, 1);
    assert_eq!(numbers(dir.path()), [5]);
    let verified = verify(dir.path(), &KEY, None).unwrap();
    assert_eq!((verified.first, verified.records), (10, 0));
    assert_eq!(verified.last, log.checkpoint());
    log.append(&record(11_000)).unwrap();
    log.sync().unwrap();
    verify(dir.path(), &KEY, Some(log.checkpoint())).unwrap();
}

#[test]
fn a_segment_is_judged_by_its_latest_record_not_its_last() {
    let dir = tempfile::tempdir().unwrap();
    // A long request that arrived at 900 is recorded before one that arrived at 300.
    drop(session(dir.path(), &[100, 900, 300]));
    let mut log = session(dir.path(), &[1000]);
    assert_eq!(log.expire(at(800)).unwrap().segments, 0);
    assert_eq!(log.expire(at(901)).unwrap().segments, 1);
}

#[test]
fn removing_the_oldest_segment_by_hand_fails_verify_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    std::fs::remove_file(segment_file(dir.path(), 1)).unwrap();
    let err = verify(dir.path(), &KEY, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::StartRemoved {
                segment: 2,
                first: 4
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("records removed from the start of the trail"),
        "{err}"
    );
    // Expiry does not cover the removal with an anchor.
    assert!(matches!(
        log.expire(at(10_000)),
        Err(Error::StartRemoved { segment: 2, .. })
    ));
    assert_eq!(numbers(dir.path()), [2, 3, 4]);
    assert!(!dir.path().join(ANCHOR_FILE).exists());
}

#[test]
fn removing_more_than_the_anchor_covers_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    log.expire(at(350)).unwrap();
    std::fs::remove_file(segment_file(dir.path(), 2)).unwrap();
    assert!(matches!(
        verify(dir.path(), &KEY, None),
        Err(Error::StaleAnchor {
            segment: 3,
            first: 6,
            anchored: 4
        })
    ));
}

#[test]
fn a_tampered_anchor_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    log.expire(at(350)).unwrap();
    let path = dir.path().join(ANCHOR_FILE);
    let original = std::fs::read(&path).unwrap();
    for at_byte in [0, 5, 10, original.len() - 1] {
        let mut bytes = original.clone();
        bytes[at_byte] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(verify(dir.path(), &KEY, None), Err(Error::BadAnchor { .. })),
            "byte {at_byte}"
        );
        // Nor will expiry build on it.
        assert!(matches!(
            log.expire(at(10_000)),
            Err(Error::BadAnchor { .. })
        ));
    }
    std::fs::write(&path, &original[..original.len() / 2]).unwrap();
    assert!(matches!(
        verify(dir.path(), &KEY, None),
        Err(Error::BadAnchor { .. })
    ));
    // Removed altogether: the start is missing again.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        verify(dir.path(), &KEY, None),
        Err(Error::StartRemoved { segment: 2, .. })
    ));
    std::fs::write(&path, &original).unwrap();
    verify(dir.path(), &KEY, None).unwrap();
}

#[test]
fn an_anchor_from_another_trail_fails() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let mut log = four_segments(ours.path());
    log.expire(at(350)).unwrap();
    // Another trail, another key, the same shape and the same expiry.
    let other_key = [0x17; 32];
    for times in [&[100, 200, 300][..], &[400, 500], &[600]] {
        let mut other = AuditLog::open(theirs.path(), &other_key).unwrap();
        for t in times {
            other.append(&record(*t)).unwrap();
        }
        other.sync().unwrap();
        if times == [600] {
            other.expire(at(350)).unwrap();
        }
    }
    verify(theirs.path(), &other_key, None).unwrap();
    std::fs::copy(
        theirs.path().join(ANCHOR_FILE),
        ours.path().join(ANCHOR_FILE),
    )
    .unwrap();
    let err = verify(ours.path(), &KEY, None).unwrap_err();
    assert!(matches!(err, Error::BadAnchor { .. }), "{err:?}");
    assert!(err.to_string().contains("another trail"), "{err}");
}

#[test]
fn a_stale_anchor_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    log.expire(at(350)).unwrap();
    let first_anchor = std::fs::read(dir.path().join(ANCHOR_FILE)).unwrap();
    log.expire(at(550)).unwrap();
    assert_eq!(numbers(dir.path()), [3, 4]);
    verify(dir.path(), &KEY, None).unwrap();
    // The older anchor put back vouches for less than was removed.
    std::fs::write(dir.path().join(ANCHOR_FILE), &first_anchor).unwrap();
    let err = verify(dir.path(), &KEY, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::StaleAnchor {
                segment: 3,
                first: 6,
                anchored: 4
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("records removed from the start of the trail"),
        "{err}"
    );
}

#[test]
fn a_crash_between_the_anchor_and_the_removals_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    let kept = |n| std::fs::read(segment_file(dir.path(), n)).unwrap();
    let (one, two) = (kept(1), kept(2));
    // A crash while writing the anchor leaves its temporary file: ignored.
    std::fs::write(dir.path().join("anchor.audit.tmp"), b"half an anchor").unwrap();
    verify(dir.path(), &KEY, None).unwrap();

    log.expire(at(550)).unwrap();
    assert_eq!(numbers(dir.path()), [3, 4]);
    // As if the process had died after the anchor, before any removal…
    std::fs::write(segment_file(dir.path(), 1), &one).unwrap();
    std::fs::write(segment_file(dir.path(), 2), &two).unwrap();
    let report = verify(dir.path(), &KEY, Some(log.checkpoint())).unwrap();
    assert_eq!((report.first, report.records, report.expired), (1, 8, None));
    // …or after removing segment 1 only.
    std::fs::remove_file(segment_file(dir.path(), 1)).unwrap();
    let report = verify(dir.path(), &KEY, None).unwrap();
    assert_eq!((report.first, report.records), (4, 5));
    assert_eq!(report.expired.unwrap().segments, 1);

    // The next expiry (a new process: nothing cached) finishes the job.
    drop(log);
    let mut log = session(dir.path(), &[]);
    let finished = log.expire(at(550)).unwrap();
    assert_eq!((finished.segments, finished.first_kept), (1, 6));
    assert_eq!(numbers(dir.path()), [3, 4, 5]);
    let report = verify(dir.path(), &KEY, None).unwrap();
    assert_eq!(report.first, 6);
    assert_eq!(report.expired.unwrap().segments, 2);

    // A longer retention after such a crash removes nothing, and the trail verifies.
    std::fs::write(segment_file(dir.path(), 2), &two).unwrap();
    assert_eq!(log.expire(at(450)).unwrap().segments, 0);
    verify(dir.path(), &KEY, None).unwrap();
}

#[test]
fn expiry_leaves_damage_for_verify_to_find() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = four_segments(dir.path());
    let path = segment_file(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        log.expire(at(10_000)),
        Err(Error::Tampered { segment: 1, .. })
    ));
    assert_eq!(numbers(dir.path()), [1, 2, 3, 4]);
    assert!(!dir.path().join(ANCHOR_FILE).exists());
}

#[test]
fn checkpoints_older_than_the_trail_are_refused_and_the_boundary_one_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    drop(session(dir.path(), &[100, 200, 300]));
    let boundary = {
        let log = AuditLog::open(dir.path(), &KEY).unwrap();
        log.checkpoint()
    };
    assert_eq!(boundary.sequence, 3);
    let mut log = session(dir.path(), &[400]);
    log.expire(at(350)).unwrap();
    verify(dir.path(), &KEY, Some(boundary)).unwrap();
    let wrong = Checkpoint {
        chain: [1; 32],
        ..boundary
    };
    assert!(matches!(
        verify(dir.path(), &KEY, Some(wrong)),
        Err(Error::Tampered { .. })
    ));
    let older = Checkpoint {
        sequence: 2,
        chain: [0; 32],
    };
    assert!(matches!(
        verify(dir.path(), &KEY, Some(older)),
        Err(Error::CheckpointExpired {
            sequence: 2,
            first: 4
        })
    ));
}

#[test]
fn segments_rolled_by_size_expire_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open_with(dir.path(), &KEY, 300, true).unwrap();
    for t in 0..30 {
        log.append(&record(t * 10)).unwrap();
    }
    log.sync().unwrap();
    let before = numbers(dir.path()).len();
    assert!(before >= 4, "{before} segments");
    let report = log.expire(at(150)).unwrap();
    assert!(
        report.segments >= 1 && report.first_kept <= 16,
        "{report:?}"
    );
    let verified = verify(dir.path(), &KEY, Some(log.checkpoint())).unwrap();
    assert_eq!(verified.first, report.first_kept);
    assert_eq!(verified.records, 30 - (report.first_kept - 1));
}
