//! The seal gate: what the listener serves, sealed or not.
//!
//! A durable server started without an unlocker listens at once but cannot open its data:
//! until `coffer unlock` supplies a passphrase or recovery shares, the gate answers every
//! request `503 ServiceUnavailable` (an S3 XML error, so SDKs retry and say why). Once the
//! store is open the gate is opened with the request [`Guard`], and from then on passes
//! every request to it. The state is one flag ([`Gate::is_sealed`]) that a readiness
//! endpoint can report.

use crate::client::Client;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use tracing::Instrument as _;

use crate::activity::Activity;
use crate::guard::{Guard, Refusal, error_response, request_log};

/// Serves 503 until opened with a [`Guard`], then the guard. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Gate {
    guard: Arc<OnceLock<Guard>>,
    /// The client's address and what its connection is doing, once bound to one.
    connection: Option<(Client, Arc<Activity>)>,
}

impl Gate {
    /// A gate that is sealed until [`Gate::open`].
    pub(crate) fn sealed() -> Gate {
        Gate {
            guard: Arc::new(OnceLock::new()),
            connection: None,
        }
    }

    /// A gate open from the start (ephemeral mode, or an unlocker given at start).
    pub(crate) fn open_with(guard: Guard) -> Gate {
        let gate = Gate::sealed();
        gate.open(guard);
        gate
    }

    /// Opens the gate: from now on every request goes to `guard`. Opening twice keeps the
    /// first guard.
    pub(crate) fn open(&self, guard: Guard) {
        let _ = self.guard.set(guard);
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
        Box::pin(
            async move {
                let started = Instant::now();
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
                Ok(resp)
            }
            .instrument(span),
        )
    }
}
