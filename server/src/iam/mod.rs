//! The AWS IAM query API (users, access keys, inline policies) and STS GetCallerIdentity,
//! on the S3 listener, so `aws iam …`, boto3's `iam` client and Terraform manage Coffer's
//! users unchanged.
//!
//! The guard sends here every request whose SigV4 credential scope names service `iam` or
//! `sts` (and, to answer them in IAM's format, unsigned or presigned requests that look like
//! IAM calls). Then, in order:
//!
//! 1. the body, a small URL-encoded form, is read whole, up to
//!    [`IAM_MAX_BODY`](crate::limits::IAM_MAX_BODY): the signature covers its hash;
//! 2. [`sigv4`] verifies the signature (an unknown or Inactive key fails exactly like a
//!    wrong secret);
//! 3. [`query`] decodes the parameters; `Action` picks the handler in [`actions`], which asks
//!    [`Auth::authorize_admin`] before it touches anything;
//! 4. [`xml`] writes the answer, or an [`error::IamError`], with the request id.
//!
//! Nothing here logs a user name, policy or secret above debug.

mod actions;
mod audit_api;
mod error;
mod query;
mod sigv4;
mod xml;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use coffer_auth::{Auth, GeneratedRoot, Identity, RequestFacts};
use coffer_storage::Store;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;

use self::error::IamError;
use self::query::Params;
pub(crate) use self::sigv4::Failure as SignatureFailure;
use self::sigv4::{Failure, Signed};
pub(crate) use self::xml::iso8601;
use self::xml::{Fields, IAM_NS, STS_NS};
use crate::audit_trail::AuditTrail;
use crate::guard::{AdminAuth, AdminService, HeaderSignature, Refusal, RequestId};
use crate::kms::{self, KmsKeys};
use crate::limits::{BODY_IDLE_TIMEOUT, IAM_MAX_BODY};

/// IAM's API version.
const IAM_VERSION: &str = "2010-05-08";
/// STS's API version.
const STS_VERSION: &str = "2011-06-15";
/// IAM is global: clients sign it for this region unless told otherwise.
const GLOBAL_REGION: &str = "us-east-1";

/// The IAM and STS API. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Iam {
    inner: Arc<Inner>,
}

struct Inner {
    auth: Auth,
    store: Store,
    /// The server's `--region`, accepted in credential scopes beside `us-east-1`.
    region: String,
    /// Whether the listener serves TLS (`aws:SecureTransport`).
    secure: bool,
    /// Verifies signatures made with unknown access keys, so they fail like a wrong
    /// secret at the same cost. Made once, here.
    dummy: GeneratedRoot,
    /// The audit trail `ReadAuditTrail` reads (`None` with `--no-audit`).
    trail: Option<AuditTrail>,
    /// The KMS keys the KMS API administers (`None`: KMS calls are refused).
    kms: Option<KmsKeys>,
}

/// What a request is answered with.
enum Answer {
    /// An IAM or STS action's result, written as its XML response.
    Xml(&'static str, Option<Fields>),
    /// Audit records, streamed.
    Records(Response<s3s::Body>),
}

impl Iam {
    /// The API over `auth`, looking bucket owners up in `store`, reading `trail` for
    /// `ReadAuditTrail` (`None` with auditing off), and administering the KMS keys `kms`
    /// (`None`: KMS calls are refused).
    ///
    /// # Errors
    /// When the OS has no randomness for the dummy secret.
    pub(crate) fn new(
        auth: Auth,
        store: Store,
        region: &str,
        secure: bool,
        trail: Option<AuditTrail>,
        kms: Option<KmsKeys>,
    ) -> Result<Iam, coffer_auth::Error> {
        Ok(Iam {
            inner: Arc::new(Inner {
                auth,
                store,
                region: region.to_owned(),
                secure,
                dummy: GeneratedRoot::generate()?,
                trail,
                kms,
            }),
        })
    }

    /// The user directory and access decision.
    pub(crate) fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// Whether the listener serves TLS (`aws:SecureTransport`).
    pub(crate) fn secure(&self) -> bool {
        self.inner.secure
    }

    /// Answers a request the guard recognised as IAM or STS; `auth` is how it is signed
    /// (`None`: not at all).
    pub(crate) async fn serve<B>(
        &self,
        req: Request<B>,
        auth: Option<AdminAuth>,
        peer: Option<IpAddr>,
    ) -> Response<s3s::Body>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
    {
        let for_kms = match &auth {
            Some(AdminAuth::Header(sig)) => sig.service == AdminService::Kms,
            _ => kms::looks_like_kms(req.headers()),
        };
        if for_kms {
            return kms::serve(self, self.inner.kms.as_ref(), req, auth, peer).await;
        }
        let id = request_id(req.extensions());
        let ns = match &auth {
            Some(AdminAuth::Header(sig)) if sig.service == AdminService::Sts => STS_NS,
            _ => IAM_NS,
        };
        match self.answer(req, auth, peer).await {
            Ok(Answer::Xml(action, fields)) => {
                tracing::debug!(action, "IAM request served");
                xml_response(
                    StatusCode::OK,
                    xml::response(ns, action, fields.as_ref(), &id),
                )
            }
            Ok(Answer::Records(resp)) => resp,
            Err(err) => error_response(ns, &err, &id),
        }
    }

    async fn answer<B>(
        &self,
        req: Request<B>,
        auth: Option<AdminAuth>,
        peer: Option<IpAddr>,
    ) -> Result<Answer, IamError>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
    {
        let sig = match auth {
            Some(AdminAuth::Header(sig)) => sig,
            Some(AdminAuth::Presigned) => {
                return Err(IamError::denied(
                    "Presigned URLs are not accepted for IAM and STS: sign the Authorization header with AWS Signature Version 4.",
                ));
            }
            None => {
                return Err(IamError::denied(
                    "Request is missing Authentication Token: sign IAM and STS requests with AWS Signature Version 4.",
                ));
            }
        };
        let (parts, body) = req.into_parts();
        let body = read_body(&parts.headers, body).await?;
        let caller = self
            .verify_caller(&parts.method, &parts.uri, &parts.headers, &body, &sig)
            .map_err(signature_error)?;
        let audit_caller = coffer_audit::Caller {
            user: caller.name.clone(),
            access_key: sig.scope.access_key.clone(),
        };
        crate::audit_trail::note(&parts.extensions, |n| n.caller = Some(audit_caller));
        let params = Params::parse(&parts.method, &parts.headers, parts.uri.query(), &body)?;
        let facts = RequestFacts {
            source_ip: peer,
            secure_transport: self.inner.secure,
            now: SystemTime::now(),
        };
        let call = actions::Call {
            auth: &self.inner.auth,
            store: &self.inner.store,
            caller: &caller,
            facts: &facts,
            params: &params,
        };
        let requested = params
            .get("Action")
            .ok_or_else(|| invalid_action("No action was given."))?;
        let (version, known) = match sig.service {
            AdminService::Iam => (IAM_VERSION, actions::IAM_ACTIONS),
            AdminService::Sts => (STS_VERSION, STS_ACTIONS),
            AdminService::Audit => (audit_api::VERSION, audit_api::ACTIONS),
            // Sent to the KMS module by `serve`; a Query API call signed for KMS names
            // nothing here.
            AdminService::Kms => ("", &[][..]),
        };
        let action = known
            .iter()
            .copied()
            .find(|a| *a == requested)
            .ok_or_else(|| invalid_action("The action is not valid for this endpoint."))?;
        let service = sig.service.as_str();
        crate::audit_trail::note(&parts.extensions, |n| {
            n.operation = Some(format!("{service}:{action}"));
        });
        if params.get("Version").is_some_and(|v| v != version) {
            return Err(invalid_action(
                "Could not find the operation for the version given.",
            ));
        }
        let outcome = match sig.service {
            AdminService::Audit => {
                return audit_api::read(&call, self.inner.trail.as_ref())
                    .await
                    .map(Answer::Records)
                    .inspect_err(|err| {
                        tracing::debug!(action, code = err.code, "audit request refused");
                    });
            }
            AdminService::Sts => Ok(Some(actions::get_caller_identity(&caller))),
            AdminService::Kms => Err(invalid_action("The action is not valid for this endpoint.")),
            AdminService::Iam => match actions::iam(&call, action).await {
                Some(outcome) => outcome,
                None => Err(invalid_action("The action is not valid for this endpoint.")),
            },
        };
        outcome
            .map(|fields| Answer::Xml(action, fields))
            .inspect_err(|err| tracing::debug!(action, code = err.code, "IAM request refused"))
    }

    /// Verifies the signature of a request to any admin service (IAM, STS, audit, KMS)
    /// and returns who made it. An unknown or Inactive key fails like a wrong secret.
    pub(crate) fn verify_caller(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        sig: &HeaderSignature,
    ) -> Result<Identity, Failure> {
        let auth = &self.inner.auth;
        let secret = auth.secret_for(&sig.scope.access_key);
        let key = secret
            .as_ref()
            .map_or(self.inner.dummy.secret.expose(), |s| s.expose());
        let signed = Signed {
            method,
            uri,
            headers,
            body,
        };
        let regions = [self.inner.region.as_str(), GLOBAL_REGION];
        sigv4::verify(&signed, sig, key, &regions, SystemTime::now())?;
        // The key may have been disabled between the two reads: refuse it the same way.
        secret
            .and_then(|_| auth.identify(&sig.scope.access_key))
            .ok_or(Failure::Mismatch)
    }
}

/// The STS actions served.
const STS_ACTIONS: &[&str] = &["GetCallerIdentity"];

/// Whether an unsigned or presigned request is an IAM or STS call (to answer it in IAM's
/// format): on path `/`, it names an `Action`, is a URL-encoded form POST, or its
/// credential is scoped to `iam` or `sts`. S3 has no operation of that shape.
pub(crate) fn looks_like_admin(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    if uri.path() != "/" {
        return false;
    }
    let names_admin = |s: &str| {
        [
            "/iam/aws4_request",
            "/sts/aws4_request",
            "/audit/aws4_request",
            "/kms/aws4_request",
        ]
        .iter()
        .any(|scope| s.contains(scope) || s.contains(&scope.replace('/', "%2F")))
    };
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(names_admin);
    let query = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")) || names_admin(q));
    let form = method == Method::POST
        && headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.trim_start()
                    .starts_with("application/x-www-form-urlencoded")
            });
    header || query || form || kms::looks_like_kms(headers)
}

/// A guard refusal (a malformed signature, SigV2…) of an IAM-looking request, in IAM's
/// format (KMS's, for a request naming a KMS action).
pub(crate) fn refused(
    refusal: &Refusal,
    headers: &HeaderMap,
    extensions: &http::Extensions,
) -> Response<s3s::Body> {
    if kms::looks_like_kms(headers) {
        return kms::refused(refusal, extensions);
    }
    let err = IamError::new(refusal.status, refusal.code, refusal.message());
    error_response(IAM_NS, &err, &request_id(extensions))
}

/// The answer when the server has no IAM API to offer.
pub(crate) fn not_served(extensions: &http::Extensions) -> Response<s3s::Body> {
    let err = IamError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "The IAM API is not served on this listener.",
    );
    error_response(IAM_NS, &err, &request_id(extensions))
}

fn request_id(extensions: &http::Extensions) -> String {
    extensions
        .get::<RequestId>()
        .map_or_else(String::new, |id| id.0.clone())
}

fn invalid_action(message: &'static str) -> IamError {
    IamError::new(StatusCode::BAD_REQUEST, "InvalidAction", message)
}

fn signature_error(failure: Failure) -> IamError {
    match failure {
        Failure::Incomplete => IamError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            failure.message(),
        ),
        _ => IamError::signature(failure.message()),
    }
}

/// Why a request body was not read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// It is (or was announced) larger than allowed.
    TooLarge,
    /// It failed or stalled before its end.
    Incomplete,
}

/// The whole body of an admin request, at most `limit` bytes, each part arriving within
/// [`BODY_IDLE_TIMEOUT`].
pub(crate) async fn read_whole<B>(
    headers: &HeaderMap,
    mut body: B,
    limit: u64,
) -> Result<Vec<u8>, BodyFailure>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(BodyFailure::TooLarge);
    }
    let mut out = Vec::new();
    loop {
        let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| BodyFailure::Incomplete)?;
        match frame {
            None => return Ok(out),
            Some(Err(_)) => return Err(BodyFailure::Incomplete),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if (out.len() + data.len()) as u64 > limit {
                        return Err(BodyFailure::TooLarge);
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

/// The whole body of an IAM request, at most [`IAM_MAX_BODY`] bytes.
async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Vec<u8>, IamError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    read_whole(headers, body, IAM_MAX_BODY)
        .await
        .map_err(|failure| match failure {
            BodyFailure::TooLarge => IamError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body is larger than IAM requests may be.",
            ),
            BodyFailure::Incomplete => {
                IamError::validation("The request body did not arrive whole.")
            }
        })
}

fn error_response(ns: &str, err: &IamError, id: &str) -> Response<s3s::Body> {
    xml_response(err.status, xml::error(ns, err, id))
}

fn xml_response(status: StatusCode, body: String) -> Response<s3s::Body> {
    let len = body.len();
    let mut resp = Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}
