//! The online scrub, run by the server: a pass over every stored chunk (`Store::scrub`)
//! every `--scrub-every`, paced to `--scrub-rate`, with progress in the log and metrics;
//! and on demand, when `coffer scrub` asks through the admin socket. Passes never overlap:
//! two at once would read every chunk twice for nothing.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use coffer_storage::{ScrubProgress, ScrubReport, Store};
use tokio::sync::Mutex;

/// The first pass waits at most this long after start, so a server restarted more often
/// than `--scrub-every` is still scrubbed.
const FIRST_PASS_AFTER: Duration = Duration::from_hours(1);
/// How often a running pass logs how far it got.
const LOG_EVERY: Duration = Duration::from_mins(1);

/// The scrub of one server: its settings, its progress (read by metrics), and its task
/// once the store is open.
#[derive(Debug)]
pub(crate) struct Scrub {
    every: Option<Duration>,
    bytes_per_sec: u64,
    pub(crate) progress: Arc<ScrubProgress>,
    /// Held for the length of a pass, scheduled or asked for.
    alone: Arc<Mutex<()>>,
    task: OnceLock<tokio::task::JoinHandle<()>>,
}

impl Scrub {
    pub(crate) fn new(every: Option<Duration>, bytes_per_sec: u64) -> Arc<Scrub> {
        Arc::new(Scrub {
            every,
            bytes_per_sec,
            progress: Arc::new(ScrubProgress::default()),
            alone: Arc::new(Mutex::new(())),
            task: OnceLock::new(),
        })
    }

    /// Starts the passes over `store` (once; nothing if scrubbing is off). Passes end with
    /// the store's shutdown.
    pub(crate) fn start(&self, store: &Store) {
        let Some(every) = self.every else {
            return;
        };
        let pass = Pass {
            store: store.clone(),
            bytes_per_sec: self.bytes_per_sec,
            progress: self.progress.clone(),
            alone: self.alone.clone(),
        };
        let _ = self.task.get_or_init(|| tokio::spawn(run(pass, every)));
    }

    /// Ends the scheduled passes (serving stopped).
    pub(crate) fn stop(&self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }

    /// One pass now, at `bytes_per_sec` (0: unpaced), after any pass already running.
    pub(crate) async fn run_now(
        &self,
        store: &Store,
        bytes_per_sec: u64,
    ) -> coffer_storage::Result<ScrubReport> {
        let pass = Pass {
            store: store.clone(),
            bytes_per_sec,
            progress: self.progress.clone(),
            alone: self.alone.clone(),
        };
        pass.run("on demand").await
    }
}

/// What one pass needs.
struct Pass {
    store: Store,
    bytes_per_sec: u64,
    progress: Arc<ScrubProgress>,
    alone: Arc<Mutex<()>>,
}

impl Pass {
    /// Runs the pass, logging its progress every [`LOG_EVERY`] and its outcome.
    async fn run(&self, why: &'static str) -> coffer_storage::Result<ScrubReport> {
        let _only_pass = self.alone.lock().await;
        let (bytes_per_sec, progress) = (self.bytes_per_sec, &self.progress);
        tracing::info!(bytes_per_sec, why, "scrub: pass started");
        let pass = self.store.scrub(bytes_per_sec, progress.clone());
        tokio::pin!(pass);
        let report = loop {
            tokio::select! {
                report = &mut pass => break report,
                () = tokio::time::sleep(LOG_EVERY) => {
                    let done = progress.versions_done.load(Ordering::Relaxed);
                    let total = progress.versions_total.load(Ordering::Relaxed).max(1);
                    tracing::info!(
                        percent = done.saturating_mul(100) / total,
                        chunks = progress.chunks_verified.load(Ordering::Relaxed),
                        "scrub: in progress"
                    );
                }
            }
        };
        match &report {
            Ok(report) if report.stopped => {}
            Ok(report) => tracing::info!(
                versions = report.versions,
                chunks = report.chunks_verified,
                findings = report.findings.len(),
                "scrub: pass done"
            ),
            Err(coffer_storage::Error::ShuttingDown) => {}
            Err(e) => tracing::warn!(error = %e, "scrub: pass failed"),
        }
        report
    }
}

impl Drop for Scrub {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

async fn run(pass: Pass, every: Duration) {
    tokio::time::sleep(every.min(FIRST_PASS_AFTER)).await;
    loop {
        match pass.run("scheduled").await {
            Ok(report) if report.stopped => return,
            Err(coffer_storage::Error::ShuttingDown) => return,
            // A failed pass was logged; the next one retries.
            Ok(_) | Err(_) => {}
        }
        tokio::time::sleep(every).await;
    }
}
