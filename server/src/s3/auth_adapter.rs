//! coffer-auth wrapped for s3s: [`KeyRing`] (secret lookup for signatures) and [`Strict`] (the
//! access decision for every operation), P1 and P2.
//!
//! Order in s3s (notes §1.6): signature check with [`KeyRing`], then [`Strict::check`]
//! before any body is read, then, once the input is parsed, the per-operation hooks.

use std::time::SystemTime;

use coffer_auth::acl::{AclPermission, AclTarget, UserGrant, decode_grants, object_acl_applies};
use coffer_auth::policy::{ConditionContext, Policy, PolicyKind};
use coffer_auth::{
    AccessRequest, Auth, BYPASS_GOVERNANCE, BucketFacts, Decision, DenyReason, Identity,
    RequestFacts, s3_actions_for, s3_resource,
};
use coffer_storage::{BucketInfo, BucketSetting, Store};
use http::Method;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CopyObjectInput, CopySource, DeleteObjectsInput, ObjectCannedACL, PostObjectInput,
    PutBucketAclInput, PutBucketLoggingInput, PutObjectAclInput, PutObjectInput,
    UploadPartCopyInput,
};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use crate::client::Client;

use super::acl::{check_document, object_grants, refuse_acl_fields, refuse_acl_headers};

/// Secret lookup for signature verification.
pub(crate) struct KeyRing {
    auth: Auth,
    /// Handed out for unknown access keys, so that they fail exactly like a wrong secret,
    /// at the same cost: made once, here, not per request.
    dummy: coffer_auth::GeneratedRoot,
}

impl KeyRing {
    /// Wraps `auth`.
    ///
    /// # Errors
    /// When the OS has no randomness for the dummy secret.
    pub(crate) fn new(auth: Auth) -> Result<KeyRing, coffer_auth::Error> {
        Ok(KeyRing {
            auth,
            dummy: coffer_auth::GeneratedRoot::generate()?,
        })
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if let Some(secret) = self.auth.secret_for(access_key) {
            return Ok(SecretKey::from(secret.expose()));
        }
        // An unknown key must look exactly like a wrong secret, or callers could enumerate
        // access keys: hand s3s a random secret, and the signature simply does not match.
        Ok(SecretKey::from(self.dummy.secret.expose()))
    }
}

/// Why a SigV2 signature is refused (the guard answers header and query forms the same).
pub(crate) const SIGV2_REFUSED: &str =
    "Signature Version 2 is not accepted; sign requests with AWS Signature Version 4";

/// The access hook: signed requests only, nothing public (P2), and every operation decided
/// by coffer-auth ([`Auth::authorize`]) before any body is read or any handler runs.
pub(crate) struct Strict {
    auth: Auth,
    store: Store,
}

impl Strict {
    /// Decides with `auth`, looking buckets and their policies up in `store`.
    pub(crate) fn new(auth: Auth, store: Store) -> Strict {
        Strict { auth, store }
    }

    /// The verified caller.
    ///
    /// Also P1 for what the guard cannot see: a browser form s3s verified with SigV2 (its
    /// `signature` field, HMAC-SHA1 with no date window). s3s leaves the region unset for
    /// every SigV2 signature and sets it for every SigV4 one, so this decides from what s3s
    /// actually verified rather than from a scan of the form. PostObject passes through the
    /// `put_object` hook, which asks this first.
    fn identity<T>(&self, req: &S3Request<T>) -> S3Result<Identity> {
        if req.credentials.is_some() && req.region.is_none() {
            return Err(s3_error!(AccessDenied, "{SIGV2_REFUSED}"));
        }
        self.identify(req.credentials.as_ref())
    }

    /// The identity behind verified `credentials`: an unknown or Inactive key (disabled
    /// after the signature was made, or just now) is refused here.
    fn identify(&self, credentials: Option<&s3s::auth::Credentials>) -> S3Result<Identity> {
        let creds = credentials.ok_or_else(|| s3_error!(AccessDenied, "Signature is required"))?;
        self.auth
            .identify(&creds.access_key)
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))
    }

    /// Asks coffer-auth whether `who` may do `op` on `bucket`/`key`, and holds the client
    /// to the owner it expects the bucket to have, if it says (`x-amz-expected-bucket-owner`
    /// and its copy-source twin): the id to expect is the one ListBuckets and the ACLs
    /// report as `Owner/ID`.
    async fn decide(&self, who: &Identity, op: &str, target: Target<'_>) -> S3Result<()> {
        let stored = match target.bucket {
            // CreateBucket acts on a bucket that is not there yet; if the name is taken, the
            // operation answers BucketAlreadyExists (or …OwnedByYou), as AWS does.
            Some(name) if op != "CreateBucket" => self.bucket_and_policy(name).await?,
            _ => None,
        };
        // Every action the operation needs must be allowed (GetObjectAttributes needs two).
        for action in s3_actions_for(op, target.context.get("s3:VersionId").is_some()) {
            self.decide_action(who, &action, &target, stored.as_ref())
                .await?;
        }
        // A bucket that does not exist is the operation's to report (NoSuchBucket).
        if let (Some(expected), Some(bucket)) = (target.expected_owner, stored.as_ref())
            && expected != bucket.info.owner
        {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        Ok(())
    }

    /// [`Strict::decide`] for one IAM action of the operation.
    async fn decide_action(
        &self,
        who: &Identity,
        action: &str,
        target: &Target<'_>,
        stored: Option<&StoredBucket>,
    ) -> S3Result<()> {
        let resource = s3_resource(target.bucket, target.key);
        let bucket = stored.map(|b| BucketFacts {
            owner: &b.info.owner,
            policy: b.policy.as_ref(),
            acl: &b.acl,
            object_acl: &[],
        });
        let mut request = AccessRequest {
            identity: who,
            action,
            resource: &resource,
            bucket,
            facts: &target.facts,
            context: target.context,
        };
        let mut decision = self.auth.authorize(&request);
        // The object's own ACL may let a non-owner read it or its ACL: read the object's
        // grants only then, once the bucket's rules alone have said no.
        let object_acl;
        if let (Decision::Deny(DenyReason::NotOwner), Some(stored), Some(key), Some(facts)) =
            (decision, stored, target.key, bucket)
            && object_acl_applies(action)
        {
            // The grants of the version the request names, not the key's latest: an ACL
            // belongs to one version (AWS), and older versions may hold anything.
            let version = target
                .context
                .get("s3:VersionId")
                .and_then(<[String]>::first)
                .map(String::as_str);
            object_acl = self.object_grants(&stored.info, key, version).await?;
            request.bucket = Some(BucketFacts {
                object_acl: &object_acl,
                ..facts
            });
            decision = self.auth.authorize(&request);
        }
        if let Decision::Deny(reason) = decision {
            return Err(s3_error!(AccessDenied, "{}", reason.message()));
        }
        Ok(())
    }

    // ---- coffer-storage: the only Store calls in this file. ----
    /// The owner (principal), parsed policy and ACL grants of bucket `name`, read together
    /// in one index transaction; `None` if there is no such bucket (the operation then
    /// answers `NoSuchBucket` itself).
    async fn bucket_and_policy(&self, name: &str) -> S3Result<Option<StoredBucket>> {
        let (info, [policy, acl]) = match self
            .store
            .bucket_with_settings(name, [BucketSetting::Policy, BucketSetting::Acl])
            .await
        {
            Ok(found) => found,
            Err(coffer_storage::Error::NoSuchBucket) => return Ok(None),
            Err(error) => return Err(super::error_map::storage_error(error)),
        };
        // Both were checked when they were put; if one no longer reads, refuse rather
        // than guess.
        let policy = match policy {
            None => None,
            Some(text) => {
                let parsed = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| Policy::parse(t, PolicyKind::Bucket { bucket: name }).ok());
                let Some(policy) = parsed else {
                    tracing::error!("a stored bucket policy no longer parses");
                    return Err(s3_error!(AccessDenied, "Access Denied"));
                };
                Some(policy)
            }
        };
        let Ok(acl) = acl.as_deref().map(decode_grants).transpose() else {
            tracing::error!("a stored bucket ACL no longer decodes");
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let acl = acl.unwrap_or_default();
        Ok(Some(StoredBucket { info, policy, acl }))
    }

    /// The ACL grants of object `key` in `bucket` (of `version` if named, else the
    /// latest); none if there is no such object or version (the caller may not learn
    /// whether it exists, so it is denied like any other).
    async fn object_grants(
        &self,
        bucket: &BucketInfo,
        key: &str,
        version: Option<&str>,
    ) -> S3Result<Vec<UserGrant>> {
        // A name no version could have: no grants.
        let Ok(version) = version.map(coffer_storage::VersionRef::parse).transpose() else {
            return Ok(Vec::new());
        };
        match self.store.head_version(bucket, key, version).await {
            Ok(info) => Ok(object_grants(&info.meta.grants)),
            Err(
                coffer_storage::Error::NoSuchKey
                | coffer_storage::Error::NoSuchVersion
                | coffer_storage::Error::DeleteMarker { .. },
            ) => Ok(Vec::new()),
            Err(error) => Err(super::error_map::storage_error(error)),
        }
    }
}

/// What the decision needs of an existing bucket.
struct StoredBucket {
    /// The bucket (its owner's principal, and what reads its objects).
    info: BucketInfo,
    policy: Option<Policy>,
    /// Its ACL grants to other users.
    acl: Vec<UserGrant>,
}

/// Whether the request asks to bypass GOVERNANCE retention.
fn asks_bypass(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-amz-bypass-governance-retention")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// What one decision is about, beyond who asks and the operation.
#[derive(Clone)]
struct Target<'a> {
    bucket: Option<&'a str>,
    key: Option<&'a str>,
    expected_owner: Option<&'a str>,
    facts: RequestFacts,
    context: &'a ConditionContext,
}

/// The request-wide facts, from the connection the guard saw.
pub(crate) fn facts(extensions: &http::Extensions) -> RequestFacts {
    let client = extensions.get::<Client>();
    RequestFacts {
        source_ip: client.map(|c| c.peer),
        secure_transport: client.is_some_and(|c| c.tls),
        now: SystemTime::now(),
    }
}

/// The S3 condition keys of a request: listing parameters from the query, and the request
/// headers policies test.
fn s3_context(uri: &http::Uri, headers: &http::HeaderMap) -> ConditionContext {
    let mut context = ConditionContext::new();
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        let key = match &*name {
            "prefix" => "s3:prefix",
            "delimiter" => "s3:delimiter",
            "max-keys" => "s3:max-keys",
            "versionId" => "s3:VersionId",
            _ => continue,
        };
        context.insert(key, value.into_owned());
    }
    for header in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-acl",
        "x-amz-content-sha256",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        "x-amz-storage-class",
    ] {
        if let Some(value) = headers.get(header).and_then(|v| v.to_str().ok()) {
            context.insert(&format!("s3:{header}"), value);
        }
    }
    let auth_type = if headers.contains_key(http::header::AUTHORIZATION) {
        "REST-HEADER"
    } else {
        "REST-QUERY-STRING"
    };
    context.insert("s3:authType", auth_type);
    context.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
    context
}

impl Strict {
    /// The access decision of `check` (the audit intent aside).
    async fn check_request(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        // For the audit record, refused or not (guard/audit_record.rs).
        crate::audit_trail::note(cx.extensions_mut(), |n| {
            n.operation = Some(op.to_owned());
            n.bucket.clone_from(&bucket);
            n.key.clone_from(&key);
        });
        let who = self.identify(cx.credentials())?;
        if let Some(creds) = cx.credentials() {
            let caller = coffer_audit::Caller {
                user: who.name.clone(),
                access_key: creds.access_key.clone(),
            };
            crate::audit_trail::note(cx.extensions_mut(), |n| n.caller = Some(caller));
        }
        // P2, header forms (x-amz-acl, x-amz-grant-*) on any operation, before anything is
        // created; the ACL, policy and access-block operations check their bodies themselves
        // (s3/acl.rs, s3/public_access.rs).
        refuse_acl_headers(&self.auth, op, cx.headers(), &who.principal)?;
        if let Some(message) = coffer_auth::refused_operation(op) {
            return Err(s3_error!(AccessDenied, "{message}"));
        }
        // Their keys are in their bodies: decided in the `post_object` and `delete_objects`
        // hooks below, once parsed.
        if matches!(op, "PostObject" | "DeleteObjects") {
            // Signed by a known user: a browser may read the answer (CORS), whichever keys
            // the hooks then refuse.
            super::cors::note_allowed(cx.extensions_mut(), bucket.as_deref());
            return Ok(());
        }
        // Not valid UTF-8 cannot name any owner: it is held to an owner no bucket has.
        let expected_owner = cx
            .headers()
            .get("x-amz-expected-bucket-owner")
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
        let context = s3_context(cx.uri(), cx.headers());
        let facts = facts(cx.extensions_mut());
        let target = Target {
            bucket: bucket.as_deref(),
            key: key.as_deref(),
            expected_owner: expected_owner.as_deref(),
            facts,
            context: &context,
        };
        self.decide(&who, op, target.clone()).await?;
        // Asking to bypass GOVERNANCE retention needs the right to (else the request is
        // refused, rather than silently run without the bypass).
        if matches!(op, "DeleteObject" | "PutObjectRetention") && asks_bypass(cx.headers()) {
            self.decide(&who, BYPASS_GOVERNANCE, target.clone()).await?;
        }
        // Tagging an object as it is written needs the right to tag it too (AWS: PutObject
        // with x-amz-tagging needs s3:PutObjectTagging).
        let tagging_write = matches!(op, "PutObject" | "CopyObject" | "CreateMultipartUpload");
        if tagging_write && cx.headers().contains_key("x-amz-tagging") {
            self.decide(&who, "PutObjectTagging", target).await?;
        }
        // Allowed: the answer may carry the bucket's CORS headers (guard/mod.rs).
        super::cors::note_allowed(cx.extensions_mut(), bucket.as_deref());
        Ok(())
    }
}

#[async_trait::async_trait]
impl S3Access for Strict {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let decided = self.check_request(cx).await;
        // An allowed change queues its intent record now, so the record's fsync overlaps
        // reading and storing the body (the commit waits for it). A form upload's key is
        // known only once its form is read: its intent is queued at the commit.
        let changes = [Method::PUT, Method::POST, Method::DELETE].contains(cx.method());
        if decided.is_ok() && changes && cx.s3_op().name() != "PostObject" {
            crate::audit_trail::announce(cx.extensions_mut()).await;
        }
        decided
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let who = self.identity(req)?;
        let expected = req.input.expected_source_bucket_owner.as_deref();
        self.check_copy_source(&who, req, &req.input.copy_source, expected)
            .await
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let who = self.identity(req)?;
        let expected = req.input.expected_source_bucket_owner.as_deref();
        self.check_copy_source(&who, req, &req.input.copy_source, expected)
            .await
    }

    /// DeleteObjects names its keys in the body: each must be deletable, or nothing is.
    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let who = self.identity(req)?;
        let context = s3_context(&req.uri, &req.headers);
        let expected = req.input.expected_bucket_owner.as_deref();
        let bypass = asks_bypass(&req.headers);
        for object in &req.input.delete.objects {
            // Each key's own version id decides its action (s3:DeleteObjectVersion).
            let mut context = context.clone();
            if let Some(version) = object.version_id.as_deref() {
                context.insert("s3:VersionId", version);
            }
            let target = Target {
                bucket: Some(&req.input.bucket),
                key: Some(&object.key),
                expected_owner: expected,
                facts: facts(&req.extensions),
                context: &context,
            };
            self.decide(&who, "DeleteObject", target.clone()).await?;
            if bypass {
                self.decide(&who, BYPASS_GOVERNANCE, target).await?;
            }
        }
        Ok(())
    }

    /// Also runs for browser form uploads (PostObject), whose `x-amz-acl` and grants come
    /// from form fields rather than headers, so the access check above never saw them.
    async fn put_object(&self, req: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        let who = self.identity(req)?;
        let input = &req.input;
        refuse_acl_fields(
            &self.auth,
            input.acl.as_ref().map(ObjectCannedACL::as_str),
            [
                (
                    AclPermission::FullControl,
                    input.grant_full_control.as_deref(),
                ),
                (AclPermission::Read, input.grant_read.as_deref()),
                (AclPermission::ReadAcp, input.grant_read_acp.as_deref()),
                (AclPermission::WriteAcp, input.grant_write_acp.as_deref()),
            ],
            &who.principal,
        )
    }

    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        // s3s does not substitute the uploaded file's name; storing the literal placeholder
        // would surprise the web app, so say so instead.
        if req.input.key.contains("${filename}") {
            return Err(s3_error!(
                NotImplemented,
                "The ${{filename}} key placeholder of browser form uploads is not supported."
            ));
        }
        // The form's `acl` field never reaches the input: the guard checks it
        // (guard/form_intake.rs); `x-amz-acl` and grants arrive through `put_object` above.
        // Decided with the signer's rights now, like any other request.
        let who = self.identity(req)?;
        let mut context = s3_context(&req.uri, &req.headers);
        context.insert("s3:authType", "POST");
        let target = Target {
            bucket: Some(&req.input.bucket),
            key: Some(&req.input.key),
            expected_owner: None,
            facts: facts(&req.extensions),
            context: &context,
        };
        self.decide(&who, "PostObject", target).await
    }

    /// P2 for the ACL document, once parsed; grants to users are the handler's to judge.
    async fn put_bucket_acl(&self, req: &mut S3Request<PutBucketAclInput>) -> S3Result<()> {
        self.identity(req)?;
        check_document(req.input.access_control_policy.as_ref(), AclTarget::Bucket)
    }

    async fn put_object_acl(&self, req: &mut S3Request<PutObjectAclInput>) -> S3Result<()> {
        self.identity(req)?;
        check_document(req.input.access_control_policy.as_ref(), AclTarget::Object)
    }

    /// Logs are delivered into the target on the caller's word, so the caller must be
    /// allowed to write there itself (`s3:PutObject` under the target prefix), or AWS's
    /// AccessDenied. Whether the target can take logs at all (it exists and has the logged
    /// bucket's owner) is the handler's to answer, with AWS's InvalidTargetBucketForLogging:
    /// the decision runs only for a target that passes that, so a stranger's bucket is
    /// reported as the wrong target, not as a permission the caller lacks.
    async fn put_bucket_logging(&self, req: &mut S3Request<PutBucketLoggingInput>) -> S3Result<()> {
        let who = self.identity(req)?;
        let Some(enabled) = req.input.bucket_logging_status.logging_enabled.as_ref() else {
            return Ok(());
        };
        let (Some(source), Some(target)) = (
            self.bucket_and_policy(&req.input.bucket).await?,
            self.bucket_and_policy(&enabled.target_bucket).await?,
        ) else {
            return Ok(());
        };
        if source.info.owner != target.info.owner {
            return Ok(());
        }
        let context = s3_context(&req.uri, &req.headers);
        let target = Target {
            bucket: Some(&enabled.target_bucket),
            key: Some(&enabled.target_prefix),
            expected_owner: None,
            facts: facts(&req.extensions),
            context: &context,
        };
        self.decide(&who, "PutObject", target).await
    }
}

impl Strict {
    /// The copy source is named in a header, not the path: the caller must be allowed to
    /// read it too (`s3:GetObject` on the source object).
    async fn check_copy_source<T>(
        &self,
        who: &Identity,
        req: &S3Request<T>,
        source: &CopySource,
        expected_owner: Option<&str>,
    ) -> S3Result<()> {
        match source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => {
                let mut context = s3_context(&req.uri, &req.headers);
                match version_id {
                    Some(version) => context.insert("s3:VersionId", version.as_ref()),
                    None => context.remove("s3:VersionId"),
                }
                let target = Target {
                    bucket: Some(bucket),
                    key: Some(key),
                    expected_owner,
                    facts: facts(&req.extensions),
                    context: &context,
                };
                self.decide(who, "GetObject", target).await
            }
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => Err(s3_error!(
                NotImplemented,
                "Access point copy sources are not supported."
            )),
        }
    }
}
