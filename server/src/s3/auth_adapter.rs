//! coffer-auth wrapped for s3s: [`KeyRing`] (secret lookup for signatures) and [`Strict`] (the
//! access decision for every operation), P1 and P2.
//!
//! Order in s3s (notes §1.6): signature check with [`KeyRing`], then [`Strict::check`]
//! before any body is read, then, once the input is parsed, the per-operation hooks.

use coffer_auth::{Action, Auth, Decision};
use coffer_storage::Store;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CopyObjectInput, CopySource, ObjectCannedACL, PostObjectInput, PutBucketAclInput,
    PutObjectAclInput, PutObjectInput, UploadPartCopyInput,
};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use super::acl::{PUBLIC_REFUSED, check_document, refuse_acl_fields, refuse_acl_headers};

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

/// The access policy: signed requests only, nothing public, the bucket's owner only.
pub(crate) struct Strict {
    auth: Auth,
    store: Store,
}

impl Strict {
    /// Decides with `auth`, looking bucket owners up in `store`.
    pub(crate) fn new(auth: Auth, store: Store) -> Strict {
        Strict { auth, store }
    }

    /// The verified caller's principal.
    ///
    /// Also P1 for what the guard cannot see: a browser form s3s verified with SigV2 (its
    /// `signature` field, HMAC-SHA1 with no date window). s3s leaves the region unset for
    /// every SigV2 signature and sets it for every SigV4 one, so this decides from what s3s
    /// actually verified rather than from a scan of the form. PostObject passes through the
    /// `put_object` hook, which asks this first.
    fn principal<T>(&self, req: &S3Request<T>) -> S3Result<String> {
        let creds = req
            .credentials
            .as_ref()
            .ok_or_else(|| s3_error!(AccessDenied, "Signature is required"))?;
        if req.region.is_none() {
            return Err(s3_error!(AccessDenied, "{SIGV2_REFUSED}"));
        }
        self.auth
            .principal_of(&creds.access_key)
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))
    }

    /// Asks coffer-auth whether `principal` may do `action` on `bucket` (if any), and
    /// holds the client to the owner it expects the bucket to have, if it says
    /// (`x-amz-expected-bucket-owner` and its copy-source twin): the id to expect is the
    /// one ListBuckets and the ACLs report as `Owner/ID`.
    async fn decide(
        &self,
        principal: &str,
        action: Action,
        bucket: Option<&str>,
        expected_owner: Option<&str>,
    ) -> S3Result<()> {
        let owner = match bucket {
            Some(name) => self.bucket_owner(name).await?,
            None => None,
        };
        if let Decision::Deny(reason) = self.auth.decide(principal, action, owner.as_deref()) {
            return Err(s3_error!(AccessDenied, "{}", reason.message()));
        }
        // A bucket that does not exist is the operation's to report (NoSuchBucket).
        if let (Some(expected), Some(owner)) = (expected_owner, owner.as_deref())
            && expected != owner
        {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        Ok(())
    }

    // ---- coffer-storage: the only Store call in this file. ----
    /// The owner (principal) of bucket `name`, `None` if there is no such bucket (the
    /// operation then answers `NoSuchBucket` itself).
    async fn bucket_owner(&self, name: &str) -> S3Result<Option<String>> {
        match self.store.bucket(name).await {
            Ok(info) => Ok(Some(info.owner)),
            Err(coffer_storage::Error::NoSuchBucket) => Ok(None),
            Err(error) => Err(super::error_map::storage_error(error)),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Strict {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(creds) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let principal = self
            .auth
            .principal_of(&creds.access_key)
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?;
        // P2, header forms (x-amz-acl, x-amz-grant-*) on any operation, before anything is
        // created; the ACL, policy and access-block operations check their bodies themselves
        // (s3/acl.rs, s3/public_access.rs).
        refuse_acl_headers(cx.headers(), &principal)?;
        let op = cx.s3_op().name();
        if let Some(message) = refused_operation(op) {
            return Err(s3_error!(AccessDenied, "{message}"));
        }
        // Not valid UTF-8 cannot name any owner: it is held to an owner no bucket has.
        let expected_owner = cx
            .headers()
            .get("x-amz-expected-bucket-owner")
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
        let path = cx.s3_path();
        let action = action_for(op, path);
        self.decide(
            &principal,
            action,
            path.get_bucket_name(),
            expected_owner.as_deref(),
        )
        .await
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        let expected = req.input.expected_source_bucket_owner.as_deref();
        self.check_copy_source(&principal, &req.input.copy_source, expected)
            .await
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        let expected = req.input.expected_source_bucket_owner.as_deref();
        self.check_copy_source(&principal, &req.input.copy_source, expected)
            .await
    }

    /// Also runs for browser form uploads (PostObject), whose `x-amz-acl` and grants come
    /// from form fields rather than headers, so the access check above never saw them.
    async fn put_object(&self, req: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        let input = &req.input;
        refuse_acl_fields(
            input.acl.as_ref().map(ObjectCannedACL::as_str),
            [
                input.grant_full_control.as_deref(),
                input.grant_read.as_deref(),
                input.grant_read_acp.as_deref(),
                input.grant_write_acp.as_deref(),
            ],
            &principal,
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
        // (guard/form_intake.rs); `x-amz-acl` and grants arrive here through `put_object` above.
        Ok(())
    }

    async fn put_bucket_acl(&self, req: &mut S3Request<PutBucketAclInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        check_document(req.input.access_control_policy.as_ref(), &principal)
    }

    async fn put_object_acl(&self, req: &mut S3Request<PutObjectAclInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        check_document(req.input.access_control_policy.as_ref(), &principal)
    }
}

impl Strict {
    /// The copy source is named in a header, not the path: the caller must be allowed to
    /// read it too.
    async fn check_copy_source(
        &self,
        principal: &str,
        source: &CopySource,
        expected_owner: Option<&str>,
    ) -> S3Result<()> {
        match source {
            CopySource::Bucket { bucket, .. } => {
                self.decide(principal, Action::ReadObject, Some(bucket), expected_owner)
                    .await
            }
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => Err(s3_error!(
                NotImplemented,
                "Access point copy sources are not supported."
            )),
        }
    }
}

/// Operations refused outright, whatever their input: they exist to open buckets up.
/// (PutBucketPolicy, PutPublicAccessBlock and the ACL puts have private forms, so they are
/// judged on their input in s3/public_access.rs and s3/acl.rs.)
fn refused_operation(op: &str) -> Option<&'static str> {
    match op {
        "PutBucketWebsite" | "DeleteBucketOwnershipControls" | "PutBucketOwnershipControls" => {
            Some(PUBLIC_REFUSED)
        }
        _ => None,
    }
}

/// The coffer-auth action of an s3s operation (by its name, e.g. `PutObject`).
pub(crate) fn action_for(op: &str, path: &S3Path) -> Action {
    let object = matches!(path, S3Path::Object { .. });
    let reads = ["Get", "Head", "List"].iter().any(|p| op.starts_with(p));
    match op {
        "ListBuckets" => Action::ListBuckets,
        "CreateBucket" => Action::CreateBucket,
        "DeleteBucket" => Action::DeleteBucket,
        "DeleteObjects" | "DeleteObject" | "AbortMultipartUpload" => Action::DeleteObject,
        "PostObject" => Action::WriteObject,
        _ if object && reads => Action::ReadObject,
        _ if object && op.starts_with("Delete") => Action::DeleteObject,
        _ if object => Action::WriteObject,
        _ if reads => Action::ReadBucket,
        _ => Action::ConfigureBucket,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2_public_opening_operations_are_refused() {
        assert!(refused_operation("PutBucketWebsite").is_some());
        assert!(refused_operation("PutPublicAccessBlock").is_none());
        assert!(refused_operation("GetObject").is_none());
    }

    #[test]
    fn actions() {
        let object = S3Path::Object {
            bucket: "b".into(),
            key: "k".into(),
        };
        let bucket = S3Path::Bucket { bucket: "b".into() };
        assert_eq!(
            action_for("ListBuckets", &S3Path::Root),
            Action::ListBuckets
        );
        assert_eq!(action_for("CreateBucket", &bucket), Action::CreateBucket);
        assert_eq!(action_for("DeleteBucket", &bucket), Action::DeleteBucket);
        assert_eq!(action_for("ListObjectsV2", &bucket), Action::ReadBucket);
        assert_eq!(action_for("HeadBucket", &bucket), Action::ReadBucket);
        assert_eq!(
            action_for("PutBucketTagging", &bucket),
            Action::ConfigureBucket
        );
        assert_eq!(action_for("DeleteObjects", &bucket), Action::DeleteObject);
        assert_eq!(action_for("GetObject", &object), Action::ReadObject);
        assert_eq!(action_for("HeadObject", &object), Action::ReadObject);
        assert_eq!(action_for("ListParts", &object), Action::ReadObject);
        assert_eq!(action_for("PutObject", &object), Action::WriteObject);
        assert_eq!(action_for("CopyObject", &object), Action::WriteObject);
        assert_eq!(
            action_for("CompleteMultipartUpload", &object),
            Action::WriteObject
        );
        assert_eq!(action_for("DeleteObject", &object), Action::DeleteObject);
        assert_eq!(
            action_for("AbortMultipartUpload", &object),
            Action::DeleteObject
        );
        assert_eq!(
            action_for("DeleteObjectTagging", &object),
            Action::DeleteObject
        );
    }
}
