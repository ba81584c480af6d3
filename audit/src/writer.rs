//! Appending to the trail.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::format::{
    Checkpoint, Entry, FRAME_HEAD, HEADER_LEN, Header, Next, encode_frame, read_frame,
    segment_path, segments,
};
use crate::keys::AuditKey;
use crate::record::Record;
use crate::{Error, Result};

/// A segment is closed and a new one started past this size, so retention can remove old
/// records a whole file at a time.
const SEGMENT_BYTES: u64 = 64 << 20;

/// The open trail: appends records, makes them durable on [`AuditLog::sync`].
///
/// One writer per directory (the server's); [`crate::Reader`] and [`crate::verify`] read
/// beside it.
pub struct AuditLog {
    dir: PathBuf,
    key: AuditKey,
    file: File,
    segment: u64,
    written: u64,
    next: u64,
    chain: [u8; 32],
    segment_bytes: u64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("segment", &self.segment)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or starts) the trail in `dir` (created 0700). A frame cut short by a crash at
    /// the end of the newest segment is dropped: it was never acknowledged as durable.
    ///
    /// # Errors
    /// `Error::Tampered` if the newest segment does not open under `key` (a wrong key, or
    /// damage: run [`crate::verify`]); I/O errors.
    pub fn open(dir: &Path, key: &[u8; 32]) -> Result<AuditLog> {
        Self::open_with(dir, key, SEGMENT_BYTES)
    }

    pub(crate) fn open_with(dir: &Path, key: &[u8; 32], segment_bytes: u64) -> Result<AuditLog> {
        create_private_dir(dir)?;
        let key = AuditKey::new(key);
        let Some((segment, path)) = segments(dir)?.pop() else {
            return Self::start(
                dir,
                key,
                1,
                Header {
                    first: 1,
                    chain: [0; 32],
                },
                segment_bytes,
            );
        };
        let (end, next, chain) = recover(&key, segment, &path)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(Error::io("open audit segment"))?;
        // Drop a torn tail.
        file.set_len(end).map_err(Error::io("trim audit segment"))?;
        let mut file = file;
        file.seek(SeekFrom::End(0))
            .map_err(Error::io("seek audit segment"))?;
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            key,
            file,
            segment,
            written: end,
            next,
            chain,
            segment_bytes,
        })
    }

    fn start(
        dir: &Path,
        key: AuditKey,
        segment: u64,
        header: Header,
        segment_bytes: u64,
    ) -> Result<AuditLog> {
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            key,
            file: create_segment(dir, segment, &header)?,
            segment,
            written: HEADER_LEN as u64,
            next: header.first,
            chain: header.chain,
            segment_bytes,
        })
    }

    /// Appends a record (written, not yet durable: call [`AuditLog::sync`]). Returns its
    /// sequence number.
    ///
    /// # Errors
    /// I/O errors (a full disk): the caller must then refuse what it could not record.
    pub fn append(&mut self, record: &Record) -> Result<u64> {
        if self.written >= self.segment_bytes {
            self.roll()?;
        }
        let sequence = self.next;
        let entry = Entry {
            previous: self.chain,
            record: record.clone(),
        };
        let plain =
            zeroize::Zeroizing::new(postcard::to_allocvec(&entry).map_err(|_| Error::Encode)?);
        let sealed = self.key.seal(sequence, &plain).ok_or(Error::Encode)?;
        let frame = encode_frame(sequence, &sealed)?;
        self.file
            .write_all(&frame)
            .map_err(Error::io("append audit record"))?;
        self.written += frame.len() as u64;
        self.chain = self.key.chain(&self.chain, sequence, &sealed);
        self.next += 1;
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
            sequence: self.next - 1,
            chain: self.chain,
        }
    }

    /// Closes the current segment (durably) and starts the next.
    fn roll(&mut self) -> Result<()> {
        self.sync()?;
        let header = Header {
            first: self.next,
            chain: self.chain,
        };
        self.file = create_segment(&self.dir, self.segment + 1, &header)?;
        self.segment += 1;
        self.written = HEADER_LEN as u64;
        Ok(())
    }
}

/// Creates segment `number` with its header, durably (file and directory entry).
fn create_segment(dir: &Path, number: u64, header: &Header) -> Result<File> {
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
    file.sync_all()
        .map_err(Error::io("sync audit segment header"))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Reads the newest segment to its end: where its last whole frame ends, the next sequence
/// number and the chain after the last record.
fn recover(key: &AuditKey, segment: u64, path: &Path) -> Result<(u64, u64, [u8; 32])> {
    let file = File::open(path).map_err(Error::io("open audit segment"))?;
    let mut reader = BufReader::new(file);
    let mut head = [0u8; HEADER_LEN];
    std::io::Read::read_exact(&mut reader, &mut head).map_err(Error::io("read audit header"))?;
    let tampered = |position, sequence, what| Error::Tampered {
        segment,
        position,
        sequence,
        what,
    };
    let header = Header::decode(&head).ok_or_else(|| tampered(0, 0, "segment header damaged"))?;
    let (mut next, mut chain) = (header.first, header.chain);
    let mut end = HEADER_LEN as u64;
    let mut position = 0;
    loop {
        match read_frame(&mut reader)? {
            Next::End | Next::Torn => break,
            Next::Frame(frame) => {
                if frame.sequence != next || key.open(next, &frame.sealed).is_none() {
                    return Err(tampered(position, next, "record does not open in sequence"));
                }
                chain = key.chain(&chain, next, &frame.sealed);
                next += 1;
                position += 1;
                end += (FRAME_HEAD + frame.sealed.len()) as u64;
            }
        }
    }
    Ok((end, next, chain))
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
fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(Error::io("restrict audit segment"))
}

#[cfg(not(unix))]
fn set_private_dir(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn set_private(_: &Path) -> Result<()> {
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync audit directory"))
}
