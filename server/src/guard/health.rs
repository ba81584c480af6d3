//! Liveness and readiness probes: `GET /health/live` and `GET /health/ready`.
//!
//! They answer before any S3 processing, unsigned, on the S3 listener (so a load balancer
//! or an orchestrator needs nothing but the port) and on the metrics listener. They reveal
//! only the status: a one-word body, no version, no counts, no reason beyond "not ready".
//!
//! # Which requests are probes
//!
//! `health` is a valid bucket name, so `/health/live` is also the path-style address of
//! the object `live` in bucket `health`. A request is a probe only if it is a GET or HEAD of
//! exactly one of the two paths, with no query string and no `Authorization` header: a
//! request signed in the header or presigned in the query is always S3's, so the owner of a
//! bucket named `health` reaches its objects as usual. An unsigned request for them would
//! have been refused (P1), so answering it with the server's status gives nothing away.
//!
//! Probes are not audited and not counted in the request metrics: an orchestrator probing
//! every few seconds would otherwise fill the audit trail with records that say nothing
//! about who did what to which data. They are logged at debug only, for the same reason.
//!
//! # Readiness
//!
//! Ready means: unsealed (the store is open), the index writer running, the data directory
//! writable, the remote chunk store (if any) answering, and not shutting down. Writability
//! is checked by creating and writing an anonymous temp file (unsynced, never linked), and
//! the remote with one short listing, at most once per [`READY_DISK_CHECK_EVERY`]; probes
//! in between reuse the answer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::limits::READY_DISK_CHECK_EVERY;

/// The paths of the probes.
pub(crate) const LIVE_PATH: &str = "/health/live";
/// See [`LIVE_PATH`].
pub(crate) const READY_PATH: &str = "/health/ready";

/// Which probe a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The process answers.
    Live,
    /// The server can serve S3 requests now.
    Ready,
}

/// The probe `method uri headers` asks for, or `None` for anything else (S3's).
pub(crate) fn probe(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Probe> {
    if (method != Method::GET && method != Method::HEAD)
        || uri.query().is_some()
        || headers.contains_key(http::header::AUTHORIZATION)
    {
        return None;
    }
    match uri.path() {
        LIVE_PATH => Some(Probe::Live),
        READY_PATH => Some(Probe::Ready),
        _ => None,
    }
}

/// Why the server is not ready (logged at debug; the probe answer says only "not ready").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotReady {
    /// No store open yet: sealed until `coffer unlock`.
    Sealed,
    /// A shutdown signal came.
    Stopping,
    /// The index is closed or its writer has stopped.
    IndexClosed,
    /// The data directory does not take a write.
    DiskNotWritable,
    /// The remote chunk store (`--chunk-store`) does not answer.
    ChunkStoreDown,
}

/// What readiness depends on. Shared by the seal gate and the metrics listener.
#[derive(Debug)]
pub(crate) struct Readiness {
    /// Where the writability check writes: the data directory (none in memory).
    dir: Option<PathBuf>,
    store: OnceLock<coffer_storage::Store>,
    stopping: AtomicBool,
    /// When the disk and the chunk store were last checked, and the answer.
    disk: tokio::sync::Mutex<Option<(Instant, Result<(), NotReady>)>>,
}

impl Readiness {
    /// Readiness of a server whose data lives in `dir`; sealed until [`Readiness::opened`].
    pub(crate) fn new(dir: Option<PathBuf>) -> Arc<Readiness> {
        Arc::new(Readiness {
            dir,
            store: OnceLock::new(),
            stopping: AtomicBool::new(false),
            disk: tokio::sync::Mutex::new(None),
        })
    }

    /// The store is open and served from now on.
    pub(crate) fn opened(&self, store: &coffer_storage::Store) {
        let _ = self.store.set(store.clone());
    }

    /// The open store, once there is one.
    pub(crate) fn store(&self) -> Option<&coffer_storage::Store> {
        self.store.get()
    }

    /// A shutdown began: not ready from now on, so balancers stop sending requests while
    /// open ones finish.
    pub(crate) fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether the server can serve now, and if not, why.
    pub(crate) async fn check(&self) -> Result<(), NotReady> {
        if self.stopping.load(Ordering::Relaxed) {
            return Err(NotReady::Stopping);
        }
        let Some(store) = self.store.get() else {
            return Err(NotReady::Sealed);
        };
        if !store.is_open() {
            return Err(NotReady::IndexClosed);
        }
        self.storage_usable(store).await
    }

    /// The last answer about the disk and the chunk store if recent, else a fresh one. The
    /// lock makes concurrent probes share one check.
    async fn storage_usable(&self, store: &coffer_storage::Store) -> Result<(), NotReady> {
        let mut last = self.disk.lock().await;
        if let Some((at, answer)) = *last
            && at.elapsed() < READY_DISK_CHECK_EVERY
        {
            return answer;
        }
        let answer = if !self.disk_writable().await {
            Err(NotReady::DiskNotWritable)
        } else if !store.chunks_reachable().await {
            Err(NotReady::ChunkStoreDown)
        } else {
            Ok(())
        };
        *last = Some((Instant::now(), answer));
        answer
    }

    /// Whether the data directory takes a write (in memory: always).
    async fn disk_writable(&self) -> bool {
        let Some(dir) = self.dir.clone() else {
            // In memory: a full budget refuses writes but reads go on, as a full disk's do.
            return true;
        };
        tokio::task::spawn_blocking(move || {
            // An unnamed file (O_TMPFILE where there is one): nothing is left behind.
            tempfile::tempfile_in(&dir).and_then(|mut f| std::io::Write::write_all(&mut f, b"."))
        })
        .await
        .is_ok_and(|written| written.is_ok())
    }
}

/// The answer to `probe` (`is_head`: no body), given whether the server is `ready`.
pub(crate) fn answer(
    probe: Probe,
    ready: Result<(), NotReady>,
    is_head: bool,
) -> Response<s3s::Body> {
    let (status, text) = match (probe, ready) {
        (Probe::Live, _) => (StatusCode::OK, "ok\n"),
        (Probe::Ready, Ok(())) => (StatusCode::OK, "ready\n"),
        (Probe::Ready, Err(why)) => {
            tracing::debug!(?why, "readiness probe: not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
        }
    };
    let body = if is_head {
        s3s::Body::empty()
    } else {
        s3s::Body::from(Bytes::from_static(text.as_bytes()))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    // A cached "ready" would hide the next failure.
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_of(method: &str, uri: &str, authorized: bool) -> Option<Probe> {
        let mut headers = HeaderMap::new();
        if authorized {
            headers.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"),
            );
        }
        probe(&method.parse().unwrap(), &uri.parse().unwrap(), &headers)
    }

    #[test]
    fn only_unsigned_get_or_head_of_the_exact_paths_are_probes() {
        assert_eq!(probe_of("GET", "/health/live", false), Some(Probe::Live));
        assert_eq!(probe_of("HEAD", "/health/ready", false), Some(Probe::Ready));
        // S3's: signed, presigned, other methods, other paths.
        assert_eq!(probe_of("GET", "/health/live", true), None);
        assert_eq!(
            probe_of("GET", "/health/live?X-Amz-Signature=x", false),
            None
        );
        assert_eq!(probe_of("GET", "/health/live?", false), None);
        assert_eq!(probe_of("PUT", "/health/live", false), None);
        assert_eq!(probe_of("DELETE", "/health/ready", false), None);
        assert_eq!(probe_of("GET", "/health/live/", false), None);
        assert_eq!(probe_of("GET", "/health", false), None);
        assert_eq!(probe_of("GET", "/health/readyz", false), None);
    }

    #[tokio::test]
    async fn ready_needs_an_open_store_and_no_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let readiness = Readiness::new(Some(dir.path().to_path_buf()));
        assert_eq!(readiness.check().await, Err(NotReady::Sealed));
        let store = coffer_storage::Store::open(coffer_storage::StoreConfig {
            placement: coffer_storage::Placement::Directory {
                root: dir.path().join("data"),
                index: coffer_storage::IndexLocation::Memory,
            },
            chunk_size: coffer_storage::DEFAULT_CHUNK_SIZE,
            inline_max: coffer_storage::DEFAULT_INLINE_MAX,
            durability: coffer_storage::Durability::Relaxed,
            master_key: coffer_storage::MasterKey::generate().unwrap(),
        })
        .await
        .unwrap();
        readiness.opened(&store);
        assert_eq!(readiness.check().await, Ok(()));
        store.shutdown().await;
        assert_eq!(readiness.check().await, Err(NotReady::IndexClosed));
        readiness.stopping();
        assert_eq!(readiness.check().await, Err(NotReady::Stopping));
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("missing");
        let readiness = Readiness::new(Some(gone));
        assert!(!readiness.disk_writable().await);
        let readiness = Readiness::new(Some(dir.path().to_path_buf()));
        assert!(readiness.disk_writable().await);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "left a file"
        );
    }

    #[test]
    fn answers_say_only_the_status() {
        let live = answer(Probe::Live, Err(NotReady::Sealed), false);
        assert_eq!(live.status(), StatusCode::OK);
        assert_eq!(live.body().bytes().unwrap().as_ref(), b"ok\n");
        let ready = answer(Probe::Ready, Ok(()), false);
        assert_eq!(ready.body().bytes().unwrap().as_ref(), b"ready\n");
        let not = answer(Probe::Ready, Err(NotReady::DiskNotWritable), false);
        assert_eq!(not.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(not.body().bytes().unwrap().as_ref(), b"not ready\n");
        let head = answer(Probe::Ready, Ok(()), true);
        assert_eq!(head.headers()[http::header::CONTENT_LENGTH], "6");
        assert!(head.body().bytes().is_none_or(|b| b.is_empty()));
    }
}
