//! coffer-auth wrapped for s3s: [`KeyRing`] (secret lookup for signatures) and [`Strict`] (the
//! access decision for every operation), P1 and P2.
//!
//! Order in s3s (notes §1.6): signature check with [`KeyRing`], then [`Strict::check`]
//! before any body is read, then, once the input is parsed, the per-operation hooks.

use coffer_auth::{Action, Auth, Decision};
use coffer_storage::Store;
use http::HeaderMap;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    AccessControlPolicy, CopyObjectInput, CopySource, PutBucketAclInput, PutObjectAclInput,
    UploadPartCopyInput,
};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

/// Message for every refusal of a public grant or ACL (P2).
const PUBLIC_REFUSED: &str = "public access is disabled in Coffer";

/// Secret lookup for signature verification.
pub(crate) struct KeyRing {
    auth: Auth,
}

impl KeyRing {
    /// Wraps `auth`.
    pub(crate) fn new(auth: Auth) -> KeyRing {
        KeyRing { auth }
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
        let dummy = coffer_auth::GeneratedRoot::generate()
            .map_err(|_| s3_error!(InternalError, "We encountered an internal error."))?;
        Ok(SecretKey::from(dummy.secret.expose()))
    }
}

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
    fn principal<T>(&self, req: &S3Request<T>) -> S3Result<String> {
        let creds = req
            .credentials
            .as_ref()
            .ok_or_else(|| s3_error!(AccessDenied, "Signature is required"))?;
        self.auth
            .principal_of(&creds.access_key)
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))
    }

    /// Asks coffer-auth whether `principal` may do `action` on `bucket` (if any).
    async fn decide(&self, principal: &str, action: Action, bucket: Option<&str>) -> S3Result<()> {
        let owner = match bucket {
            Some(name) => self.bucket_owner(name).await?,
            None => None,
        };
        match self.auth.decide(principal, action, owner.as_deref()) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(s3_error!(AccessDenied, "{}", reason.message())),
        }
    }

    // ---- coffer-storage: the only Store call in this file. ----
    /// The owner (principal) of bucket `name`, `None` if there is no such bucket (the
    /// operation then answers `NoSuchBucket` itself).
    async fn bucket_owner(&self, name: &str) -> S3Result<Option<String>> {
        match self.store.bucket(name).await {
            Ok(info) => Ok(Some(info.owner)),
            Err(coffer_storage::Error::NoSuchBucket) => Ok(None),
            Err(error) => {
                tracing::error!(%error, "bucket lookup failed in the access check");
                Err(s3_error!(
                    InternalError,
                    "We encountered an internal error."
                ))
            }
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Strict {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(creds) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        refuse_public_headers(cx.headers())
            .map_err(|message| s3_error!(AccessDenied, "{message}"))?;
        let op = cx.s3_op().name();
        if let Some(message) = refused_operation(op) {
            return Err(s3_error!(AccessDenied, "{message}"));
        }
        let principal = self
            .auth
            .principal_of(&creds.access_key)
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?;
        let path = cx.s3_path();
        let action = action_for(op, path);
        self.decide(&principal, action, path.get_bucket_name())
            .await
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        self.check_copy_source(&principal, &req.input.copy_source)
            .await
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let principal = self.principal(req)?;
        self.check_copy_source(&principal, &req.input.copy_source)
            .await
    }

    async fn put_bucket_acl(&self, req: &mut S3Request<PutBucketAclInput>) -> S3Result<()> {
        refuse_acl_document(req.input.access_control_policy.as_ref())
    }

    async fn put_object_acl(&self, req: &mut S3Request<PutObjectAclInput>) -> S3Result<()> {
        refuse_acl_document(req.input.access_control_policy.as_ref())
    }
}

impl Strict {
    /// The copy source is named in a header, not the path: the caller must be allowed to
    /// read it too.
    async fn check_copy_source(&self, principal: &str, source: &CopySource) -> S3Result<()> {
        match source {
            CopySource::Bucket { bucket, .. } => {
                self.decide(principal, Action::ReadObject, Some(bucket))
                    .await
            }
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => Err(s3_error!(
                NotImplemented,
                "Access point copy sources are not supported."
            )),
        }
    }
}

/// P2: refuses any `x-amz-grant-*` header and any canned ACL other than `private` and
/// `bucket-owner-full-control`.
pub(crate) fn refuse_public_headers(headers: &HeaderMap) -> Result<(), &'static str> {
    for (name, value) in headers {
        let name = name.as_str(); // lower-case already
        if name.starts_with("x-amz-grant-") {
            return Err(PUBLIC_REFUSED);
        }
        if name == "x-amz-acl" {
            let acl = value.to_str().map_or("", str::trim);
            if !matches!(acl, "private" | "bucket-owner-full-control") {
                return Err(PUBLIC_REFUSED);
            }
        }
    }
    Ok(())
}

/// Operations refused outright, whatever their input: they exist to open buckets up.
fn refused_operation(op: &str) -> Option<&'static str> {
    match op {
        "PutBucketPolicy"
        | "PutPublicAccessBlock"
        | "DeletePublicAccessBlock"
        | "PutBucketWebsite" => Some(PUBLIC_REFUSED),
        _ => None,
    }
}

/// An ACL document may only name canonical users (no `AllUsers` / `AuthenticatedUsers` groups,
/// no e-mail grantees).
fn refuse_acl_document(policy: Option<&AccessControlPolicy>) -> S3Result<()> {
    let grants = policy.and_then(|p| p.grants.as_deref()).unwrap_or_default();
    let public = grants.iter().any(|grant| {
        grant.grantee.as_ref().is_some_and(|g| {
            g.uri.is_some() || g.email_address.is_some() || g.type_.as_str() != "CanonicalUser"
        })
    });
    if public {
        Err(s3_error!(AccessDenied, "{PUBLIC_REFUSED}"))
    } else {
        Ok(())
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
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn p2_public_acls_and_grants_are_refused() {
        for acl in [
            "public-read",
            "public-read-write",
            "authenticated-read",
            "aws-exec-read",
            "",
        ] {
            let mut map = HeaderMap::new();
            map.insert("x-amz-acl", HeaderValue::from_str(acl).unwrap());
            assert_eq!(refuse_public_headers(&map), Err(PUBLIC_REFUSED), "{acl}");
        }
        assert_eq!(
            refuse_public_headers(&headers(&[(
                "x-amz-grant-read",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""
            )])),
            Err(PUBLIC_REFUSED)
        );
        assert_eq!(
            refuse_public_headers(&headers(&[("x-amz-grant-full-control", "id=\"x\"")])),
            Err(PUBLIC_REFUSED)
        );
        // One private and one public value: still refused.
        assert_eq!(
            refuse_public_headers(&headers(&[
                ("x-amz-acl", "private"),
                ("x-amz-acl", "public-read")
            ])),
            Err(PUBLIC_REFUSED)
        );
    }

    #[test]
    fn private_acls_pass() {
        assert_eq!(
            refuse_public_headers(&headers(&[("x-amz-acl", "private")])),
            Ok(())
        );
        assert_eq!(
            refuse_public_headers(&headers(&[("x-amz-acl", "bucket-owner-full-control")])),
            Ok(())
        );
        assert_eq!(
            refuse_public_headers(&headers(&[("content-type", "text/plain")])),
            Ok(())
        );
    }

    #[test]
    fn p2_public_opening_operations_are_refused() {
        assert!(refused_operation("PutBucketPolicy").is_some());
        assert!(refused_operation("PutPublicAccessBlock").is_some());
        assert!(refused_operation("GetObject").is_none());
    }

    #[test]
    fn p2_group_grants_in_acl_documents_are_refused() {
        use s3s::dto::{Grant, Grantee, Type};
        let doc = |grantee: Grantee| AccessControlPolicy {
            grants: Some(vec![Grant {
                grantee: Some(grantee),
                permission: None,
            }]),
            owner: None,
        };
        let group = Grantee {
            display_name: None,
            email_address: None,
            id: None,
            type_: Type::from_static(Type::GROUP),
            uri: Some("http://acs.amazonaws.com/groups/global/AllUsers".to_owned()),
        };
        assert!(refuse_acl_document(Some(&doc(group))).is_err());
        let owner = Grantee {
            display_name: None,
            email_address: None,
            id: Some("root".to_owned()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        };
        assert!(refuse_acl_document(Some(&doc(owner))).is_ok());
        assert!(refuse_acl_document(None).is_ok());
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
