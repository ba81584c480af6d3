//! Whether this server may change anything now: the one check before every index commit
//! and every chunk write or removal on the remote.
//!
//! A standby never may (it follows another server's index); a primary may while its lease
//! is valid by its own clock; a fenced primary (another server took the lease) never may
//! again. The remote chunk store goes through [`Gated`], so a standby or a fenced primary
//! can neither add nor remove a chunk that the writer's index may name.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use crate::chunks::remote::{RemoteChunks, When};
use crate::error::{Error, Result};

const STANDBY: u8 = 0;
const PRIMARY: u8 = 1;
const FENCED: u8 = 2;

/// The role and the lease's validity, shared by the writer, the shipper and the remote.
#[derive(Debug)]
pub(crate) struct Gate {
    base: Instant,
    role: AtomicU8,
    /// Milliseconds after `base` until which the lease is valid.
    valid_until: AtomicU64,
}

impl Gate {
    pub(crate) fn standby() -> Gate {
        Gate {
            base: Instant::now(),
            role: AtomicU8::new(STANDBY),
            valid_until: AtomicU64::new(0),
        }
    }

    /// Refused unless this server is the writer with a valid lease.
    pub(crate) fn check(&self) -> Result<()> {
        match self.role.load(Ordering::Acquire) {
            PRIMARY => {
                let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
                if now < self.valid_until.load(Ordering::Acquire) {
                    Ok(())
                } else {
                    Err(Error::NotWriter {
                        why: "its lease on the chunk store could not be renewed in time",
                    })
                }
            }
            FENCED => Err(Error::NotWriter {
                why: "another server took over its chunk store",
            }),
            _ => Err(Error::NotWriter {
                why: "it is a standby",
            }),
        }
    }

    pub(crate) fn is_standby(&self) -> bool {
        self.role.load(Ordering::Acquire) == STANDBY
    }

    pub(crate) fn is_fenced(&self) -> bool {
        self.role.load(Ordering::Acquire) == FENCED
    }

    /// Writes are accepted until `until`.
    pub(crate) fn extend(&self, until: Instant) {
        let ms = u64::try_from(until.saturating_duration_since(self.base).as_millis())
            .unwrap_or(u64::MAX);
        self.valid_until.store(ms, Ordering::Release);
    }

    /// This server is the writer now, with a lease valid until `until`.
    pub(crate) fn make_primary(&self, until: Instant) {
        self.extend(until);
        self.role.store(PRIMARY, Ordering::Release);
    }

    /// Another server took the lease: no write, ever again, from this process.
    pub(crate) fn fence(&self) {
        self.role.store(FENCED, Ordering::Release);
    }
}

/// The remote as the chunk store sees it: reads always, writes and removals only while
/// the gate allows them.
#[derive(Debug)]
pub(crate) struct Gated {
    pub(crate) inner: Arc<dyn RemoteChunks>,
    pub(crate) gate: Arc<Gate>,
}

/// A write the gate refused, carried through the remote's `io::Error` so that storage
/// reports it as [`Error::NotWriter`], not as a remote failure.
#[derive(Debug, thiserror::Error)]
#[error("this server does not accept writes now: {0}")]
pub(crate) struct Refused(pub(crate) &'static str);

impl Gated {
    fn allowed(&self) -> std::io::Result<()> {
        self.gate.check().map_err(|e| {
            let why = match e {
                Error::NotWriter { why } => why,
                _ => "it may not write now",
            };
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, Refused(why))
        })
    }
}

impl RemoteChunks for Gated {
    fn put(&self, name: &str, sealed: &[u8]) -> std::io::Result<()> {
        self.allowed()?;
        self.inner.put(name, sealed)
    }

    fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.inner.get(name)
    }

    fn size(&self, name: &str) -> std::io::Result<Option<u64>> {
        self.inner.size(name)
    }

    fn delete(&self, name: &str) -> std::io::Result<()> {
        self.allowed()?;
        self.inner.delete(name)
    }

    fn probe(&self) -> std::io::Result<()> {
        self.inner.probe()
    }

    fn list(&self, prefix: &str) -> std::io::Result<Vec<(String, u64)>> {
        self.inner.list(prefix)
    }

    fn put_when(&self, name: &str, bytes: &[u8], when: When) -> std::io::Result<Option<()>> {
        self.allowed()?;
        self.inner.put_when(name, bytes, when)
    }
}
