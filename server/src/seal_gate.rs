//! The seal gate: what the listener serves, sealed or not.
//!
//! A durable server started without an unlocker listens at once but cannot open its data:
//! until `coffer unlock` supplies a passphrase or recovery shares, the gate answers every
//! request `503 ServiceUnavailable` (an S3 XML error, so SDKs retry and say why). Once the
//! store is open the gate is opened with the request [`Guard`], and from then on passes
//! every request to it. The health probes (`guard/health.rs`) are answered here, before
//! either, sealed or not: live says the process answers, ready says the store is open
//! (among other things).
//!
//! Refused requests are audited too (issue 11: every request, served or refused), but the
//! trail's key is sealed with the data: their records wait in memory (at most
//! [`SEALED_RECORDS_MAX`]) and go to the trail when the gate opens. They carry no caller
//! (no signature can be checked while sealed) and no names.

use crate::client::Client;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use tracing::Instrument as _;

use crate::activity::{Activity, Tracked};
use crate::audit_trail::AuditTrail;
use crate::guard::health::{self, Probe, Readiness};
use crate::guard::{Guard, Refusal, error_response, request_log};
use crate::limits::SEALED_RECORDS_MAX;

/// Serves 503 until opened with a [`Guard`], then the guard. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Gate {
    guard: Arc<OnceLock<Guard>>,
    backlog: Arc<Mutex<Backlog>>,
    /// The client's address and what its connection is doing, once bound to one.
    connection: Option<(Client, Arc<Activity>)>,
    /// What the readiness probe reports.
    readiness: Arc<Readiness>,
}

impl Gate {
    /// A gate that is sealed until [`Gate::open`], its probes reporting `readiness`.
    pub(crate) fn sealed(readiness: Arc<Readiness>) -> Gate {
        Gate {
            guard: Arc::new(OnceLock::new()),
            backlog: Arc::default(),
            connection: None,
            readiness,
        }
    }

    /// A gate open from the start (ephemeral mode, or an unlocker given at start).
    pub(crate) fn open_with(guard: Guard, readiness: Arc<Readiness>) -> Gate {
        let gate = Gate::sealed(readiness);
        gate.open(guard);
        gate
    }

    /// Opens the gate: from now on every request goes to `guard`. Opening twice keeps the
    /// first guard.
    pub(crate) fn open(&self, guard: Guard) {
        let _ = self.guard.set(guard);
    }

    /// Opens the gate ([`Gate::open`]) and hands the records of the requests refused while
    /// sealed to `trail`; a request refused in the instant of opening goes there directly.
    pub(crate) async fn open_audited(&self, guard: Guard, trail: Option<&AuditTrail>) {
        let (waiting, dropped) = match self.backlog.lock() {
            Ok(mut backlog) => {
                backlog.trail = trail.cloned();
                (
                    std::mem::take(&mut backlog.records),
                    std::mem::take(&mut backlog.dropped),
                )
            }
            Err(_) => (Vec::new(), 0),
        };
        self.open(guard);
        let Some(trail) = trail else { return };
        if dropped > 0 {
            tracing::warn!(
                recorded = waiting.len(),
                dropped,
                "more requests were refused while sealed than are kept for the audit trail; the rest are only counted"
            );
        }
        for record in waiting {
            let _ = trail.submit(record, false).await;
        }
    }

    /// Whether requests are still refused for want of an unlock.
    pub(crate) fn is_sealed(&self) -> bool {
        self.guard.get().is_none()
    }

    /// The gate for one connection of `client`, whose requests mark `activity`.
    pub(crate) fn for_connection(&self, client: Client, activity: Arc<Activity>) -> Gate {
        Gate {
            connection: Some((client, activity)),
            ..self.clone()
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Gate {
    type Response = Response<s3s::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if let Some(probe) = health::probe(req.method(), req.uri(), req.headers()) {
            // Not audited, not counted, logged at debug: see guard/health.rs.
            let readiness = Arc::clone(&self.readiness);
            let busy = self.connection.as_ref().map(|(_, a)| a.begin());
            let is_head = req.method() == Method::HEAD;
            return Box::pin(async move {
                let ready = match probe {
                    Probe::Live => Ok(()),
                    Probe::Ready => readiness.check().await,
                };
                let resp = health::answer(probe, ready, is_head);
                Ok(match busy {
                    Some(busy) => resp.map(|body| s3s::Body::http_body(Tracked::new(body, busy))),
                    None => resp,
                })
            });
        }
        if let Some(guard) = self.guard.get() {
            return match &self.connection {
                Some((client, activity)) => guard
                    .for_connection(*client, Arc::clone(activity))
                    .call(req),
                None => guard.call(req),
            };
        }
        // Sealed: the same request id, header and log line as a refusal by the guard.
        let id = request_log::request_id();
        let span = tracing::info_span!("request", id = %id);
        let backlog = Arc::clone(&self.backlog);
        let source = self
            .connection
            .as_ref()
            .map_or_else(|| "-".to_owned(), |(client, _)| client.peer.to_string());
        Box::pin(
            async move {
                let started = Instant::now();
                let arrived = SystemTime::now();
                let refused = error_response(&Refusal::SEALED, req.method() == Method::HEAD);
                let mut resp = request_log::stamp(refused, &id);
                // SDKs honour Retry-After on 503.
                resp.headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
                tracing::info!(
                    method = %req.method(),
                    status = resp.status().as_u16(),
                    ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "request refused: sealed"
                );
                let record = coffer_audit::Record {
                    time_ms: coffer_audit::unix_ms(arrived),
                    request_id: id,
                    source,
                    operation: "Unknown".to_owned(),
                    status: resp.status().as_u16(),
                    error_code: Some(Refusal::SEALED.code.to_owned()),
                    bytes_in: req
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(0),
                    duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    ..coffer_audit::Record::default()
                };
                keep(&backlog, record).await;
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

/// The records of requests refused while sealed, until the trail can take them.
#[derive(Default)]
struct Backlog {
    records: Vec<coffer_audit::Record>,
    /// Refused past [`SEALED_RECORDS_MAX`].
    dropped: u64,
    /// Set when the gate opens: late records go straight there.
    trail: Option<AuditTrail>,
}

async fn keep(backlog: &Mutex<Backlog>, record: coffer_audit::Record) {
    let trail = {
        let Ok(mut b) = backlog.lock() else { return };
        match &b.trail {
            Some(trail) => trail.clone(),
            None if b.records.len() < SEALED_RECORDS_MAX => {
                b.records.push(record);
                return;
            }
            None => {
                b.dropped += 1;
                return;
            }
        }
    };
    let _ = trail.submit(record, false).await;
}
