//! The online scrub, run by the server: a pass over every stored chunk (`Store::scrub`)
//! every `--scrub-every`, paced to `--scrub-rate`, with progress in the log and metrics.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use coffer_storage::{ScrubProgress, Store};

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
    task: OnceLock<tokio::task::JoinHandle<()>>,
}

impl Scrub {
    pub(crate) fn new(every: Option<Duration>, bytes_per_sec: u64) -> Arc<Scrub> {
        Arc::new(Scrub {
            every,
            bytes_per_sec,
            progress: Arc::new(ScrubProgress::default()),
            task: OnceLock::new(),
        })
    }

    /// Starts the passes over `store` (once; nothing if scrubbing is off). Passes end with
    /// the store's shutdown.
    pub(crate) fn start(&self, store: &Store) {
        let Some(every) = self.every else {
            return;
        };
        let (store, progress, rate) = (store.clone(), self.progress.clone(), self.bytes_per_sec);
        let _ = self
            .task
            .get_or_init(|| tokio::spawn(run(store, every, rate, progress)));
    }
}

impl Drop for Scrub {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

async fn run(store: Store, every: Duration, bytes_per_sec: u64, progress: Arc<ScrubProgress>) {
    tokio::time::sleep(every.min(FIRST_PASS_AFTER)).await;
    loop {
        tracing::info!(bytes_per_sec, "scrub: pass started");
        let pass = store.scrub(bytes_per_sec, progress.clone());
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
        match report {
            Ok(report) if report.stopped => return,
            Ok(report) => tracing::info!(
                versions = report.versions,
                chunks = report.chunks_verified,
                findings = report.findings.len(),
                "scrub: pass done"
            ),
            Err(coffer_storage::Error::ShuttingDown) => return,
            Err(e) => tracing::warn!(error = %e, "scrub: pass failed; the next one retries"),
        }
        tokio::time::sleep(every).await;
    }
}
