//! Which keys an object is sealed under, decided once for every path that writes or reads
//! chunks (PutObject and form uploads, CopyObject, multipart, GetObject):
//!
//! - a write's keys come from its SSE headers — SSE-C (`sse_c.rs`), `aws:kms` with an
//!   optional key and encryption context (`sse_kms.rs`), `AES256` — or, with none, from its
//!   bucket's default encryption (`encryption.rs`);
//! - an existing object's keys come from its record: its customer key must come with the
//!   request; its KMS key is looked up by the id the record keeps, and refused while
//!   disabled, pending deletion or gone;
//! - a KMS key is used only if the caller's identity policies allow `kms:GenerateDataKey`
//!   (writes) or `kms:Decrypt` (reads) on it, as AWS asks of S3 callers; root always may;
//! - [`Echo`] is what responses say about it, for every output type.

use coffer_auth::{Decision, Identity, RequestFacts};
use coffer_storage::{BucketInfo, BucketSetting, Encryption, ExternalKey, KmsKey, ObjectInfo};
use s3s::dto::ServerSideEncryption;
use s3s::{S3Request, S3Result, s3_error};

use super::Coffer;
use super::encryption::DefaultEncryption;
use super::error_map::storage_error;
use super::lifecycle::{self, Lifecycle};
use super::sse_c::{self, SseC};
use super::sse_kms;
use crate::client::Client;
use crate::kms::{key_id_bytes, key_id_text};

/// A write's SSE headers.
pub(crate) struct WriteHeaders<'a> {
    pub(crate) sse: Option<&'a ServerSideEncryption>,
    pub(crate) kms_key_id: Option<&'a str>,
    pub(crate) context: Option<&'a str>,
    pub(crate) bucket_key: Option<bool>,
    pub(crate) customer: sse_c::Headers<'a>,
}

/// The [`WriteHeaders`] of an s3s input with the usual fields.
macro_rules! write_headers_of {
    ($input:expr) => {
        $crate::s3::sealing::WriteHeaders {
            sse: $input.server_side_encryption.as_ref(),
            kms_key_id: $input.ssekms_key_id.as_deref(),
            context: $input.ssekms_encryption_context.as_deref(),
            bucket_key: $input.bucket_key_enabled,
            customer: $crate::s3::sse_c::headers_of!($input),
        }
    };
}
pub(crate) use write_headers_of;

/// Who asks, for a KMS key's permission.
pub(crate) struct Caller {
    identity: Option<Identity>,
    facts: RequestFacts,
    client: Option<Client>,
}

impl Caller {
    /// The verified caller of `req` and where it connects from.
    pub(crate) fn of<T>(coffer: &Coffer, req: &S3Request<T>) -> Caller {
        Caller {
            identity: req
                .credentials
                .as_ref()
                .and_then(|c| coffer.auth.identify(&c.access_key)),
            facts: super::auth_adapter::facts(&req.extensions),
            client: req.extensions.get::<Client>().copied(),
        }
    }

    /// The connection, for SSE-C's HTTPS rule.
    pub(crate) fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    fn allow(&self, coffer: &Coffer, action: KmsUse, arn: &str) -> S3Result<()> {
        let action = action.as_str();
        let decision = self.identity.as_ref().map_or(
            Decision::Deny(coffer_auth::DenyReason::UnknownPrincipal),
            |who| coffer.auth.authorize_admin(who, action, arn, &self.facts),
        );
        match decision {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(s3_error!(
                AccessDenied,
                "{} (the object's KMS key needs {action} on {arn})",
                reason.message()
            )),
        }
    }
}

/// What a KMS key is used for.
#[derive(Clone, Copy)]
pub(crate) enum KmsUse {
    /// Sealing new chunks under it (AWS: `kms:GenerateDataKey`).
    Seal,
    /// Opening chunks sealed under it (AWS: `kms:Decrypt`).
    Open,
}

impl KmsUse {
    fn as_str(self) -> &'static str {
        match self {
            KmsUse::Seal => "kms:GenerateDataKey",
            KmsUse::Open => "kms:Decrypt",
        }
    }
}

/// What a response says about an object's encryption.
#[derive(Default)]
pub(crate) struct Echo {
    pub(crate) sse: Option<ServerSideEncryption>,
    pub(crate) customer_algorithm: Option<String>,
    pub(crate) customer_key_md5: Option<String>,
    /// The KMS key's ARN.
    pub(crate) kms_key_id: Option<String>,
    pub(crate) bucket_key_enabled: Option<bool>,
    /// The encryption context as the write gave it (write responses only).
    pub(crate) context: Option<String>,
}

/// The keys a write or read goes under, and what its response says about them.
pub(crate) struct Sealing {
    pub(crate) key: Option<ExternalKey>,
    pub(crate) echo: Echo,
}

/// The bucket a write names, with its default encryption and its lifecycle rules (for the
/// response's `x-amz-expiration`), read together.
///
/// # Errors
/// `ServiceUnavailable` on a server that may not write now (a standby); `NoSuchBucket`;
/// `InternalError` for a stored default that does not decode (lifecycle rules that do not
/// decode are logged and read as none).
pub(crate) async fn bucket_for_write(
    coffer: &Coffer,
    name: &str,
) -> S3Result<(BucketInfo, DefaultEncryption, Option<Lifecycle>)> {
    // A standby (or a fenced primary) refuses before it reads a byte of the body.
    coffer.store.check_writable().map_err(storage_error)?;
    let (bucket, [encryption, rules]) = coffer
        .store
        .bucket_with_settings(name, [BucketSetting::Encryption, BucketSetting::Lifecycle])
        .await
        .map_err(storage_error)?;
    Ok((
        bucket,
        DefaultEncryption::from_stored(encryption.as_deref())?,
        lifecycle::decode_stored(rules.as_deref()),
    ))
}

/// The keys a new object (or upload) goes under: as its headers ask, else as its bucket's
/// `default` says.
///
/// # Errors
/// `InvalidArgument` / `InvalidRequest` for headers AWS refuses (SSE-C's checks, KMS
/// headers without `aws:kms`, a malformed context), `NotImplemented` for `aws:kms:dsse`,
/// `KMS.*` errors for a key that cannot be used, `AccessDenied` without
/// `kms:GenerateDataKey` on it.
pub(crate) async fn for_write(
    coffer: &Coffer,
    default: &DefaultEncryption,
    asked: &WriteHeaders<'_>,
    caller: &Caller,
) -> S3Result<Sealing> {
    let customer = sse_c::parse_write(&asked.customer, asked.sse, caller.client())?;
    let kms_asked = match asked.sse.map(ServerSideEncryption::as_str) {
        None | Some(ServerSideEncryption::AES256) => false,
        Some(ServerSideEncryption::AWS_KMS) => true,
        Some("aws:kms:dsse") => {
            return Err(s3_error!(
                NotImplemented,
                "Dual-layer SSE-KMS (aws:kms:dsse) is not supported: use aws:kms."
            ));
        }
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "The encryption method specified is not supported"
            ));
        }
    };
    if !kms_asked && (asked.kms_key_id.is_some() || asked.context.is_some()) {
        return Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
        ));
    }
    if let Some(customer) = customer {
        return Ok(customer_sealing(customer));
    }
    let (key, bucket_key) = match (kms_asked, asked.sse.is_some(), default) {
        (true, _, _) => (asked.kms_key_id, asked.bucket_key.unwrap_or(false)),
        (
            false,
            false,
            DefaultEncryption::Kms {
                key,
                bucket_key_enabled,
            },
        ) => (key.as_deref(), *bucket_key_enabled),
        _ => {
            return Ok(Sealing {
                key: None,
                echo: coffer_echo(),
            });
        }
    };
    let context = sse_kms::context(asked.context)?;
    let kms = &coffer.kms;
    let now = crate::kms::ms_since_epoch(caller.facts.now);
    let usable = match key {
        Some(key) => kms.usable(key).await,
        None => kms.s3_default(now).await,
    }
    .map_err(|e| sse_kms::key_error(e, None))?;
    let arn = kms.key_arn(&usable.id);
    caller.allow(coffer, KmsUse::Seal, &arn)?;
    let id = key_id_bytes(&usable.id).map_err(|e| sse_kms::key_error(e, Some(&arn)))?;
    Ok(Sealing {
        key: Some(ExternalKey::Kms(KmsKey::new(
            id,
            usable.material,
            context.digest,
            bucket_key,
        ))),
        echo: Echo {
            context: context.header,
            ..kms_echo(&arn, bucket_key)
        },
    })
}

/// The keys that open (or add parts to) what was stored as `encryption`: the request's
/// customer key, or the object's KMS key for `usage`.
///
/// # Errors
/// `KMS.*` errors for a KMS key that cannot be used now, `AccessDenied` without the
/// permission `usage` needs. Whether a customer key is the right one is storage's check.
pub(crate) async fn for_stored(
    coffer: &Coffer,
    encryption: Encryption,
    customer: Option<SseC>,
    caller: &Caller,
    usage: KmsUse,
) -> S3Result<Sealing> {
    if let Some(customer) = customer {
        return Ok(customer_sealing(customer));
    }
    let Encryption::Kms {
        key_id,
        context,
        bucket_key,
    } = encryption
    else {
        return Ok(Sealing {
            key: None,
            echo: echo_of(coffer, encryption, None),
        });
    };
    let kms = &coffer.kms;
    let id = key_id_text(key_id);
    let arn = kms.key_arn(&id);
    caller.allow(coffer, usage, &arn)?;
    let usable = kms
        .usable(&id)
        .await
        .map_err(|e| sse_kms::key_error(e, Some(&arn)))?;
    Ok(Sealing {
        key: Some(ExternalKey::Kms(KmsKey::new(
            key_id,
            usable.material,
            context,
            bucket_key,
        ))),
        echo: kms_echo(&arn, bucket_key),
    })
}

/// Checks what a request that opens no chunk (HEAD) must bring: an SSE-C object's
/// customer key, and no customer key for any other object. A KMS key is not needed to
/// describe an object, as in AWS.
///
/// # Errors
/// As storage's `check_object_key`.
pub(crate) async fn check_customer(
    coffer: &Coffer,
    obj: &ObjectInfo,
    customer: Option<&SseC>,
) -> S3Result<()> {
    if customer.is_none() && obj.encryption.kms_key_id().is_some() {
        return Ok(());
    }
    coffer
        .store
        .check_object_key(obj, sse_c::key_of(customer))
        .await
        .map_err(storage_error)
}

/// What a response says about an object stored as `encryption` (with the request's
/// `customer` key, echoed).
pub(crate) fn echo_of(coffer: &Coffer, encryption: Encryption, customer: Option<&SseC>) -> Echo {
    match (encryption, customer) {
        (_, Some(customer)) => customer_echo(customer),
        (
            Encryption::Kms {
                key_id, bucket_key, ..
            },
            None,
        ) => kms_echo(&coffer.kms.key_arn(&key_id_text(key_id)), bucket_key),
        // An SSE-C object read without its key is refused before a response is made.
        (Encryption::Customer { .. }, None) => Echo::default(),
        (Encryption::Coffer, None) => coffer_echo(),
    }
}

fn customer_sealing(customer: SseC) -> Sealing {
    let echo = customer_echo(&customer);
    Sealing {
        key: Some(customer.key),
        echo,
    }
}

/// SSE-C: only the customer headers (AWS sends no `x-amz-server-side-encryption` then).
fn customer_echo(customer: &SseC) -> Echo {
    Echo {
        customer_algorithm: Some(SseC::algorithm()),
        customer_key_md5: Some(customer.key_md5.clone()),
        ..Echo::default()
    }
}

/// Coffer's own keys, which S3 calls SSE-S3.
fn coffer_echo() -> Echo {
    Echo {
        sse: Some(ServerSideEncryption::from_static(
            ServerSideEncryption::AES256,
        )),
        ..Echo::default()
    }
}

fn kms_echo(arn: &str, bucket_key: bool) -> Echo {
    Echo {
        sse: Some(ServerSideEncryption::from_static(
            ServerSideEncryption::AWS_KMS,
        )),
        kms_key_id: Some(arn.to_owned()),
        bucket_key_enabled: bucket_key.then_some(true),
        ..Echo::default()
    }
}

/// Sets an s3s output's encryption fields from an [`Echo`] (`context` too where the output
/// has it: writes).
macro_rules! echo_into {
    ($out:expr, $echo:expr) => {{
        let echo = $echo;
        $out.server_side_encryption = echo.sse;
        $out.sse_customer_algorithm = echo.customer_algorithm;
        $out.sse_customer_key_md5 = echo.customer_key_md5;
        $out.ssekms_key_id = echo.kms_key_id;
        $out.bucket_key_enabled = echo.bucket_key_enabled;
    }};
    ($out:expr, $echo:expr, with_context) => {{
        let echo = $echo;
        $out.ssekms_encryption_context = echo.context.clone();
        $crate::s3::sealing::echo_into!($out, echo);
    }};
}
pub(crate) use echo_into;
