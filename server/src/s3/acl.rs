//! ACLs on the wire: s3s's ACL inputs and outputs translated to and from coffer-auth's
//! [`coffer_auth::acl`] types, which hold the rules (P2, and which grants are kept).
//!
//! A bucket's owner always has `FULL_CONTROL`. PutBucketAcl may also grant READ, WRITE,
//! READ_ACP, WRITE_ACP or FULL_CONTROL to other Coffer users, named by their principal id
//! (the `CanonicalUser` id ListBuckets reports); those grants are kept as the bucket's
//! [`BucketSetting::Acl`] and let the user in (coffer-auth's `authorize`). The `private`
//! canned ACL removes them.
//!
//! Objects belong to the bucket owner. An object's ACL may grant READ, READ_ACP, WRITE_ACP
//! or FULL_CONTROL to other users — through PutObjectAcl, or the `x-amz-acl` and
//! `x-amz-grant-*` fields of PutObject, CopyObject, CreateMultipartUpload and form
//! uploads; those grants are kept with the object (storage's [`ObjectGrant`]s, dropped
//! when the object is overwritten or deleted, as AWS resets an object's ACL) and let the
//! user reach that object alone.
//!
//! Public canned ACLs and grants to the AllUsers / AuthenticatedUsers groups are refused
//! with `AccessDenied` and [`PUBLIC_REFUSED`], in the header forms (`x-amz-acl`,
//! `x-amz-grant-*`) on every operation too: [`refuse_acl_headers`] runs in the access
//! check, before anything is created.

use super::Coffer;
use super::bucket_access::{owner, resolve_bucket};
use super::error_map::{internal, storage_error};
use super::versioning::{read_error, version_ref};
use coffer_auth::Auth;
use coffer_auth::acl::{
    AclGrant, AclGrantee, AclPermission, AclRefusal, AclTarget, UserGrant, decode_grants,
    encode_grants, parse_grant_header, refuse_public,
};
use coffer_storage::{BucketSetting, ObjectGrant, ObjectPermission};
use http::HeaderMap;
use s3s::dto::{
    AccessControlPolicy, GetBucketAclInput, GetBucketAclOutput, GetObjectAclInput,
    GetObjectAclOutput, Grant, Grantee, Permission, PutBucketAclInput, PutBucketAclOutput,
    PutObjectAclInput, PutObjectAclOutput, Type,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

pub(crate) use coffer_auth::acl::PUBLIC_REFUSED;

/// The S3 error for a refused ACL.
fn refusal(refused: AclRefusal) -> S3Error {
    let message = refused.message();
    match refused {
        AclRefusal::UnknownUser | AclRefusal::Malformed | AclRefusal::WriteOnObject => {
            s3_error!(InvalidArgument, "{message}")
        }
        AclRefusal::NotHere(_) => s3_error!(NotImplemented, "{message}"),
        // Public, unsupported, and whatever coffer-auth refuses later: fail closed.
        _ => s3_error!(AccessDenied, "{message}"),
    }
}

/// One grant in s3s's terms, naming `principal`.
fn user_grant(auth: &Auth, principal: &str, permission: AclPermission) -> Grant {
    Grant {
        grantee: Some(Grantee {
            display_name: Some(auth.display_name(principal)),
            email_address: None,
            id: Some(principal.to_owned()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from(permission.as_str().to_owned())),
    }
}

/// The owner's `FULL_CONTROL`, then `kept`.
fn report(auth: &Auth, owner: &str, kept: &[UserGrant]) -> Vec<Grant> {
    std::iter::once(user_grant(auth, owner, AclPermission::FullControl))
        .chain(
            kept.iter()
                .map(|g| user_grant(auth, &g.principal, g.permission)),
        )
        .collect()
}

/// The grants of an ACL document. A grantee with a URI is a group and one with an e-mail
/// address an e-mail grantee, whatever its `Type` says, so neither can pass as a user.
fn document_grants(policy: Option<&AccessControlPolicy>) -> Result<Vec<AclGrant>, AclRefusal> {
    let grants = policy.and_then(|p| p.grants.as_deref()).unwrap_or_default();
    grants
        .iter()
        .map(|grant| {
            let grantee = grant.grantee.as_ref().ok_or(AclRefusal::Malformed)?;
            let grantee = match (&grantee.uri, &grantee.email_address, &grantee.id) {
                (Some(uri), _, _) => AclGrantee::Group(uri.clone()),
                (None, Some(email), _) => AclGrantee::Email(email.clone()),
                _ if grantee.type_.as_str() != Type::CANONICAL_USER => {
                    AclGrantee::Group(String::new())
                }
                (None, None, Some(id)) => AclGrantee::CanonicalUser(id.clone()),
                (None, None, None) => return Err(AclRefusal::Malformed),
            };
            let permission = grant
                .permission
                .as_ref()
                .and_then(|p| AclPermission::parse(p.as_str()))
                .ok_or(AclRefusal::Malformed)?;
            Ok(AclGrant {
                grantee,
                permission,
            })
        })
        .collect()
}

/// The grants of `x-amz-grant-*` values, each with the permission its header grants.
fn header_grants<'a>(
    values: impl IntoIterator<Item = (AclPermission, Option<&'a str>)>,
) -> Result<Vec<AclGrant>, AclRefusal> {
    let mut grants = Vec::new();
    for (permission, value) in values {
        if let Some(value) = value {
            grants.extend(parse_grant_header(value, permission)?);
        }
    }
    Ok(grants)
}

/// Kept object grants in storage's terms.
fn to_stored(kept: Vec<UserGrant>) -> Result<Vec<ObjectGrant>, AclRefusal> {
    kept.into_iter()
        .map(|g| {
            let permission = match g.permission {
                AclPermission::Read => ObjectPermission::Read,
                AclPermission::ReadAcp => ObjectPermission::ReadAcp,
                AclPermission::WriteAcp => ObjectPermission::WriteAcp,
                AclPermission::FullControl => ObjectPermission::FullControl,
                // coffer-auth refuses it on objects already; refuse again rather than widen.
                AclPermission::Write => return Err(AclRefusal::WriteOnObject),
            };
            Ok(ObjectGrant {
                grantee: g.principal,
                permission,
            })
        })
        .collect()
}

/// An object's stored grants in coffer-auth's terms (for the decision and GetObjectAcl).
pub(crate) fn object_grants(stored: &[ObjectGrant]) -> Vec<UserGrant> {
    stored
        .iter()
        .map(|g| UserGrant {
            principal: g.grantee.clone(),
            permission: match g.permission {
                ObjectPermission::Read => AclPermission::Read,
                ObjectPermission::ReadAcp => AclPermission::ReadAcp,
                ObjectPermission::WriteAcp => AclPermission::WriteAcp,
                ObjectPermission::FullControl => AclPermission::FullControl,
            },
        })
        .collect()
}

/// The grants a new object gets from its write's ACL fields (a canned ACL and the four
/// `x-amz-grant-*` an object takes), for an object in a bucket owned by `owner`: empty
/// when private. PutObject, CopyObject and CreateMultipartUpload use it; the access check
/// has refused public ones already, before anything was created.
pub(crate) fn new_object_grants(
    auth: &Auth,
    owner: &str,
    canned: Option<&str>,
    grants: [(AclPermission, Option<&str>); 4],
) -> S3Result<Vec<ObjectGrant>> {
    let grants = header_grants(grants).map_err(refusal)?;
    let kept = auth
        .check_acl(AclTarget::Object, owner, canned, &grants)
        .map_err(refusal)?;
    to_stored(kept).map_err(refusal)
}

pub(crate) async fn get_bucket_acl(
    coffer: &Coffer,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let (bucket, stored) = coffer
        .store
        .bucket_with_setting(&req.input.bucket, BucketSetting::Acl)
        .await
        .map_err(storage_error)?;
    let kept = stored
        .as_deref()
        .map(decode_grants)
        .transpose()
        .map_err(internal)?
        .unwrap_or_default();
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(report(&coffer.auth, &bucket.owner, &kept)),
        owner: Some(owner(coffer, &bucket.owner)),
    }))
}

pub(crate) async fn get_object_acl(
    coffer: &Coffer,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let info = coffer
        .store
        .head_version(&bucket, &input.key, version)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    let kept = object_grants(&info.meta.grants);
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(report(&coffer.auth, &bucket.owner, &kept)),
        owner: Some(owner(coffer, &bucket.owner)),
        request_charged: None,
    }))
}

/// Replaces the bucket's ACL: the grants to other users are kept, `private` (or grants to
/// the owner alone) removes them. A request that names no ACL at all changes nothing.
pub(crate) async fn put_bucket_acl(
    coffer: &Coffer,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let canned = input.acl.as_ref().map(s3s::dto::BucketCannedACL::as_str);
    let mut grants = header_grants([
        (
            AclPermission::FullControl,
            input.grant_full_control.as_deref(),
        ),
        (AclPermission::Read, input.grant_read.as_deref()),
        (AclPermission::ReadAcp, input.grant_read_acp.as_deref()),
        (AclPermission::Write, input.grant_write.as_deref()),
        (AclPermission::WriteAcp, input.grant_write_acp.as_deref()),
    ])
    .map_err(refusal)?;
    let document = input.access_control_policy.as_ref();
    grants.extend(document_grants(document).map_err(refusal)?);
    if canned.is_none() && grants.is_empty() && document.is_none() {
        return Ok(S3Response::new(PutBucketAclOutput {}));
    }
    let kept = coffer
        .auth
        .check_acl(AclTarget::Bucket, &bucket.owner, canned, &grants)
        .map_err(refusal)?;
    let value = if kept.is_empty() {
        None
    } else {
        Some(encode_grants(&kept).map_err(internal)?)
    };
    coffer
        .store
        .set_bucket_setting(&input.bucket, BucketSetting::Acl, value)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

/// Replaces the object's ACL: the grants to other users are kept with the object,
/// `private` (or grants to the owner alone) removes them. A request that names no ACL at
/// all changes nothing.
pub(crate) async fn put_object_acl(
    coffer: &Coffer,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = req.input;
    let version = version_ref(input.version_id.as_deref())?;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let mut grants = header_grants([
        (
            AclPermission::FullControl,
            input.grant_full_control.as_deref(),
        ),
        (AclPermission::Read, input.grant_read.as_deref()),
        (AclPermission::ReadAcp, input.grant_read_acp.as_deref()),
        (AclPermission::WriteAcp, input.grant_write_acp.as_deref()),
    ])
    .map_err(refusal)?;
    let document = input.access_control_policy.as_ref();
    grants.extend(document_grants(document).map_err(refusal)?);
    let canned = input.acl.as_ref().map(s3s::dto::ObjectCannedACL::as_str);
    let kept = coffer
        .auth
        .check_acl(AclTarget::Object, &bucket.owner, canned, &grants)
        .map_err(refusal)?;
    if canned.is_none() && grants.is_empty() && document.is_none() {
        coffer
            .store
            .head_version(&bucket, &input.key, version)
            .await
            .map_err(|e| read_error(e, version.is_some()))?;
        return Ok(S3Response::new(PutObjectAclOutput::default()));
    }
    let kept = to_stored(kept).map_err(refusal)?;
    coffer
        .store
        .set_object_grants(&bucket, &input.key, version, kept)
        .await
        .map_err(|e| read_error(e, version.is_some()))?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

/// P2 for an ACL document, before the handler runs: public and unsupported grantees are
/// refused; grants to users are the handler's to judge (it knows the owner).
pub(crate) fn check_document(
    policy: Option<&AccessControlPolicy>,
    target: AclTarget,
) -> S3Result<()> {
    let grants = document_grants(policy).map_err(refusal)?;
    refuse_public(target, None, &grants).map_err(refusal)
}

/// The header forms, on any operation `op`: `x-amz-acl` and `x-amz-grant-*`. Public and
/// unsupported ones are refused everywhere; on PutBucketAcl, grants to users are left to
/// the handler (which knows the owner); elsewhere grants must name existing users (checked
/// here against `principal`, the caller; the handler keeps them against the bucket's
/// owner). Runs in the access check, so a refused request creates and changes nothing.
pub(crate) fn refuse_acl_headers(
    auth: &Auth,
    op: &str,
    headers: &HeaderMap,
    principal: &str,
) -> S3Result<()> {
    let (canned, grants) = acl_headers(headers).map_err(refusal)?;
    let target = match op {
        "PutBucketAcl" => AclTarget::Bucket,
        "CreateBucket" => AclTarget::NewBucket,
        _ => AclTarget::Object,
    };
    // Each x-amz-acl value on its own: one private and one public value is still refused.
    let canned = canned.into_iter().map(Some);
    for canned in canned.chain(std::iter::once(None)) {
        if target == AclTarget::Bucket {
            refuse_public(target, canned, &grants).map_err(refusal)?;
        } else {
            auth.check_acl(target, principal, canned, &grants)
                .map_err(refusal)?;
        }
    }
    Ok(())
}

/// The `x-amz-acl` values and the grants of the `x-amz-grant-*` headers.
fn acl_headers(headers: &HeaderMap) -> Result<(Vec<&str>, Vec<AclGrant>), AclRefusal> {
    let mut canned = Vec::new();
    let mut grants = Vec::new();
    for (name, value) in headers {
        let name = name.as_str(); // lower-case already
        let text = || value.to_str().map_err(|_| AclRefusal::Malformed);
        if let Some(permission) = AclPermission::of_grant_header(name) {
            grants.extend(parse_grant_header(text()?, permission)?);
        } else if name.starts_with("x-amz-grant-") {
            return Err(AclRefusal::Malformed);
        } else if name == "x-amz-acl" {
            canned.push(text()?);
        }
    }
    Ok((canned, grants))
}

/// The typed forms of the same fields on an object write (a browser form upload carries
/// them as form fields): a canned ACL and `x-amz-grant-*` values.
pub(crate) fn refuse_acl_fields(
    auth: &Auth,
    canned: Option<&str>,
    grants: [(AclPermission, Option<&str>); 4],
    principal: &str,
) -> S3Result<()> {
    let grants = header_grants(grants).map_err(refusal)?;
    auth.check_acl(AclTarget::Object, principal, canned, &grants)
        .map_err(refusal)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;

    fn doc(grantee: Grantee, permission: &str) -> AccessControlPolicy {
        AccessControlPolicy {
            grants: Some(vec![Grant {
                grantee: Some(grantee),
                permission: Some(Permission::from(permission.to_owned())),
            }]),
            owner: None,
        }
    }

    fn code(r: S3Result<()>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    #[test]
    fn documents_translate_into_grants() {
        let user = |id: &str| Grantee {
            display_name: None,
            email_address: None,
            id: Some(id.to_owned()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        };
        assert_eq!(
            document_grants(Some(&doc(user("AIDA1"), "WRITE_ACP"))),
            Ok(vec![AclGrant {
                grantee: AclGrantee::CanonicalUser("AIDA1".to_owned()),
                permission: AclPermission::WriteAcp,
            }])
        );
        assert_eq!(
            document_grants(Some(&doc(user("AIDA1"), "EVERYTHING"))),
            Err(AclRefusal::Malformed)
        );
        // A URI makes it a group whatever the type says.
        let mut sneaky = user("AIDA1");
        sneaky.uri = Some("http://acs.amazonaws.com/groups/global/AllUsers".to_owned());
        let sneaky = doc(sneaky, "READ");
        assert_eq!(
            code(check_document(Some(&sneaky), AclTarget::Bucket)),
            Some(S3ErrorCode::AccessDenied)
        );
        let mut group = user("AIDA1");
        group.type_ = Type::from_static(Type::GROUP);
        assert_eq!(
            code(check_document(Some(&doc(group, "READ")), AclTarget::Bucket)),
            Some(S3ErrorCode::AccessDenied)
        );
        assert!(check_document(Some(&doc(user("AIDA1"), "READ")), AclTarget::Bucket).is_ok());
        assert!(check_document(None, AclTarget::Object).is_ok());
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, http::HeaderValue::from_static(v));
        }
        map
    }

    /// What the access check refuses without looking anyone up.
    fn public(pairs: &[(&'static str, &'static str)]) -> Result<(), AclRefusal> {
        let map = headers(pairs);
        let (canned, grants) = acl_headers(&map)?;
        let canned = canned.into_iter().map(Some);
        canned
            .chain(std::iter::once(None))
            .try_for_each(|c| refuse_public(AclTarget::Object, c, &grants))
    }

    #[test]
    fn p2_public_header_forms_are_refused() {
        for acl in ["public-read", "public-read-write", "authenticated-read"] {
            assert_eq!(public(&[("x-amz-acl", acl)]), Err(AclRefusal::Public));
        }
        for acl in ["aws-exec-read", "log-delivery-write", ""] {
            assert_eq!(public(&[("x-amz-acl", acl)]), Err(AclRefusal::Unsupported));
        }
        for grant in [
            "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            "uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            "id=\"root\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
        ] {
            assert_eq!(
                public(&[("x-amz-grant-read", grant)]),
                Err(AclRefusal::Public)
            );
        }
        assert_eq!(
            public(&[("x-amz-grant-write", "emailAddress=\"a@example.com\"")]),
            Err(AclRefusal::Unsupported)
        );
        assert_eq!(
            public(&[("x-amz-grant-read", "garbage")]),
            Err(AclRefusal::Malformed)
        );
        // One private and one public value: still refused.
        assert_eq!(
            public(&[("x-amz-acl", "private"), ("x-amz-acl", "public-read")]),
            Err(AclRefusal::Public)
        );
        for ok in [
            &[("x-amz-acl", "private")][..],
            &[("x-amz-acl", "bucket-owner-full-control")],
            &[("x-amz-grant-full-control", "id=\"AIDA1\"")],
            &[("content-type", "text/plain")],
        ] {
            assert_eq!(public(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn refusals_keep_their_codes() {
        let err = refusal(AclRefusal::Public);
        assert_eq!(*err.code(), S3ErrorCode::AccessDenied);
        assert_eq!(err.message(), Some(PUBLIC_REFUSED));
        assert_eq!(
            *refusal(AclRefusal::UnknownUser).code(),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            *refusal(AclRefusal::NotHere(AclTarget::NewBucket)).code(),
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            *refusal(AclRefusal::WriteOnObject).code(),
            S3ErrorCode::InvalidArgument
        );
    }
}
