//! The metrics listener (`--metrics-listen`): `GET /metrics` in Prometheus text format, and
//! the health probes (`/health/live`, `/health/ready`), on their own plain-HTTP port.
//!
//! Kept apart from the S3 listener so that scrapes need no signature, never pass through
//! the guard, the audit trail or the request metrics, and can be firewalled separately; it
//! binds loopback unless the operator says otherwise (`config.rs`). Nothing it serves
//! carries a name (see `metrics.rs`).
//!
//! Deliberately small: HTTP/1 only, one request per connection, at most
//! [`METRICS_MAX_CONNECTIONS`] at once, each given [`METRICS_REQUEST_TIMEOUT`] to finish.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::guard::health::{self, Probe, Readiness};
use crate::limits::{ACCEPT_ERROR_BACKOFF, METRICS_MAX_CONNECTIONS, METRICS_REQUEST_TIMEOUT};
use crate::metrics::Metrics;

/// The content type of Prometheus's text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `metrics` and the probes (reporting `readiness`) on `listener`, until dropped.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>, readiness: Arc<Readiness>) {
    let slots = Arc::new(Semaphore::new(METRICS_MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return; // never closed
        };
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(error) => {
                tracing::warn!(%error, "metrics listener: accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let (metrics, readiness) = (Arc::clone(&metrics), Arc::clone(&readiness));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (metrics, readiness) = (Arc::clone(&metrics), Arc::clone(&readiness));
                async move { Ok::<_, Infallible>(answer(&req, &metrics, &readiness).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(METRICS_REQUEST_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(tcp), service);
            match tokio::time::timeout(METRICS_REQUEST_TIMEOUT, conn).await {
                Ok(Err(error)) => tracing::debug!(%error, "metrics connection failed"),
                Err(_) => tracing::debug!("metrics connection timed out"),
                Ok(Ok(())) => {}
            }
            drop(permit);
        });
    }
}

/// The answer to one request on the metrics listener.
async fn answer(
    req: &Request<Incoming>,
    metrics: &Metrics,
    readiness: &Readiness,
) -> Response<s3s::Body> {
    let is_head = req.method() == Method::HEAD;
    if let Some(probe) = health::probe(req.method(), req.uri(), req.headers()) {
        let ready = match probe {
            Probe::Live => Ok(()),
            Probe::Ready => readiness.check().await,
        };
        return health::answer(probe, ready, is_head);
    }
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "not found\n".into(), is_head);
    }
    if req.method() != Method::GET && !is_head {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
            is_head,
        );
    }
    let ready = readiness.check().await.is_ok();
    let store = readiness
        .store()
        .map(|s| (s.chunk_stats(), s.index_stats()));
    let mut resp = plain(StatusCode::OK, metrics.render(ready, store), is_head);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_FORMAT),
    );
    resp
}

fn plain(status: StatusCode, text: String, is_head: bool) -> Response<s3s::Body> {
    let len = text.len();
    let body = if is_head {
        s3s::Body::empty()
    } else {
        s3s::Body::from(Bytes::from(text))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}
