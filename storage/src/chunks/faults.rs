//! A fault-injecting layer under the chunk store: fail a chunk write's write, fsync, rename
//! or directory fsync, or a chunk read, at the Nth call, with the error a failing disk
//! gives (ENOSPC, EIO). Unarmed (always, outside tests) it is one relaxed load per step.
//!
//! It sits where the chunk store meets the file system (`durable::replace_file_checked`
//! and the read), so everything above it — ingest, the index writer, releases, the reader —
//! runs unchanged against it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::durable::Step;

/// Where a fault strikes: a step of a chunk write, or a chunk read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Site {
    Write(Step),
    Read,
}

/// The failure a disk gives.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// ENOSPC.
    NoSpace,
    /// EIO.
    Io,
}

impl Failure {
    fn error(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(match self {
            Failure::NoSpace => 28,
            Failure::Io => 5,
        })
    }
}

#[derive(Debug)]
struct Plan {
    site: Site,
    failure: Failure,
    /// Calls at `site` still to pass before the first failure.
    pass: u64,
    /// Keep failing after the first (a full disk), rather than once (a glitch).
    sticky: bool,
    fired: u64,
}

/// The armed plan, if any.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: AtomicBool,
    plan: Mutex<Option<Plan>>,
}

impl Faults {
    /// Fails the call at `site` after `pass` successful ones, once or (`sticky`) from then
    /// on until [`Faults::disarm`].
    #[cfg(test)]
    pub(crate) fn arm(&self, site: Site, failure: Failure, pass: u64, sticky: bool) {
        *self.lock() = Some(Plan {
            site,
            failure,
            pass,
            sticky,
            fired: 0,
        });
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Clears the plan; returns how many calls it failed.
    #[cfg(test)]
    pub(crate) fn disarm(&self) -> u64 {
        self.armed.store(false, Ordering::SeqCst);
        self.lock().take().map_or(0, |p| p.fired)
    }

    /// Asked before each call at `site`.
    pub(crate) fn check(&self, site: Site) -> std::io::Result<()> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut plan = self.lock();
        let Some(plan) = plan.as_mut().filter(|p| p.site == site) else {
            return Ok(());
        };
        if plan.pass > 0 {
            plan.pass -= 1;
            return Ok(());
        }
        if plan.fired > 0 && !plan.sticky {
            return Ok(());
        }
        plan.fired += 1;
        Err(plan.failure.error())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Plan>> {
        self.plan
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
