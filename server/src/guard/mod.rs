//! The pre-s3s guard: every request passes here before s3s sees it.
//!
//! Each job lives in its own room:
//!
//! - [`request_log`]: the request id (on every response and in every error body) and the
//!   one log line per request, with no names in it (P6);
//! - [`auth_params`]: how the request is authenticated, read exactly as s3s reads it, and
//!   refusal of what s3s would accept but must not (SigV2, other algorithms, long-lived
//!   presigned URLs, unsigned `x-amz-*` headers; P1), and of signatures scoped to another
//!   region than the server's;
//! - [`body_bounds`]: announced body lengths, and aws-chunked chunks bounded as they pass;
//! - [`form_intake`]: browser form uploads, which s3s buffers whole;
//! - [`throttle`]: addresses that keep failing signatures get their failures slowed;
//! - [`unread_body`]: an HTTP/1 answer that leaves the body unread (a refusal sent before
//!   `Expect: 100-continue` lets the client send it) says the connection closes;
//! - [`refusal`]: the S3 errors all of the above answer with;
//! - [`preflight`]: CORS preflights (`OPTIONS`), answered from the bucket's rules before
//!   any signature check, and the CORS headers of signed answers;
//! - [`audit_record`]: the audit record of every request, served or refused, durable before
//!   a change is acknowledged;
//! - [`health`]: the unsigned liveness and readiness probes, answered before all of the
//!   above (by the seal gate, which knows whether the store is open) and never audited.
//!
//! Each request served here is counted in the metrics (`crate::metrics`) by the operation
//! its audit note names, so requests are classified once.
//!
//! Requests signed for IAM or STS are not S3's: the guard hands them to `crate::iam`.
//!
//! Every limit they apply is in `crate::limits`.

mod audit_record;
mod auth_params;
mod body_bounds;
mod form_fields;
mod form_intake;
#[cfg(test)]
mod fuzz_tests;
pub(crate) mod health;
mod preflight;
mod refusal;
pub(crate) mod request_log;
mod throttle;
mod unread_body;

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;
use s3s::service::S3Service;
use tracing::Instrument;

use self::auth_params::AuthForm;
use self::body_bounds::{AwsChunkBound, BodyPlan};
use self::form_intake::FormIntake;
use self::throttle::AuthThrottle;
use self::unread_body::{RequestBody, Watched};
use crate::activity::{Activity, Tracked};
use crate::audit_trail::{AuditTrail, OperationNote};
use crate::client::Client;
use crate::iam::{self, Iam};
use crate::limits::{Limits, THROTTLE_FAILURE_DELAY};
use crate::metrics::{Metrics, Observation, Operation};
use crate::s3::cors::BucketCors;

#[cfg(test)]
pub(crate) use self::auth_params::Scope;
pub(crate) use self::auth_params::{AdminAuth, AdminService, HeaderSignature};
pub(crate) use self::body_bounds::{CHUNK_MALFORMED, CHUNK_TOO_LARGE};
pub(crate) use self::refusal::{Refusal, error_response, is_region_token};
pub(crate) use self::request_log::RequestId;

/// The guard, as a hyper service around the s3s service.
#[derive(Clone)]
pub(crate) struct Guard {
    svc: S3Service,
    limits: Limits,
    /// The server's `--region`: every signature must be scoped to it.
    region: Arc<str>,
    forms: FormIntake,
    throttle: Arc<AuthThrottle>,
    /// The client, once the guard is bound to a connection.
    client: Option<Client>,
    /// What the connection is doing, once the guard is bound to one.
    activity: Option<Arc<Activity>>,
    /// The IAM and STS API, if this listener serves it.
    iam: Option<Iam>,
    /// Where every request is recorded.
    audit: Option<AuditTrail>,
    /// Where every request is counted.
    metrics: Option<Arc<Metrics>>,
    /// Buckets' CORS rules, for preflights and for the answers to browsers.
    cors: Option<BucketCors>,
}

impl Guard {
    /// Wraps `svc`, screening requests against `limits` and the server's `region`.
    pub(crate) fn new(svc: S3Service, limits: Limits, region: &str) -> Guard {
        Guard {
            svc,
            limits,
            region: Arc::from(region),
            forms: FormIntake::new(),
            throttle: Arc::new(AuthThrottle::new()),
            client: None,
            activity: None,
            iam: None,
            audit: None,
            metrics: None,
            cors: None,
        }
    }

    /// The guard also answering browsers with buckets' CORS rules from `cors`.
    pub(crate) fn with_cors(self, cors: BucketCors) -> Guard {
        Guard {
            cors: Some(cors),
            ..self
        }
    }

    /// The guard also counting every request in `metrics`.
    pub(crate) fn with_metrics(self, metrics: Arc<Metrics>) -> Guard {
        Guard {
            metrics: Some(metrics),
            ..self
        }
    }

    /// The guard also recording every request in `trail`.
    pub(crate) fn with_audit(self, trail: AuditTrail) -> Guard {
        Guard {
            audit: Some(trail),
            ..self
        }
    }

    /// The guard also serving the IAM and STS API with `iam`.
    pub(crate) fn with_iam(self, iam: Iam) -> Guard {
        Guard {
            iam: Some(iam),
            ..self
        }
    }

    /// The guard for one connection of `client`, marking its requests in `activity`.
    pub(crate) fn for_connection(&self, client: Client, activity: Arc<Activity>) -> Guard {
        Guard {
            client: Some(client),
            activity: Some(activity),
            ..self.clone()
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Guard {
    type Response = Response<s3s::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = self.clone();
        let busy = self.activity.as_ref().map(Activity::begin);
        let id = request_log::request_id();
        let span = tracing::info_span!("request", id = %id);
        Box::pin(
            async move {
                let started = Instant::now();
                let method = req.method().clone();
                let mut req = req;
                req.extensions_mut().insert(RequestId(id.clone()));
                if let Some(client) = guard.client {
                    req.extensions_mut().insert(client);
                }
                let pending = guard.audit.as_ref().map(|trail| {
                    audit_record::Pending::begin(trail, &mut req, &id, guard.client, started)
                });
                // Without a trail the operation is still noted, for the metrics.
                let op_note = (pending.is_none() && guard.metrics.is_some()).then(|| {
                    let note = OperationNote::default();
                    req.extensions_mut().insert(note.clone());
                    note
                });
                let bytes_in = audit_record::content_length(req.headers());
                let resp = match &pending {
                    Some(p) => p.commit_gate().scope(guard.handle(req)).await,
                    None => guard.handle(req).await,
                };
                let operation = match pending {
                    Some(pending) => Some(pending.finish(&resp).await),
                    None => op_note.and_then(|note| note.take()),
                };
                if let Some(metrics) = &guard.metrics {
                    let status = resp.status().as_u16();
                    metrics.observe(Observation {
                        operation: Operation::of(operation.as_deref()),
                        status,
                        bytes_in,
                        bytes_out: audit_record::bytes_out(&resp, method == Method::HEAD),
                        elapsed: started.elapsed(),
                        // A HEAD answer has no body to read a code from.
                        server_error: (status >= 500).then(|| {
                            audit_record::error_code(&resp).unwrap_or_else(|| "Unknown".to_owned())
                        }),
                    });
                }
                let resp = request_log::stamp(resp, &id);
                tracing::info!(
                    %method,
                    status = resp.status().as_u16(),
                    ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "request"
                );
                Ok(match busy {
                    Some(busy) => resp.map(|body| s3s::Body::http_body(Tracked::new(body, busy))),
                    None => resp,
                })
            }
            .instrument(span),
        )
    }
}

impl Guard {
    /// Serves the request, and closes the connection after answering if its body was left
    /// unread.
    async fn handle(&self, req: Request<Incoming>) -> Response<s3s::Body> {
        let version = req.version();
        let (parts, body) = req.into_parts();
        let (body, read) = Watched::new(body);
        let resp = self.serve(Request::from_parts(parts, body)).await;
        read.close_if_unread(version, resp)
    }

    /// Screens the request, hands it to s3s, and slows repeated signature failures.
    async fn serve(&self, mut req: Request<RequestBody>) -> Response<s3s::Body> {
        if req.method() == Method::OPTIONS {
            return match &self.cors {
                Some(cors) => preflight::answer(cors, &req).await,
                None => refused(&Refusal::CORS_FORBIDDEN, false),
            };
        }
        let is_head = req.method() == Method::HEAD;
        let auth = match auth_params::screen(
            req.method(),
            req.uri(),
            req.headers(),
            &self.limits,
            &self.region,
        ) {
            Ok(auth) => auth,
            Err(refusal) if iam::looks_like_admin(req.method(), req.uri(), req.headers()) => {
                tracing::debug!(code = refusal.code, "IAM request refused before the API");
                return iam::refused(&refusal, req.headers(), req.extensions());
            }
            Err(refusal) => return refused(&refusal, is_head),
        };
        match auth {
            AuthForm::Admin(admin) => return self.serve_admin(req, Some(admin)).await,
            AuthForm::Anonymous
                if iam::looks_like_admin(req.method(), req.uri(), req.headers()) =>
            {
                return self.serve_admin(req, None).await;
            }
            _ => {}
        }
        let body = req.body();
        let body_may_have_data = !body.is_end_stream() && body.size_hint().exact() != Some(0);
        let plan = match body_bounds::check(
            req.method(),
            req.headers(),
            &auth,
            body_may_have_data,
            &self.limits,
        ) {
            Ok(plan) => plan,
            Err(refusal) => return refused(&refusal, is_head),
        };
        let marked = self.cors.as_ref().and_then(|_| preflight::mark(&mut req));
        let resp = match plan {
            BodyPlan::Form => match self
                .forms
                .receive(self.client.map(|c| c.peer), req, &self.svc, &self.region)
                .await
            {
                Ok(resp) => resp,
                Err(refusal) => return refused(&refusal, false),
            },
            BodyPlan::AwsChunked => {
                let req = req.map(|b| s3s::Body::http_body(AwsChunkBound::new(b)));
                self.call_s3s(req, is_head).await
            }
            BodyPlan::AsIs => self.call_s3s(req.map(s3s::Body::http_body), is_head).await,
        };
        let resp = match (marked, &self.cors) {
            (Some(marked), Some(cors)) => marked.apply(cors, resp).await,
            _ => resp,
        };
        self.after_signature_check(resp, is_head).await
    }

    /// An IAM or STS request: to the IAM API, with signature failures counted as for S3.
    async fn serve_admin(
        &self,
        req: Request<RequestBody>,
        auth: Option<AdminAuth>,
    ) -> Response<s3s::Body> {
        let Some(api) = &self.iam else {
            return iam::not_served(req.extensions());
        };
        let resp = api.serve(req, auth, self.client.map(|c| c.peer)).await;
        self.after_signature_check(resp, false).await
    }

    async fn call_s3s(&self, req: Request<s3s::Body>, is_head: bool) -> Response<s3s::Body> {
        match self.svc.call(req).await {
            Ok(resp) => crate::s3::attributes::unquote_etag(resp),
            Err(error) => {
                // s3s could not build any response; answer 500 rather than drop the connection.
                tracing::error!(?error, "s3s failed to produce a response");
                error_response(&Refusal::INTERNAL, is_head)
            }
        }
    }

    /// Counts a signature failure against the client's address; once the address is
    /// throttled, its failures wait a little and become `503 SlowDown`. A valid signature is
    /// never affected: it was verified before this point.
    async fn after_signature_check(
        &self,
        resp: Response<s3s::Body>,
        is_head: bool,
    ) -> Response<s3s::Body> {
        let Some(peer) = self.client.map(|c| c.peer) else {
            return resp;
        };
        if !is_signature_failure(&resp) {
            return resp;
        }
        let now = Instant::now();
        self.throttle.record_failure(peer, now);
        if !self.throttle.is_throttled(peer, now) {
            return resp;
        }
        tracing::debug!("signature failure from a throttled address");
        tokio::time::sleep(THROTTLE_FAILURE_DELAY).await;
        error_response(&Refusal::SLOW_DOWN, is_head)
    }
}

fn refused(refusal: &Refusal, is_head: bool) -> Response<s3s::Body> {
    tracing::debug!(code = refusal.code, "refused before s3s");
    error_response(refusal, is_head)
}

/// Whether s3s refused the request's signature (a wrong secret or an unknown access key,
/// which look the same to the client).
fn is_signature_failure(resp: &Response<s3s::Body>) -> bool {
    let status = resp.status();
    if status != StatusCode::FORBIDDEN && status != StatusCode::BAD_REQUEST {
        return false;
    }
    // Error bodies are small and fully buffered. KMS answers its JSON errors with 400.
    resp.body().bytes().is_some_and(|body| {
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        if status == StatusCode::BAD_REQUEST {
            return has(b"\"InvalidSignatureException\"");
        }
        has(b"<Code>SignatureDoesNotMatch</Code>") || has(b"<Code>InvalidAccessKeyId</Code>")
    })
}
