//! ACLs, the way an AWS account with "bucket owner enforced" ownership answers them (P2).
//!
//! Every bucket and object belongs to its bucket's owner, with `FULL_CONTROL`, and to nobody
//! else. GetBucketAcl / GetObjectAcl report exactly that. PutBucketAcl / PutObjectAcl accept
//! only what keeps it so: the `private` canned ACL (plus `bucket-owner-full-control` on
//! objects) or grants to the owner; nothing is stored, since nothing changes. A public canned
//! ACL or a grant to the AllUsers / AuthenticatedUsers groups (or an e-mail grantee) is
//! refused with `AccessDenied` and [`PUBLIC_REFUSED`]; a grant to another user gets
//! `AccessControlListNotSupported`, as AWS answers when ACLs are disabled.
//!
//! The same rules cover the header forms (`x-amz-acl`, `x-amz-grant-*`) on every operation:
//! [`refuse_acl_headers`] runs in the access check, before anything is created.

use super::Coffer;
use super::bucket_access::{owner, resolve_bucket};
use super::error_map::storage_error;
use http::HeaderMap;
use s3s::dto::{
    AccessControlPolicy, GetBucketAclInput, GetBucketAclOutput, GetObjectAclInput,
    GetObjectAclOutput, Grant, Grantee, Permission, PutBucketAclInput, PutBucketAclOutput,
    PutObjectAclInput, PutObjectAclOutput, Type,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

/// Message for every refusal of a public grant, ACL, policy or access-block change (P2).
pub(crate) const PUBLIC_REFUSED: &str = "public access is disabled in Coffer";

/// Message for grants naming a user other than the owner.
const OWNER_ONLY: &str =
    "ACLs are disabled in Coffer: buckets and objects belong to the bucket owner alone";

/// Canned ACLs that keep a bucket private.
const PRIVATE_BUCKET_ACLS: &[&str] = &["private"];
/// Canned ACLs that keep an object private (the bucket owner is its owner anyway).
const PRIVATE_OBJECT_ACLS: &[&str] = &["private", "bucket-owner-full-control"];

fn public_refused() -> S3Error {
    s3_error!(AccessDenied, "{PUBLIC_REFUSED}")
}

fn owner_only() -> S3Error {
    s3_error!(AccessControlListNotSupported, "{OWNER_ONLY}")
}

/// The only ACL Coffer has: the owner with `FULL_CONTROL`.
fn owner_grants(principal: &str) -> Vec<Grant> {
    vec![Grant {
        grantee: Some(Grantee {
            display_name: Some(principal.to_owned()),
            email_address: None,
            id: Some(principal.to_owned()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

pub(crate) async fn get_bucket_acl(
    coffer: &Coffer,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let bucket = resolve_bucket(coffer, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(owner_grants(&bucket.owner)),
        owner: Some(owner(coffer, &bucket.owner)),
    }))
}

pub(crate) async fn get_object_acl(
    coffer: &Coffer,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    coffer
        .store
        .head_object(&bucket, &input.key)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(owner_grants(&bucket.owner)),
        owner: Some(owner(coffer, &bucket.owner)),
        request_charged: None,
    }))
}

pub(crate) async fn put_bucket_acl(
    coffer: &Coffer,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    check_canned(
        input.acl.as_ref().map(s3s::dto::BucketCannedACL::as_str),
        PRIVATE_BUCKET_ACLS,
    )?;
    check_grant_fields(
        [
            input.grant_full_control.as_deref(),
            input.grant_read.as_deref(),
            input.grant_read_acp.as_deref(),
            input.grant_write.as_deref(),
            input.grant_write_acp.as_deref(),
        ],
        &bucket.owner,
    )?;
    check_document(input.access_control_policy.as_ref(), &bucket.owner)?;
    // Already the case: nothing to store.
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub(crate) async fn put_object_acl(
    coffer: &Coffer,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = req.input;
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    check_canned(
        input.acl.as_ref().map(s3s::dto::ObjectCannedACL::as_str),
        PRIVATE_OBJECT_ACLS,
    )?;
    check_grant_fields(
        [
            input.grant_full_control.as_deref(),
            input.grant_read.as_deref(),
            input.grant_read_acp.as_deref(),
            None,
            input.grant_write_acp.as_deref(),
        ],
        &bucket.owner,
    )?;
    check_document(input.access_control_policy.as_ref(), &bucket.owner)?;
    coffer
        .store
        .head_object(&bucket, &input.key)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

/// A canned ACL must be one of `allowed`; every other one shares the resource with someone.
fn check_canned(acl: Option<&str>, allowed: &[&str]) -> S3Result<()> {
    match acl {
        Some(acl) if !allowed.contains(&acl.trim()) => Err(public_refused()),
        _ => Ok(()),
    }
}

fn check_grant_fields(values: [Option<&str>; 5], owner: &str) -> S3Result<()> {
    values
        .into_iter()
        .flatten()
        .try_for_each(|v| check_grant_header(v, owner))
}

/// An `x-amz-grant-*` value (`id="…", uri="…", emailAddress="…"`): group and e-mail
/// grantees are public; a canonical user other than `owner` is refused as unsupported.
pub(crate) fn check_grant_header(value: &str, owner: &str) -> S3Result<()> {
    for grantee in value.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let Some((kind, id)) = grantee.split_once('=') else {
            return Err(public_refused());
        };
        let id = id.trim().trim_matches('"');
        match kind.trim() {
            "id" if id == owner => {}
            "id" => return Err(owner_only()),
            // uri= (AllUsers, AuthenticatedUsers, LogDelivery), emailAddress=, anything else.
            _ => return Err(public_refused()),
        }
    }
    Ok(())
}

/// An ACL document may grant only to the owner.
pub(crate) fn check_document(policy: Option<&AccessControlPolicy>, owner: &str) -> S3Result<()> {
    let grants = policy.and_then(|p| p.grants.as_deref()).unwrap_or_default();
    for grantee in grants.iter().filter_map(|g| g.grantee.as_ref()) {
        let canonical = grantee.type_.as_str() == Type::CANONICAL_USER
            && grantee.uri.is_none()
            && grantee.email_address.is_none();
        if !canonical {
            return Err(public_refused());
        }
        if grantee.id.as_deref() != Some(owner) {
            return Err(owner_only());
        }
    }
    Ok(())
}

/// The header forms, on any operation: `x-amz-acl` must be `private` or
/// `bucket-owner-full-control`, and `x-amz-grant-*` may name only `principal` (the caller,
/// who owns whatever it may write to). Runs in the access check, so a refused request
/// creates and changes nothing.
pub(crate) fn refuse_acl_headers(headers: &HeaderMap, principal: &str) -> S3Result<()> {
    for (name, value) in headers {
        let name = name.as_str(); // lower-case already
        let text = || value.to_str().map_err(|_| public_refused());
        if name.starts_with("x-amz-grant-") {
            check_grant_header(text()?, principal)?;
        } else if name == "x-amz-acl" {
            check_canned(Some(text()?), PRIVATE_OBJECT_ACLS)?;
        }
    }
    Ok(())
}

/// The typed forms of the same fields (a browser form upload carries them as form fields):
/// a canned ACL and `x-amz-grant-*` values.
pub(crate) fn refuse_acl_fields(
    canned: Option<&str>,
    grants: [Option<&str>; 4],
    principal: &str,
) -> S3Result<()> {
    check_canned(canned, PRIVATE_OBJECT_ACLS)?;
    grants
        .into_iter()
        .flatten()
        .try_for_each(|g| check_grant_header(g, principal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use s3s::S3ErrorCode;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    fn code(r: S3Result<()>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    #[test]
    fn p2_public_canned_acls_and_group_grants_are_refused() {
        for acl in [
            "public-read",
            "public-read-write",
            "authenticated-read",
            "aws-exec-read",
            "log-delivery-write",
            "",
        ] {
            let mut map = HeaderMap::new();
            map.insert("x-amz-acl", HeaderValue::from_str(acl).unwrap());
            let err = refuse_acl_headers(&map, "root").unwrap_err();
            assert_eq!(*err.code(), S3ErrorCode::AccessDenied, "{acl}");
            assert_eq!(err.message(), Some(PUBLIC_REFUSED));
        }
        for grant in [
            "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            "uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            "id=\"root\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            "emailAddress=\"a@example.com\"",
            "garbage",
        ] {
            let mut map = HeaderMap::new();
            map.insert("x-amz-grant-read", HeaderValue::from_str(grant).unwrap());
            assert_eq!(
                code(refuse_acl_headers(&map, "root")),
                Some(S3ErrorCode::AccessDenied),
                "{grant}"
            );
        }
        // One private and one public value: still refused.
        assert!(
            refuse_acl_headers(
                &headers(&[("x-amz-acl", "private"), ("x-amz-acl", "public-read")]),
                "root"
            )
            .is_err()
        );
    }

    #[test]
    fn private_acls_and_owner_grants_pass() {
        for h in [
            headers(&[("x-amz-acl", "private")]),
            headers(&[("x-amz-acl", "bucket-owner-full-control")]),
            headers(&[("x-amz-grant-full-control", "id=\"root\"")]),
            headers(&[("content-type", "text/plain")]),
        ] {
            assert!(refuse_acl_headers(&h, "root").is_ok(), "{h:?}");
        }
        assert_eq!(
            code(refuse_acl_headers(
                &headers(&[("x-amz-grant-read", "id=\"someone-else\"")]),
                "root"
            )),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        assert!(check_canned(Some("bucket-owner-full-control"), PRIVATE_BUCKET_ACLS).is_err());
    }

    #[test]
    fn p2_group_grants_in_acl_documents_are_refused() {
        let doc = |grantee: Grantee| AccessControlPolicy {
            grants: Some(vec![Grant {
                grantee: Some(grantee),
                permission: Some(Permission::from_static(Permission::READ)),
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
        assert_eq!(
            code(check_document(Some(&doc(group)), "root")),
            Some(S3ErrorCode::AccessDenied)
        );
        let user = |id: &str| Grantee {
            display_name: None,
            email_address: None,
            id: Some(id.to_owned()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        };
        assert!(check_document(Some(&doc(user("root"))), "root").is_ok());
        assert_eq!(
            code(check_document(Some(&doc(user("other"))), "root")),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        assert!(check_document(None, "root").is_ok());
        let ours = AccessControlPolicy {
            grants: Some(owner_grants("root")),
            owner: Some(s3s::dto::Owner {
                display_name: Some("root".into()),
                id: Some("root".into()),
            }),
        };
        assert!(check_document(Some(&ours), "root").is_ok());
    }
}
