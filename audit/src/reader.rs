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
}

impl Reader {
    /// Reads the trail in `dir` with `key`, yielding the records `filter` passes.
    ///
    /// # Errors
    /// I/O errors listing the directory.
    pub fn open(dir: &Path, key: &[u8; 32], filter: Filter) -> Result<Reader> {
        Ok(Reader {
            key: AuditKey::new(key),
            pending: segments(dir)?.into(),
            current: None,
            filter,
            failed: false,
        })
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
                file.read_exact(&mut head)
                    .map_err(Error::io("read audit header"))?;
                Header::decode(&head).ok_or(Error::Tampered {
                    segment: number,
                    position: 0,
                    sequence: 0,
                    what: "segment header damaged",
                })?;
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
        let mut file = BufReader::new(File::open(path).map_err(Error::io("open audit segment"))?);
        let mut head = [0u8; HEADER_LEN];
        file.read_exact(&mut head)
            .map_err(|_| broken(0, 0, "segment header cut short"))?;
        let header = Header::decode(&head).ok_or_else(|| broken(0, 0, "segment header damaged"))?;
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
                    next += 1;
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
