//! Appending to the trail.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::format::{Checkpoint, Entry, Header, encode_frame, segment_path, segments};
use crate::keys::AuditKey;
use crate::record::Record;
use crate::scan::{Summary, scan};
use crate::{Error, Result};

/// A segment is closed and a new one started past this size, so retention can remove old
/// records a whole file at a time.
const SEGMENT_BYTES: u64 = 64 << 20;

/// The open trail: appends records, makes them durable on [`AuditLog::sync`], and removes
/// expired segments on [`AuditLog::expire`].
///
/// One writer per directory (the server's); [`crate::Reader`] and [`crate::verify`] read
/// beside it.
pub struct AuditLog {
    pub(crate) dir: PathBuf,
    pub(crate) key: AuditKey,
    file: File,
    /// The segment being written.
    pub(crate) segment: u64,
    /// What it holds so far (its `end` is where the trail stands).
    pub(crate) current: Summary,
    segment_bytes: u64,
    /// Whether new segments (and a trimmed tail) are fsynced before use. Off for a server
    /// that does not wait for the disk anyway (relaxed durability, `--ephemeral`): two
    /// fsyncs it would otherwise pay before its first request.
    durable: bool,
    /// Closed segments this process read through or wrote, so expiry reads each at most
    /// once (a closed segment never changes).
    pub(crate) closed: BTreeMap<u64, Summary>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("segment", &self.segment)
            .field("next", &self.current.end.first)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or starts) the trail in `dir` (created 0700). A frame cut short by a crash at
    /// the end of the newest segment is dropped: it was never acknowledged as durable.
    ///
    /// Records then go to a new segment, so every open is a segment boundary: expiry
    /// removes whole segments, and this lets it reach the records of a server that never
    /// wrote the 64 MiB that close a segment. A newest segment that holds no record is
    /// written to instead, so a server restarted again and again (sealed, or crashing)
    /// does not leave a trail of empty files.
    ///
    /// # Errors
    /// `Error::Tampered` if the newest segment does not open under `key` (a wrong key, or
    /// damage: run [`crate::verify`]); I/O errors.
    pub fn open(dir: &Path, key: &[u8; 32]) -> Result<AuditLog> {
        Self::open_with(dir, key, SEGMENT_BYTES, true)
    }

    /// [`AuditLog::open`] for a server whose writes are not durable on acknowledgement
    /// anyway: a new segment's header and directory entry are not fsynced (records still
    /// are, by [`AuditLog::sync`]). A crash may then lose the newest segment's header and
    /// with it the records after it; the chain before it stays whole.
    ///
    /// # Errors
    /// As [`AuditLog::open`].
    pub fn open_relaxed(dir: &Path, key: &[u8; 32]) -> Result<AuditLog> {
        Self::open_with(dir, key, SEGMENT_BYTES, false)
    }

    pub(crate) fn open_with(
        dir: &Path,
        key: &[u8; 32],
        segment_bytes: u64,
        durable: bool,
    ) -> Result<AuditLog> {
        create_private_dir(dir)?;
        let key = AuditKey::new(key);
        let Some((segment, path)) = segments(dir)?.pop() else {
            let (header, closed) = (Header::GENESIS, BTreeMap::new());
            return Self::start(dir, key, 1, header, segment_bytes, closed, durable);
        };
        let summary = scan(&key, segment, &path, true)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(Error::io("open audit segment"))?;
        if file
            .metadata()
            .map_err(Error::io("open audit segment"))?
            .len()
            > summary.len
        {
            // Drop a torn tail, durably: once a newer segment exists, a cut frame here
            // would read as damage in the middle of the trail.
            file.set_len(summary.len)
                .map_err(Error::io("trim audit segment"))?;
            if durable {
                file.sync_all().map_err(Error::io("trim audit segment"))?;
            }
        }
        if summary.records > 0 {
            let closed = BTreeMap::from([(segment, summary)]);
            let next = next_segment(segment)?;
            return Self::start(dir, key, next, summary.end, segment_bytes, closed, durable);
        }
        file.seek(SeekFrom::End(0))
            .map_err(Error::io("seek audit segment"))?;
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            key,
            file,
            segment,
            current: summary,
            segment_bytes,
            closed: BTreeMap::new(),
            durable,
        })
    }

    fn start(
        dir: &Path,
        key: AuditKey,
        segment: u64,
        header: Header,
        segment_bytes: u64,
        closed: BTreeMap<u64, Summary>,
        durable: bool,
    ) -> Result<AuditLog> {
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            key,
            file: create_segment(dir, segment, &header, durable)?,
            segment,
            current: Summary::empty(header),
            segment_bytes,
            closed,
            durable,
        })
    }

    /// Appends a record (written, not yet durable: call [`AuditLog::sync`]). Returns its
    /// sequence number.
    ///
    /// # Errors
    /// I/O errors (a full disk): the caller must then refuse what it could not record.
    pub fn append(&mut self, record: &Record) -> Result<u64> {
        if self.current.len >= self.segment_bytes {
            self.roll()?;
        }
        let Header {
            first: sequence,
            chain,
        } = self.current.end;
        let entry = Entry {
            previous: chain,
            record: record.clone(),
        };
        let plain =
            zeroize::Zeroizing::new(postcard::to_allocvec(&entry).map_err(|_| Error::Encode)?);
        let after = sequence
            .checked_add(1)
            .ok_or(Error::OutOfNumbers { what: "sequence" })?;
        let sealed = self.key.seal(sequence, &plain).ok_or(Error::Encode)?;
        let frame = encode_frame(sequence, &sealed)?;
        self.file
            .write_all(&frame)
            .map_err(Error::io("append audit record"))?;
        let current = &mut self.current;
        current.len += frame.len() as u64;
        current.end = Header {
            first: after,
            chain: self.key.chain(&chain, sequence, &sealed),
        };
        current.records += 1;
        current.latest_ms = current.latest_ms.max(Some(record.time_ms));
        Ok(sequence)
    }

    /// Makes every appended record durable.
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(Error::io("sync audit segment"))
    }

    /// Where the trail stands now.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            // A header never says 0 (`Header::decode` refuses it), but it is read from disk.
            sequence: self.current.end.first.saturating_sub(1),
            chain: self.current.end.chain,
        }
    }

    /// Closes the current segment (durably) and starts the next.
    fn roll(&mut self) -> Result<()> {
        self.sync()?;
        let header = self.current.end;
        let next = next_segment(self.segment)?;
        self.file = create_segment(&self.dir, next, &header, self.durable)?;
        self.closed.insert(self.segment, self.current);
        self.segment = next;
        self.current = Summary::empty(header);
        Ok(())
    }
}

/// The number of the segment after `segment` (read from a file name, so it may be the last
/// number there is).
fn next_segment(segment: u64) -> Result<u64> {
    segment
        .checked_add(1)
        .ok_or(Error::OutOfNumbers { what: "segment" })
}

/// Creates segment `number` with its header, durably (file and directory entry).
fn create_segment(dir: &Path, number: u64, header: &Header, durable: bool) -> Result<File> {
    let path = segment_path(dir, number);
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .read(true)
        .open(&path)
        .map_err(Error::io("create audit segment"))?;
    set_private(&path)?;
    file.write_all(&header.encode())
        .map_err(Error::io("write audit segment header"))?;
    if durable {
        file.sync_all()
            .map_err(Error::io("sync audit segment header"))?;
        sync_dir(dir)?;
    }
    Ok(file)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io("create audit directory"))?;
    set_private_dir(dir)
}

#[cfg(unix)]
fn set_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(Error::io("restrict audit directory"))
}

#[cfg(unix)]
pub(crate) fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(Error::io("restrict audit segment"))
}

#[cfg(not(unix))]
fn set_private_dir(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn set_private(_: &Path) -> Result<()> {
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync audit directory"))
}
