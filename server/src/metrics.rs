//! Prometheus metrics: requests by operation and status, their latency, bytes in and out,
//! server errors, the audit trail's position and readiness. Rendered in Prometheus's text
//! format (0.0.4) for `GET /metrics` on the `--metrics-listen` listener
//! (`metrics_listener.rs`), never on the S3 listener.
//!
//! # Design
//!
//! No label can carry a name (P6): the operation is an [`Operation`], which only holds an
//! S3 operation name as s3s spells it (a fixed set) or the admin service's name (`IAM`,
//! `STS`, `KMS`, `Audit`), never the action a client wrote; the status is a number; an
//! error is its S3 error code, checked to be a short identifier. Bucket names, keys, user
//! names and access keys are not passed in at all. The distinct operations are capped at
//! [`METRICS_MAX_OPERATIONS`] in case a future classification lets anything through.
//!
//! Written by hand rather than with `prometheus-client`: the metric set is small and fixed,
//! the text format is a few lines per family, and closed label types are what make the
//! privacy rule hold. One short lock per request (a counter and a histogram bucket) costs
//! nothing next to the request; a scrape formats a few hundred lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use coffer_storage::{ChunkStats, IndexStats};

use crate::limits::METRICS_MAX_OPERATIONS;

/// Upper bounds of the latency histogram, in seconds: from a cached HEAD to a multi-GiB
/// upload.
const LATENCY_BOUNDS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

/// The operation label of a request: an S3 operation name, or an admin service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Operation(String);

impl Operation {
    /// The label for what the request's audit note says (`crate::audit_trail::note`, the
    /// one place requests are classified): `PutObject`, `iam:CreateUser`, `kms:Encrypt`…
    /// Admin actions collapse to their service, so a label never holds what a client wrote;
    /// anything that is not a plain identifier is `Other`.
    pub(crate) fn of(noted: Option<&str>) -> Operation {
        let Some(noted) = noted else {
            return Operation("Unknown".to_owned());
        };
        let label = match noted.split_once(':') {
            Some(("iam", _)) => "IAM",
            Some(("sts", _)) => "STS",
            Some(("kms", _)) => "KMS",
            Some(("audit", _)) => "Audit",
            None if is_identifier(noted) => noted,
            Some(_) | None => "Other",
        };
        Operation(label.to_owned())
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short ASCII identifier (S3 operation names and error codes are).
fn is_identifier(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What one served request adds to the metrics.
#[derive(Debug)]
pub(crate) struct Observation {
    /// What it was.
    pub(crate) operation: Operation,
    /// The HTTP status answered.
    pub(crate) status: u16,
    /// Body bytes announced by the client (`Content-Length`).
    pub(crate) bytes_in: u64,
    /// Body bytes answered (`Content-Length`; 0 for HEAD).
    pub(crate) bytes_out: u64,
    /// From arrival to the response head.
    pub(crate) elapsed: Duration,
    /// The S3 error code of a 5xx answer.
    pub(crate) server_error: Option<String>,
}

/// The latency histogram of one operation.
#[derive(Debug, Default)]
struct Latency {
    /// Counts per bound of [`LATENCY_BOUNDS`] (not cumulative), then above the last.
    buckets: [u64; LATENCY_BOUNDS.len() + 1],
    sum_secs: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Series {
    requests: BTreeMap<(Operation, u16), u64>,
    latency: BTreeMap<Operation, Latency>,
    errors: BTreeMap<String, u64>,
}

/// Where the audit trail stands: written by its writer task, read by scrapes.
#[derive(Debug, Default)]
pub(crate) struct AuditGauge {
    /// Sequence number of the last record appended (0: none).
    pub(crate) sequence: AtomicU64,
    /// 1 once the trail failed (changes are refused until restart).
    pub(crate) broken: AtomicU64,
}

/// Every metric of the server. Shared (`Arc`) by the guard, which observes requests, and
/// the metrics listener, which renders them.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    series: Mutex<Series>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Set once the trail opens (later for a server started sealed).
    audit: OnceLock<std::sync::Arc<AuditGauge>>,
    /// The online scrub's progress, when scrubbing is on.
    scrub: OnceLock<std::sync::Arc<coffer_storage::ScrubProgress>>,
}

impl Metrics {
    /// Adds one request.
    pub(crate) fn observe(&self, seen: Observation) {
        self.bytes_in.fetch_add(seen.bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(seen.bytes_out, Ordering::Relaxed);
        let secs = seen.elapsed.as_secs_f64();
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let operation = if series.latency.contains_key(&seen.operation)
            || series.latency.len() < METRICS_MAX_OPERATIONS
        {
            seen.operation
        } else {
            Operation("Other".to_owned())
        };
        *series
            .requests
            .entry((operation.clone(), seen.status))
            .or_default() += 1;
        let latency = series.latency.entry(operation).or_default();
        latency.buckets[bucket] += 1;
        latency.sum_secs += secs;
        latency.count += 1;
        if let Some(code) = seen.server_error {
            let code = if is_identifier(&code) {
                code
            } else {
                "Other".to_owned()
            };
            *series.errors.entry(code).or_default() += 1;
        }
    }

    /// Reports the scrub's progress from now on.
    pub(crate) fn watch_scrub(&self, progress: std::sync::Arc<coffer_storage::ScrubProgress>) {
        let _ = self.scrub.set(progress);
    }

    /// Reports the audit trail's position from now on.
    pub(crate) fn watch_audit(&self, gauge: std::sync::Arc<AuditGauge>) {
        let _ = self.audit.set(gauge);
    }

    /// The metrics in Prometheus text format, with `ready` (1 or 0) as `coffer_ready` and
    /// the store's `chunks` once it is open.
    pub(crate) fn render(&self, ready: bool, store: Option<(ChunkStats, IndexStats)>) -> String {
        let mut out = String::with_capacity(4096);
        {
            let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
            render_requests(&mut out, &series);
        }
        // `writeln!` into a String cannot fail: its Result is dropped with `let _`.
        let counters = [
            (
                "coffer_bytes_received_total",
                "Request body bytes announced by clients (Content-Length).",
                self.bytes_in.load(Ordering::Relaxed),
            ),
            (
                "coffer_bytes_sent_total",
                "Response body bytes answered (Content-Length; HEAD sends none).",
                self.bytes_out.load(Ordering::Relaxed),
            ),
        ];
        unlabelled(&mut out, "counter", &counters);
        if let Some(audit) = self.audit.get() {
            render_audit(&mut out, audit);
        }
        if let Some((chunks, index)) = store {
            render_chunks(&mut out, chunks);
            render_index(&mut out, index);
        }
        if let Some(scrub) = self.scrub.get() {
            render_scrub(&mut out, scrub);
        }
        family(
            &mut out,
            "coffer_ready",
            "gauge",
            "1 while /health/ready answers 200 (unsealed, index open, data directory writable, not stopping).",
        );
        let _ = writeln!(out, "coffer_ready {}", u8::from(ready));
        out
    }
}

/// Requests, their latency and server errors.
fn render_requests(out: &mut String, series: &Series) {
    family(
        out,
        "coffer_requests_total",
        "counter",
        "Requests answered, by operation and HTTP status.",
    );
    for ((op, status), n) in &series.requests {
        let _ = writeln!(
            out,
            "coffer_requests_total{{operation=\"{}\",status=\"{status}\"}} {n}",
            op.as_str()
        );
    }
    family(
        out,
        "coffer_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its response head, by operation.",
    );
    for (op, latency) in &series.latency {
        let op = op.as_str();
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BOUNDS.iter().zip(latency.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "coffer_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "coffer_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}\n\
             coffer_request_duration_seconds_sum{{operation=\"{op}\"}} {}\n\
             coffer_request_duration_seconds_count{{operation=\"{op}\"}} {}",
            latency.count, latency.sum_secs, latency.count
        );
    }
    family(
        out,
        "coffer_errors_total",
        "counter",
        "Server errors (5xx) answered, by S3 error code.",
    );
    for (code, n) in &series.errors {
        let _ = writeln!(out, "coffer_errors_total{{code=\"{code}\"}} {n}");
    }
}

/// Where the audit trail stands.
fn render_audit(out: &mut String, audit: &AuditGauge) {
    family(
        out,
        "coffer_audit_sequence",
        "gauge",
        "Sequence number of the last audit record appended (the checkpoint's).",
    );
    let _ = writeln!(
        out,
        "coffer_audit_sequence {}",
        audit.sequence.load(Ordering::Relaxed)
    );
    family(
        out,
        "coffer_audit_broken",
        "gauge",
        "1 once the audit trail cannot be written: changes are refused until restart.",
    );
    let _ = writeln!(
        out,
        "coffer_audit_broken {}",
        audit.broken.load(Ordering::Relaxed)
    );
}

/// How far the online scrub got, and what it found.
fn render_scrub(out: &mut String, scrub: &coffer_storage::ScrubProgress) {
    let load = |v: &AtomicU64| v.load(Ordering::Relaxed);
    let series = [
        (
            "coffer_scrub_passes_total",
            "counter",
            "Scrub passes completed.",
            load(&scrub.passes),
        ),
        (
            "coffer_scrub_versions",
            "gauge",
            "Object versions the current (or last) scrub pass covers.",
            load(&scrub.versions_total),
        ),
        (
            "coffer_scrub_versions_done",
            "gauge",
            "Object versions the current (or last) scrub pass has read.",
            load(&scrub.versions_done),
        ),
        (
            "coffer_scrub_chunks_verified_total",
            "counter",
            "Chunks whose seal and keyed id the scrub verified.",
            load(&scrub.chunks_verified),
        ),
        (
            "coffer_scrub_bytes_verified_total",
            "counter",
            "Sealed bytes the scrub read.",
            load(&scrub.bytes_verified),
        ),
        (
            "coffer_scrub_findings_total",
            "counter",
            "Corrupt or missing chunks the scrub found (details in the log; run coffer fsck).",
            load(&scrub.findings),
        ),
    ];
    for (name, kind, help, value) in series {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// The chunk tree's counters.
fn render_chunks(out: &mut String, chunks: ChunkStats) {
    let gauges = [
        (
            "coffer_chunks",
            "Sealed chunk files on disk (all buckets).",
            chunks.files,
        ),
        (
            "coffer_chunk_bytes",
            "Size of the sealed chunk files on disk, in bytes.",
            chunks.bytes,
        ),
    ];
    unlabelled(out, "gauge", &gauges);
    family(
        out,
        "coffer_chunk_writes_total",
        "counter",
        "Chunks of uploaded bodies since start: stored, or deduplicated (an identical chunk of the same bucket was on disk). Dedup ratio: deduplicated / (stored + deduplicated).",
    );
    let _ = writeln!(
        out,
        "coffer_chunk_writes_total{{result=\"stored\"}} {}\n\
         coffer_chunk_writes_total{{result=\"deduplicated\"}} {}",
        chunks.stored, chunks.deduplicated
    );
}

/// The index writer's group commit: the mean batch is requests / commits.
fn render_index(out: &mut String, index: IndexStats) {
    let counters = [
        (
            "coffer_index_commits_total",
            "Index write transactions since start (each commits a batch of requests: group commit).",
            index.commits,
        ),
        (
            "coffer_index_commit_requests_total",
            "Requests those transactions carried. Mean batch size: this / coffer_index_commits_total.",
            index.requests,
        ),
    ];
    unlabelled(out, "counter", &counters);
    if let Some(ship) = index.shipping {
        let gauges = [
            (
                "coffer_ship_standby",
                "1 while this server follows another's shipped index (a standby), 0 while it writes and ships its own.",
                u64::from(ship.role == coffer_storage::Role::Standby),
            ),
            (
                "coffer_ship_epoch",
                "The shipped index's epoch: one per lease taken (each start or promotion of a writer).",
                ship.position.epoch,
            ),
            (
                "coffer_ship_seq",
                "The last log segment of that epoch shipped (primary) or applied (standby).",
                ship.position.seq,
            ),
            (
                "coffer_ship_failing",
                "1 while the last shipping (or following) round failed: the remote is down or refuses.",
                u64::from(ship.failing),
            ),
            (
                "coffer_ship_fenced",
                "1 once another server took the chunk store's lease: this one accepts no more writes.",
                u64::from(ship.fenced),
            ),
        ];
        unlabelled(out, "gauge", &gauges);
    }
}

/// Series without labels, one sample each: (name, help, value).
fn unlabelled(out: &mut String, kind: &str, rows: &[(&str, &str, u64)]) {
    for (name, help, value) in rows {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(op: &str, status: u16, ms: u64) -> Observation {
        Observation {
            operation: Operation::of(Some(op)),
            status,
            bytes_in: 10,
            bytes_out: 3,
            elapsed: Duration::from_millis(ms),
            server_error: None,
        }
    }

    #[test]
    fn admin_actions_collapse_to_their_service() {
        assert_eq!(Operation::of(Some("PutObject")).as_str(), "PutObject");
        assert_eq!(Operation::of(Some("iam:CreateUser")).as_str(), "IAM");
        assert_eq!(Operation::of(Some("sts:GetCallerIdentity")).as_str(), "STS");
        assert_eq!(Operation::of(Some("kms:Encrypt")).as_str(), "KMS");
        assert_eq!(
            Operation::of(Some("audit:ReadAuditTrail")).as_str(),
            "Audit"
        );
        assert_eq!(Operation::of(Some("x:secret-name")).as_str(), "Other");
        assert_eq!(Operation::of(Some("photos/patient-42")).as_str(), "Other");
        assert_eq!(Operation::of(Some("a\"} 1\nevil")).as_str(), "Other");
        assert_eq!(Operation::of(None).as_str(), "Unknown");
    }

    #[test]
    fn counts_requests_latency_and_bytes() {
        let m = Metrics::default();
        m.observe(seen("PutObject", 200, 3));
        m.observe(seen("PutObject", 200, 700));
        m.observe(seen("GetObject", 404, 1));
        m.observe(Observation {
            server_error: Some("InternalError".to_owned()),
            ..seen("GetObject", 500, 1)
        });
        let text = m.render(true, None);
        assert!(text.contains("coffer_requests_total{operation=\"PutObject\",status=\"200\"} 2\n"));
        assert!(text.contains("coffer_requests_total{operation=\"GetObject\",status=\"404\"} 1\n"));
        assert!(text.contains(
            "coffer_request_duration_seconds_bucket{operation=\"PutObject\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains(
            "coffer_request_duration_seconds_bucket{operation=\"PutObject\",le=\"1\"} 2\n"
        ));
        assert!(text.contains(
            "coffer_request_duration_seconds_bucket{operation=\"PutObject\",le=\"+Inf\"} 2\n"
        ));
        assert!(
            text.contains("coffer_request_duration_seconds_count{operation=\"GetObject\"} 2\n")
        );
        assert!(text.contains("coffer_errors_total{code=\"InternalError\"} 1\n"));
        assert!(text.contains("coffer_bytes_received_total 40\n"));
        assert!(text.contains("coffer_bytes_sent_total 12\n"));
        assert!(text.contains("coffer_ready 1\n"));
        assert!(!text.contains("coffer_audit_sequence"));
        assert!(m.render(false, None).contains("coffer_ready 0\n"));
    }

    #[test]
    fn every_line_is_a_comment_or_a_sample() {
        let m = Metrics::default();
        m.observe(seen("ListBuckets", 200, 20));
        m.watch_audit(std::sync::Arc::new(AuditGauge::default()));
        let text = m.render(true, Some((ChunkStats::default(), IndexStats::default())));
        assert!(text.contains("coffer_chunk_writes_total{result=\"deduplicated\"} 0\n"));
        for line in text.lines() {
            let sample = line
                .rsplit_once(' ')
                .is_some_and(|(_, v)| v.parse::<f64>().is_ok());
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE ") || sample,
                "{line}"
            );
        }
    }

    #[test]
    fn operations_are_capped() {
        let m = Metrics::default();
        for i in 0..METRICS_MAX_OPERATIONS + 5 {
            m.observe(seen(&format!("Op{i}"), 200, 1));
        }
        let text = m.render(true, None);
        assert!(text.contains("coffer_requests_total{operation=\"Other\",status=\"200\"} 5\n"));
        assert!(!text.contains(&format!("Op{}", METRICS_MAX_OPERATIONS + 1)));
        let bad = Observation {
            server_error: Some("not a code".to_owned()),
            ..seen("GetObject", 500, 1)
        };
        m.observe(bad);
        assert!(
            m.render(true, None)
                .contains("coffer_errors_total{code=\"Other\"} 1\n")
        );
    }
}
