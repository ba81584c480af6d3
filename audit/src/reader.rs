//! Reading the trail back (streaming, a segment at a time) and verifying it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::anchor;
use crate::format::{Checkpoint, Entry, HEADER_LEN, Header, Next, read_frame, segments};
use crate::keys::AuditKey;
use crate::record::Record;
use crate::{Error, Result};

/// Which records to show; every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// At or after, in milliseconds since the Unix epoch.
    pub since_ms: Option<u64>,
    /// Before, in milliseconds since the Unix epoch.
    pub until_ms: Option<u64>,
    /// The caller's user name (`anonymous` for unsigned requests).
    pub user: Option<String>,
    /// The bucket.
    pub bucket: Option<String>,
    /// The object key.
    pub key: Option<String>,
    /// The operation (`GetObject`, `iam:CreateUser`…).
    pub operation: Option<String>,
    /// The HTTP status.
    pub status: Option<u16>,
}

impl Filter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &Record) -> bool {
        let user = record
            .caller
            .as_ref()
            .map_or("anonymous", |c| c.user.as_str());
        self.since_ms.is_none_or(|t| record.time_ms >= t)
            && self.until_ms.is_none_or(|t| record.time_ms < t)
            && self.user.as_deref().is_none_or(|u| u == user)
            && self
                .bucket
                .as_deref()
                .is_none_or(|b| record.bucket.as_deref() == Some(b))
            && self
                .key
                .as_deref()
                .is_none_or(|k| record.key.as_deref() == Some(k))
            && self
                .operation
                .as_deref()
                .is_none_or(|o| record.operation == o)
            && self.status.is_none_or(|s| record.status == s)
    }
}

/// The records of a trail in order, read a segment at a time (constant memory however long
/// the trail). Damage surfaces as `Error::Tampered` at the record it hits; run
/// [`verify`] for the whole check.
pub struct Reader {
    key: AuditKey,
    pending: VecDeque<(u64, PathBuf)>,
    current: Option<(u64, BufReader<File>, u64)>,
    filter: Filter,
    failed: bool,
    /// Frames numbered below this are passed over unopened.
    from: u64,
    /// The sequence of the last record got past (see [`Reader::last_sequence`]).
    last: Option<u64>,
}

impl Reader {
    /// Reads the trail in `dir` with `key`, yielding the records `filter` passes.
    ///
    /// # Errors
    /// I/O errors listing the directory.
    pub fn open(dir: &Path, key: &[u8; 32], filter: Filter) -> Result<Reader> {
        Self::open_from(dir, key, filter, 0)
    }

    /// Reads the trail in `dir` with `key` from sequence `from` on, yielding the records
    /// `filter` passes.
    ///
    /// Starting near the end of a long trail costs little: a segment is skipped whole when
    /// the next one starts at or before `from` (each header names its first sequence), and
    /// within a segment the frames before `from` are passed over by their clear sequence
    /// numbers, never opened.
    ///
    /// Safe beside the live writer: reading stops cleanly at the end of what is written, a
    /// frame still being appended (or a new segment whose header is not yet all there)
    /// reads as the end, and the records appended meanwhile are for a later reader.
    ///
    /// # Errors
    /// I/O errors listing the directory or reading a segment header.
    pub fn open_from(dir: &Path, key: &[u8; 32], filter: Filter, from: u64) -> Result<Reader> {
        let mut pending: VecDeque<(u64, PathBuf)> = segments(dir)?.into();
        while let Some((_, next)) = pending.get(1) {
            // A header that does not read (damaged, or still being written) stops the
            // skipping: reading then reports damage where it is.
            match first_sequence(next)? {
                Some(first) if first <= from => {
                    pending.pop_front();
                }
                _ => break,
            }
        }
        Ok(Reader {
            key: AuditKey::new(key),
            pending,
            current: None,
            filter,
            failed: false,
            from,
            last: None,
        })
    }

    /// The sequence number of the last record the reader got past, whether yielded, left
    /// out by the filter or passed over before `from` (a segment's header gets it past the
    /// records before that segment); `None` if it read nothing yet. A reader that has run
    /// to its end gives where the trail ended then (0 for an empty trail).
    pub fn last_sequence(&self) -> Option<u64> {
        self.last
    }

    fn next_record(&mut self) -> Result<Option<(u64, Record)>> {
        loop {
            if self.current.is_none() {
                let Some((number, path)) = self.pending.pop_front() else {
                    return Ok(None);
                };
                let mut file =
                    BufReader::new(File::open(&path).map_err(Error::io("open audit segment"))?);
                let mut head = [0u8; HEADER_LEN];
                match file.read_exact(&mut head) {
                    Ok(()) => {}
                    // The newest segment, created by the writer beside us and its header
                    // not yet all written: nothing to read in it yet.
                    Err(e)
                        if e.kind() == std::io::ErrorKind::UnexpectedEof
                            && self.pending.is_empty() =>
                    {
                        return Ok(None);
                    }
                    Err(e) => return Err(Error::io("read audit header")(e)),
                }
                let header = Header::decode(&head).ok_or(Error::Tampered {
                    segment: number,
                    position: 0,
                    sequence: 0,
                    what: "segment header damaged",
                })?;
                // The records before this segment are behind the reader too, even if the
                // segment holds none yet (the writer has just started it).
                let before = header.first.saturating_sub(1);
                self.last = Some(self.last.map_or(before, |l| l.max(before)));
                self.current = Some((number, file, 0));
            }
            let Some((segment, file, position)) = self.current.as_mut() else {
                continue;
            };
            match read_frame(file)? {
                Next::End | Next::Torn => self.current = None,
                Next::Frame(frame) => {
                    let at = *position;
                    *position += 1;
                    self.last = Some(frame.sequence);
                    if frame.sequence < self.from {
                        continue;
                    }
                    let entry = open_entry(&self.key, frame.sequence, &frame.sealed).ok_or(
                        Error::Tampered {
                            segment: *segment,
                            position: at,
                            sequence: frame.sequence,
                            what: "record altered",
                        },
                    )?;
                    if self.filter.matches(&entry.record) {
                        return Ok(Some((frame.sequence, entry.record)));
                    }
                }
            }
        }
    }
}

impl Iterator for Reader {
    type Item = Result<(u64, Record)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The first sequence number of the segment at `path`; `None` if its header does not read
/// (cut short, or damaged).
fn first_sequence(path: &Path) -> Result<Option<u64>> {
    let mut file = File::open(path).map_err(Error::io("open audit segment"))?;
    let mut head = [0u8; HEADER_LEN];
    match file.read_exact(&mut head) {
        Ok(()) => Ok(Header::decode(&head).map(|h| h.first)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(Error::io("read audit header")(e)),
    }
}

fn open_entry(key: &AuditKey, sequence: u64, sealed: &[u8]) -> Option<Entry> {
    let plain = key.open(sequence, sealed)?;
    postcard::from_bytes(&plain).ok()
}

/// What a verified trail holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments checked.
    pub segments: u64,
    /// Records checked.
    pub records: u64,
    /// The sequence number the trail verifies from: 1 for a whole trail, later once
    /// expiry removed older records (then `expired` says what the anchor vouches for).
    pub first: u64,
    /// The records expiry removed, as the trail's anchor vouches; `None` if none were.
    pub expired: Option<Expired>,
    /// Where the trail ends.
    pub last: Checkpoint,
}

/// The records removed from the start of the trail by expiry, vouched for by the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    /// Records removed: every one before [`VerifyReport::first`].
    pub records: u64,
    /// Segments removed.
    pub segments: u64,
    /// When the last expiry ran, in milliseconds since the Unix epoch.
    pub removed_at_ms: u64,
    /// Every removed record is older than this, in milliseconds since the Unix epoch.
    pub cutoff_ms: u64,
}

/// Checks every record of the trail in `dir`: each opens under its own sequence number,
/// the numbers run without a gap, and each carries the chain hash of the one before; each
/// segment continues the one before. With `checkpoint`, the trail must also reach it with
/// the same chain hash. Reports the first break by segment and position.
///
/// A trail whose oldest segment does not start at sequence 1 had records removed from its
/// start: it verifies only if expiry's anchor opens under `key` and the trail reaches the
/// segment it names with the header it gives.
///
/// A frame cut short at the very end of the newest segment (a crash mid-append) is not a
/// break: it was never acknowledged.
///
/// # Errors
/// `Error::Tampered`, `Error::Truncated`; `Error::StartRemoved`, `Error::StaleAnchor`,
/// `Error::BadAnchor` when the start is missing or the anchor is wrong;
/// `Error::CheckpointExpired` for a checkpoint older than the first record kept; I/O
/// errors.
#[allow(clippy::too_many_lines)] // one pass over the trail, each check where it applies
pub fn verify(dir: &Path, key: &[u8; 32], checkpoint: Option<Checkpoint>) -> Result<VerifyReport> {
    let key = AuditKey::new(key);
    let anchor = anchor::read(dir, &key)?;
    let all = segments(dir)?;
    let count = all.len();
    let mut report = VerifyReport {
        segments: 0,
        records: 0,
        first: 1,
        expired: None,
        last: Checkpoint {
            sequence: 0,
            chain: [0; 32],
        },
    };
    let mut reached = false;
    let mut state: Option<(u64, [u8; 32])> = None;
    for (i, (segment, path)) in all.iter().enumerate() {
        let segment = *segment;
        let broken = |position, sequence, what| Error::Tampered {
            segment,
            position,
            sequence,
            what,
        };
        let (mut file, header) = crate::scan::open_segment(segment, path)?;
        let (mut next, mut chain) = match state {
            // The oldest segment starts the trail: at sequence 1, or where the anchor
            // says expiry cut it.
            None => {
                anchor::check_start(segment, &header, anchor.as_ref())?;
                report.first = header.first;
                // An anchor beside a trail that still starts at 1 (expiry stopped before
                // removing anything) vouches for nothing yet.
                report.expired = anchor
                    .filter(|_| header != Header::GENESIS)
                    .map(|a| Expired {
                        records: header.first.saturating_sub(1),
                        // Segments the anchor counts that a crash left in place are here still.
                        segments: a.segments_removed.saturating_sub(
                            all.iter().filter(|(n, _)| *n < a.segment).count() as u64,
                        ),
                        removed_at_ms: a.removed_at_ms,
                        cutoff_ms: a.cutoff_ms,
                    });
                // The header is where the trail stood before its first record kept.
                let before = header.first.saturating_sub(1);
                if let Some(cp) = checkpoint {
                    if cp.sequence < before {
                        return Err(Error::CheckpointExpired {
                            sequence: cp.sequence,
                            first: header.first,
                        });
                    }
                    if cp.sequence == before && cp.chain != header.chain {
                        return Err(broken(
                            0,
                            header.first,
                            "segment differs from the checkpoint",
                        ));
                    }
                }
                (header.first, header.chain)
            }
            Some((next, chain)) => {
                if header.first != next || header.chain != chain {
                    return Err(broken(
                        0,
                        next,
                        "segment does not continue the one before it",
                    ));
                }
                (next, chain)
            }
        };
        if let Some(a) = &anchor
            && a.segment == segment
        {
            if !a.matches(&header) {
                return Err(Error::BadAnchor {
                    what: "the segment the anchor names has another header",
                });
            }
            reached = true;
        }
        let mut position = 0;
        loop {
            match read_frame(&mut file)? {
                Next::End => break,
                Next::Torn if i + 1 == count => break,
                Next::Torn => return Err(broken(position, next, "record cut short")),
                Next::Frame(frame) => {
                    if frame.sequence < next {
                        return Err(broken(
                            position,
                            next,
                            "a record is repeated or out of order",
                        ));
                    }
                    if frame.sequence > next {
                        return Err(broken(position, next, "a record is missing"));
                    }
                    let entry = open_entry(&key, next, &frame.sealed)
                        .ok_or_else(|| broken(position, next, "record altered"))?;
                    if entry.previous != chain {
                        return Err(broken(position, next, "chain broken"));
                    }
                    chain = key.chain(&chain, next, &frame.sealed);
                    if let Some(cp) = checkpoint
                        && cp.sequence == next
                        && cp.chain != chain
                    {
                        return Err(broken(position, next, "record differs from the checkpoint"));
                    }
                    next = next
                        .checked_add(1)
                        .ok_or_else(|| broken(position, next, "sequence number out of range"))?;
                    position += 1;
                    report.records += 1;
                }
            }
        }
        report.segments += 1;
        state = Some((next, chain));
        report.last = Checkpoint {
            sequence: next.saturating_sub(1),
            chain,
        };
    }
    if anchor.is_some() && !reached {
        return Err(Error::BadAnchor {
            what: "the anchor names a segment the trail does not hold",
        });
    }
    if let Some(cp) = checkpoint
        && cp.sequence > report.last.sequence
    {
        return Err(Error::Truncated {
            sequence: cp.sequence,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod from_tests {
    //! Reading from a sequence number: whole segments before it are skipped unopened, and a
    //! reader beside the live writer stops cleanly where the written bytes end (bucket log
    //! delivery reads the trail this way every minute).

    use std::io::Write as _;

    use super::*;
    use crate::format::{FRAME_HEAD, segment_path};
    use crate::writer::AuditLog;
    use crate::{Phase, Record};

    const KEY: [u8; 32] = [0x24; 32];

    fn record(i: u64) -> Record {
        Record {
            phase: Phase::Outcome,
            time_ms: i,
            request_id: format!("req-{i}"),
            operation: "GetObject".into(),
            bucket: Some("b".into()),
            status: 200,
            ..Record::default()
        }
    }

    /// `n` records in segments of about `segment_bytes`.
    fn write(dir: &Path, n: u64, segment_bytes: u64) {
        let mut log = AuditLog::open_with(dir, &KEY, segment_bytes, true).unwrap();
        for i in 1..=n {
            assert_eq!(log.append(&record(i)).unwrap(), i);
        }
        log.sync().unwrap();
    }

    fn read_from(dir: &Path, from: u64) -> (Vec<u64>, Option<u64>) {
        let mut reader = Reader::open_from(dir, &KEY, Filter::default(), from).unwrap();
        let got = reader.by_ref().map(|r| r.unwrap().0).collect();
        (got, reader.last_sequence())
    }

    #[test]
    fn reading_from_a_sequence_skips_older_segments_unopened() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 100, 1024);
        let all = segments(dir.path()).unwrap();
        assert!(all.len() > 5, "{} segments", all.len());
        // Damage the oldest record: a reader that opened it would fail.
        let first = &all[0].1;
        let mut bytes = std::fs::read(first).unwrap();
        let at = HEADER_LEN + FRAME_HEAD + 3;
        bytes[at] ^= 1;
        std::fs::write(first, &bytes).unwrap();
        assert!(
            Reader::open(dir.path(), &KEY, Filter::default())
                .unwrap()
                .any(|r| r.is_err())
        );

        for from in [57, 99, 100] {
            let (got, last) = read_from(dir.path(), from);
            assert_eq!(got, (from..=100).collect::<Vec<_>>(), "from {from}");
            assert_eq!(last, Some(100));
        }
        // Past the end: nothing, but where the trail ends.
        assert_eq!(read_from(dir.path(), 101), (vec![], Some(100)));
        assert_eq!(read_from(dir.path(), u64::MAX), (vec![], Some(100)));
    }

    #[test]
    fn reading_beside_the_writer_stops_at_a_partial_frame_or_header() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 10, 1 << 20);
        let segment = segments(dir.path()).unwrap().pop().unwrap().1;
        let whole = std::fs::read(&segment).unwrap();
        // Half of another record's frame, as a reader may find it mid-append.
        let other = tempfile::tempdir().unwrap();
        write(other.path(), 11, 1 << 20);
        let longer = std::fs::read(segments(other.path()).unwrap().pop().unwrap().1).unwrap();
        let eleventh = &longer[whole.len()..];
        for cut in [1, FRAME_HEAD - 1, FRAME_HEAD + 1, eleventh.len() - 1] {
            std::fs::write(&segment, &whole).unwrap();
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&segment)
                .unwrap();
            f.write_all(&eleventh[..cut]).unwrap();
            drop(f);
            assert_eq!(read_from(dir.path(), 0), ((1..=10).collect(), Some(10)));
            assert_eq!(read_from(dir.path(), 8), ((8..=10).collect(), Some(10)));
        }
        // The whole frame, once written, is read.
        std::fs::write(&segment, &longer).unwrap();
        assert_eq!(read_from(dir.path(), 11), (vec![11], Some(11)));
        // A new segment whose header is still being written reads as the end.
        std::fs::write(segment_path(dir.path(), 2), b"CAUD\x01").unwrap();
        assert_eq!(read_from(dir.path(), 0), ((1..=11).collect(), Some(11)));
        assert_eq!(read_from(dir.path(), 11), (vec![11], Some(11)));
    }

    #[test]
    fn a_segment_without_records_yet_still_tells_where_the_trail_ends() {
        let dir = tempfile::tempdir().unwrap();
        // Seven records, a segment rolled before each: the newest holds only the seventh.
        write(dir.path(), 7, 1);
        let newest = segments(dir.path()).unwrap().pop().unwrap().0;
        // The writer rolls before an append: a segment starting at 8, empty so far.
        let header = crate::format::Header {
            first: 8,
            chain: [0; 32],
        };
        std::fs::write(segment_path(dir.path(), newest + 1), header.encode()).unwrap();
        assert_eq!(read_from(dir.path(), 8), (vec![], Some(7)));
        assert_eq!(read_from(dir.path(), u64::MAX), (vec![], Some(7)));
        assert_eq!(read_from(dir.path(), 6), (vec![6, 7], Some(7)));
        // An empty trail ends at 0.
        let empty = tempfile::tempdir().unwrap();
        AuditLog::open(empty.path(), &KEY).unwrap();
        assert_eq!(read_from(empty.path(), 1), (vec![], Some(0)));
    }
}
