//! Expiry: removing the oldest segments once every record in them is older than the
//! retention period, leaving an anchor so the rest of the trail still verifies.
//!
//! # Design
//! The order makes every moment of an expiry a state [`crate::verify`] accepts:
//!
//! 1. read the segments to remove and check they chain into the first one kept, so expiry
//!    never destroys the evidence of damage;
//! 2. write the anchor naming the first segment kept (temporary file, fsync, rename, fsync
//!    of the directory);
//! 3. remove the expired segments, oldest first, then fsync the directory.
//!
//! A crash before 2 leaves the old anchor (or none) and every segment: valid as before. A
//! crash during 3 leaves the new anchor and some of the segments before the one it names:
//! `verify` accepts an anchor naming a segment later than the oldest present as long as
//! the trail reaches that segment with the anchor's header, since the records before it
//! still chain into it. The next expiry removes the rest. Removing from the oldest keeps
//! what remains one unbroken run of segments at every step.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::anchor::{self, Anchor};
use crate::format::{Header, segments};
use crate::scan::{Summary, read_header, scan};
use crate::writer::{AuditLog, sync_dir};
use crate::{Error, Result};

/// What an expiry removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Segments removed by this call.
    pub segments: u64,
    /// Records in them.
    pub records: u64,
    /// The first sequence number the trail now holds (1 if nothing ever expired).
    pub first_kept: u64,
}

impl AuditLog {
    /// Removes the oldest segments all of whose records are older than `cutoff` (never
    /// the segment being written), after durably writing an anchor that names the oldest
    /// segment kept. See the module's `# Design` for why a crash at any point leaves a
    /// trail that verifies.
    ///
    /// Each segment is judged by its own latest record time, read once per process (a
    /// record's time is when its request arrived, so records are not strictly in time
    /// order).
    ///
    /// # Errors
    /// Nothing is removed when the segments to remove do not read through or chain into
    /// the rest (`Error::Tampered`), when the trail already lacks its start
    /// (`Error::StartRemoved`, `Error::StaleAnchor`, `Error::BadAnchor`): expiry must not
    /// cover such damage with a fresh anchor. I/O errors.
    pub fn expire(&mut self, cutoff: SystemTime) -> Result<ExpireReport> {
        let cutoff_ms = crate::record::unix_ms(cutoff);
        // Only closed segments: the one being written always stays.
        let present: Vec<(u64, PathBuf)> = segments(&self.dir)?
            .into_iter()
            .filter(|(number, _)| *number < self.segment)
            .collect();
        let previous = anchor::read(&self.dir, &self.key)?;
        let oldest = match present.first() {
            Some((number, path)) => (*number, read_header(*number, path)?),
            None => (self.segment, self.current.header),
        };
        anchor::check_start(oldest.0, &oldest.1, previous.as_ref())?;
        if let Some(a) = &previous {
            self.check_reaches(a, &present)?;
        }

        let mut expired: Vec<(u64, PathBuf, Summary)> = Vec::new();
        let mut kept = (self.segment, self.current.header);
        for (number, path) in &present {
            let summary = self.summary(*number, path)?;
            if summary.latest_ms.is_some_and(|t| t >= cutoff_ms) {
                kept = (*number, summary.header);
                break;
            }
            expired.push((*number, path.clone(), summary));
        }
        let Some((first_expired, _, _)) = expired.first() else {
            return Ok(ExpireReport {
                first_kept: oldest.1.first,
                ..ExpireReport::default()
            });
        };
        // Each removed segment must chain into the next, the last into the one kept.
        let heads = expired
            .iter()
            .skip(1)
            .map(|(number, _, s)| (*number, s.header))
            .chain([kept]);
        for ((_, _, before), (number, header)) in expired.iter().zip(heads) {
            if before.end != header {
                return Err(Error::Tampered {
                    segment: number,
                    position: 0,
                    sequence: before.end.first,
                    what: "segment does not continue the one before it",
                });
            }
        }

        // Segments the previous anchor counted as removed but a crash left in place are
        // counted again now, as this expiry removes them.
        let counted_before = previous.map_or(0, |a| {
            let left = present.iter().filter(|(n, _)| *n < a.segment).count() as u64;
            a.segments_removed.saturating_sub(left)
        });
        let removed_records: u64 = expired.iter().map(|(_, _, s)| s.records).sum();
        anchor::write(
            &self.dir,
            &self.key,
            &Anchor {
                segment: kept.0,
                first: kept.1.first,
                chain: kept.1.chain,
                segments_removed: counted_before + expired.len() as u64,
                removed_at_ms: crate::record::unix_ms(SystemTime::now()),
                cutoff_ms,
            },
        )?;
        debug_assert!(*first_expired == oldest.0);
        for (number, path, _) in &expired {
            std::fs::remove_file(path).map_err(Error::io("remove expired audit segment"))?;
            self.closed.remove(number);
        }
        sync_dir(&self.dir)?;
        Ok(ExpireReport {
            segments: expired.len() as u64,
            records: removed_records,
            first_kept: kept.1.first,
        })
    }

    /// What closed segment `number` holds, read through once per process.
    fn summary(&mut self, number: u64, path: &std::path::Path) -> Result<Summary> {
        if let Some(known) = self.closed.get(&number) {
            return Ok(*known);
        }
        // A closed segment was trimmed before the next one was made: a torn frame in it
        // is damage.
        let summary = scan(&self.key, number, path, false)?;
        self.closed.insert(number, summary);
        Ok(summary)
    }

    /// Checks the segment `anchor` names is present (or being written) with the header
    /// the anchor gives; `check_start` already refused an anchor older than the oldest.
    fn check_reaches(&self, anchor: &Anchor, present: &[(u64, PathBuf)]) -> Result<()> {
        let header: Option<Header> = if anchor.segment == self.segment {
            Some(self.current.header)
        } else {
            present
                .iter()
                .find(|(n, _)| *n == anchor.segment)
                .map(|(n, path)| read_header(*n, path))
                .transpose()?
        };
        match header {
            Some(h) if anchor.matches(&h) => Ok(()),
            Some(_) => Err(Error::BadAnchor {
                what: "the segment the anchor names has another header",
            }),
            None => Err(Error::BadAnchor {
                what: "the anchor names a segment the trail does not hold",
            }),
        }
    }
}
