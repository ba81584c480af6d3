//! Reading one segment through: where its whole frames end, how many records it holds,
//! the latest record time in it, and the chain after it. The writer needs this of the
//! newest segment when it opens, and expiry of each segment it may remove.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::format::{Entry, FRAME_HEAD, HEADER_LEN, Header, Next, read_frame};
use crate::keys::AuditKey;
use crate::{Error, Result};

/// What a segment holds, read through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Its header.
    pub(crate) header: Header,
    /// Records in it.
    pub(crate) records: u64,
    /// The latest `time_ms` of its records; `None` when it holds none.
    pub(crate) latest_ms: Option<u64>,
    /// What the segment after it must start with: the next sequence number and the chain
    /// after its last record.
    pub(crate) end: Header,
    /// Bytes up to the end of its last whole frame (a torn tail starts there).
    pub(crate) len: u64,
}

impl Summary {
    /// A segment that holds only its header.
    pub(crate) fn empty(header: Header) -> Summary {
        Summary {
            header,
            records: 0,
            latest_ms: None,
            end: header,
            len: HEADER_LEN as u64,
        }
    }
}

/// Reads segment `number` at `path` through, checking each record opens under its
/// sequence number and carries the chain before it. With `torn_ok` (the newest segment,
/// where a crash may have cut an append short), a partial last frame ends the segment;
/// otherwise it is a break.
pub(crate) fn scan(key: &AuditKey, number: u64, path: &Path, torn_ok: bool) -> Result<Summary> {
    let broken = |position, sequence, what| Error::Tampered {
        segment: number,
        position,
        sequence,
        what,
    };
    let (mut file, header) = open_segment(number, path)?;
    let mut summary = Summary::empty(header);
    loop {
        let Header { first: next, chain } = summary.end;
        let position = summary.records;
        match read_frame(&mut file)? {
            Next::End => break,
            Next::Torn if torn_ok => break,
            Next::Torn => return Err(broken(position, next, "record cut short")),
            Next::Frame(frame) => {
                let entry = (frame.sequence == next)
                    .then(|| key.open(next, &frame.sealed))
                    .flatten()
                    .and_then(|plain| postcard::from_bytes::<Entry>(&plain).ok())
                    .ok_or_else(|| broken(position, next, "record does not open in sequence"))?;
                if entry.previous != chain {
                    return Err(broken(position, next, "chain broken"));
                }
                let first = next
                    .checked_add(1)
                    .ok_or_else(|| broken(position, next, "sequence number out of range"))?;
                summary.end = Header {
                    first,
                    chain: key.chain(&chain, next, &frame.sealed),
                };
                summary.records += 1;
                summary.latest_ms = summary.latest_ms.max(Some(entry.record.time_ms));
                summary.len += (FRAME_HEAD + frame.sealed.len()) as u64;
            }
        }
    }
    Ok(summary)
}

/// Reads only the header of the segment at `path`.
pub(crate) fn read_header(number: u64, path: &Path) -> Result<Header> {
    open_segment(number, path).map(|(_, header)| header)
}

/// Opens segment `number` at `path` and reads its header, leaving the file at its first
/// frame; a header cut short or damaged is a break at the segment's start.
pub(crate) fn open_segment(number: u64, path: &Path) -> Result<(BufReader<File>, Header)> {
    let damaged = |what| Error::Tampered {
        segment: number,
        position: 0,
        sequence: 0,
        what,
    };
    let mut file = BufReader::new(File::open(path).map_err(Error::io("open audit segment"))?);
    let mut head = [0u8; HEADER_LEN];
    file.read_exact(&mut head)
        .map_err(|_| damaged("segment header cut short"))?;
    let header = Header::decode(&head).ok_or_else(|| damaged("segment header damaged"))?;
    Ok((file, header))
}
