//! The bytes of a segment: header, frames, entries; segment names; checkpoints.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"CAUD";
const FORMAT: u8 = 1;
pub(crate) const HEADER_LEN: usize = 4 + 1 + 8 + 32;
/// Frame header: sealed length (u32) and sequence (u64).
pub(crate) const FRAME_HEAD: usize = 12;
/// A sealed entry is never larger than this; a longer length is damage.
pub(crate) const MAX_SEALED: u32 = 1 << 20;

/// Segment file names: `segment-<16 hex digits>.audit`.
pub const SEGMENT_PREFIX: &str = "segment-";
/// See [`SEGMENT_PREFIX`].
pub const SEGMENT_SUFFIX: &str = ".audit";

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{number:016x}{SEGMENT_SUFFIX}"))
}

/// The segments in `dir`, in order.
pub(crate) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list audit segments")(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("list audit segments"))?;
        let name = entry.file_name();
        let Some(hex) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SEGMENT_PREFIX))
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
        else {
            continue;
        };
        if let Ok(number) = u64::from_str_radix(hex, 16) {
            out.push((number, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What opens a segment: the first sequence number in it and the chain before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) first: u64,
    pub(crate) chain: [u8; 32],
}

impl Header {
    /// The header of the trail's first segment: sequence 1, nothing before it.
    pub(crate) const GENESIS: Header = Header {
        first: 1,
        chain: [0; 32],
    };

    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4] = FORMAT;
        out[5..13].copy_from_slice(&self.first.to_le_bytes());
        out[13..].copy_from_slice(&self.chain);
        out
    }

    pub(crate) fn decode(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
        if &bytes[..4] != MAGIC || bytes[4] != FORMAT {
            return None;
        }
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes[5..13]);
        let first = u64::from_le_bytes(first);
        // Sequences start at 1: a header saying 0 was never written by the writer.
        if first == 0 {
            return None;
        }
        let mut chain = [0u8; 32];
        chain.copy_from_slice(&bytes[13..]);
        Some(Header { first, chain })
    }
}

/// What is sealed in a frame.
#[derive(Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) previous: [u8; 32],
    pub(crate) record: Record,
}

/// One frame as read: its sequence and sealed bytes.
pub(crate) struct Frame {
    pub(crate) sequence: u64,
    pub(crate) sealed: Vec<u8>,
}

/// What reading the next frame found.
pub(crate) enum Next {
    Frame(Frame),
    End,
    /// The file ends inside a frame (a write cut short by a crash).
    Torn,
}

pub(crate) fn read_frame(file: &mut impl Read) -> Result<Next> {
    let mut head = [0u8; FRAME_HEAD];
    match read_full(file, &mut head)? {
        0 => return Ok(Next::End),
        n if n < FRAME_HEAD => return Ok(Next::Torn),
        _ => {}
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&head[..4]);
    let len = u32::from_le_bytes(len);
    let mut sequence = [0u8; 8];
    sequence.copy_from_slice(&head[4..]);
    if len > MAX_SEALED {
        return Ok(Next::Torn);
    }
    let mut sealed = vec![0u8; len as usize];
    if read_full(file, &mut sealed)? < sealed.len() {
        return Ok(Next::Torn);
    }
    Ok(Next::Frame(Frame {
        sequence: u64::from_le_bytes(sequence),
        sealed,
    }))
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read audit segment")(e)),
        }
    }
    Ok(done)
}

pub(crate) fn encode_frame(sequence: u64, sealed: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(sealed.len())
        .ok()
        .filter(|l| *l <= MAX_SEALED)
        .ok_or(Error::Encode)?;
    let mut out = Vec::with_capacity(FRAME_HEAD + sealed.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(sealed);
    Ok(out)
}

/// Where the trail stood at one moment: the last record's sequence number and the chain
/// hash after it. Keep these outside the data directory; [`crate::verify`] checks a trail
/// still reaches one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record's sequence number (0: an empty trail).
    pub sequence: u64,
    /// The chain hash after it.
    pub chain: [u8; 32],
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "coffer-audit:{}:", self.sequence)?;
        for b in self.chain {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = Error;

    fn from_str(text: &str) -> Result<Checkpoint> {
        let mut parts = text.trim().split(':');
        let (Some("coffer-audit"), Some(sequence), Some(hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::BadCheckpoint);
        };
        let sequence = sequence.parse().map_err(|_| Error::BadCheckpoint)?;
        if hex.len() != 64 {
            return Err(Error::BadCheckpoint);
        }
        let mut chain = [0u8; 32];
        for (i, byte) in chain.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| Error::BadCheckpoint)?;
        }
        Ok(Checkpoint { sequence, chain })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_and_headers_round_trip() {
        let cp = Checkpoint {
            sequence: 42,
            chain: [0xab; 32],
        };
        assert_eq!(cp.to_string().parse::<Checkpoint>().unwrap(), cp);
        for bad in ["", "coffer-audit:1", "coffer-audit:x:00", "other:1:ab"] {
            assert!(bad.parse::<Checkpoint>().is_err(), "{bad}");
        }
        let header = Header {
            first: 7,
            chain: [3; 32],
        };
        assert_eq!(Header::decode(&header.encode()), Some(header));
        let mut other = header.encode();
        other[4] = 9;
        assert_eq!(Header::decode(&other), None);
    }
}
