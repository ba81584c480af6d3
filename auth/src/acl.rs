//! Access control lists: which ACLs Coffer accepts (P2), and the bucket grants it keeps.
//!
//! An ACL arrives as a canned name (`private`, `public-read`…) or as grants, each a grantee
//! and a [`AclPermission`]. Coffer judges it in three ways:
//!
//! - **public** — the AllUsers or AuthenticatedUsers group, or a canned ACL that names them
//!   (`public-read`, `public-read-write`, `authenticated-read`): refused, P2
//!   ([`AclRefusal::Public`]);
//! - **unsupported** — e-mail grantees, the LogDelivery group, any other group, other
//!   canned ACLs: refused as today ([`AclRefusal::Unsupported`]);
//! - **acceptable** — `private`, grants to the owner (which change nothing: the owner always
//!   has `FULL_CONTROL`), and, on a bucket or an object, grants to existing Coffer users
//!   named by their principal id (the `CanonicalUser` id ListBuckets reports). An id that
//!   names nobody is [`AclRefusal::UnknownUser`]; `WRITE` on an object means nothing in S3
//!   and is [`AclRefusal::WriteOnObject`].
//!
//! What is kept of an accepted ACL is its [`UserGrant`]s to users other than the owner: a
//! bucket's as a bucket setting ([`encode_grants`]), an object's with the object (storage).
//! [`crate::Auth::authorize`] lets them in as AWS maps ACL permissions onto actions
//! ([`UserGrant::covers`] on a bucket, [`UserGrant::covers_object`] on an object).

use serde::{Deserialize, Serialize};

use crate::{Auth, Error, ROOT_PRINCIPAL};

/// Message for every refusal of a public grant, ACL, policy or access-block change (P2).
pub const PUBLIC_REFUSED: &str = "public access is disabled in Coffer";

/// A permission an ACL grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclPermission {
    /// `READ`: on a bucket, list it.
    Read,
    /// `WRITE`: on a bucket, create, overwrite and delete objects in it.
    Write,
    /// `READ_ACP`: read the ACL.
    ReadAcp,
    /// `WRITE_ACP`: replace the ACL.
    WriteAcp,
    /// `FULL_CONTROL`: all of the above.
    FullControl,
}

impl AclPermission {
    /// The wire name (`READ`, `FULL_CONTROL`…).
    pub fn as_str(self) -> &'static str {
        match self {
            AclPermission::Read => "READ",
            AclPermission::Write => "WRITE",
            AclPermission::ReadAcp => "READ_ACP",
            AclPermission::WriteAcp => "WRITE_ACP",
            AclPermission::FullControl => "FULL_CONTROL",
        }
    }

    /// The permission of wire name `name`, `None` for anything else.
    pub fn parse(name: &str) -> Option<AclPermission> {
        [
            AclPermission::Read,
            AclPermission::Write,
            AclPermission::ReadAcp,
            AclPermission::WriteAcp,
            AclPermission::FullControl,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }

    /// The permission an `x-amz-grant-*` header grants (`x-amz-grant-read` → `READ`), by
    /// its lower-case name; `None` for other headers.
    pub fn of_grant_header(header: &str) -> Option<AclPermission> {
        Some(match header.strip_prefix("x-amz-grant-")? {
            "read" => AclPermission::Read,
            "write" => AclPermission::Write,
            "read-acp" => AclPermission::ReadAcp,
            "write-acp" => AclPermission::WriteAcp,
            "full-control" => AclPermission::FullControl,
            _ => return None,
        })
    }
}

/// Whom a grant names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclGrantee {
    /// A canonical user id: in Coffer, a principal (`root` or a user's `AIDA…` id).
    CanonicalUser(String),
    /// An e-mail address (unsupported).
    Email(String),
    /// A group URI (AllUsers and AuthenticatedUsers are public; others unsupported).
    Group(String),
}

/// One grant of a requested ACL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclGrant {
    /// Who.
    pub grantee: AclGrantee,
    /// What.
    pub permission: AclPermission,
}

/// What the ACL is put on: buckets and objects may name other users, a bucket being
/// created may not (yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclTarget {
    /// An existing bucket (PutBucketAcl).
    Bucket,
    /// A bucket being created (CreateBucket's header forms).
    NewBucket,
    /// An object (PutObjectAcl, and the header forms of the writes).
    Object,
}

/// Why an ACL is refused. Messages contain no client input.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclRefusal {
    /// It would make something public (P2).
    Public,
    /// E-mail grantees, the LogDelivery group, other canned ACLs.
    Unsupported,
    /// A grantee id that names no Coffer user.
    UnknownUser,
    /// A grant header or document that does not parse.
    Malformed,
    /// Grants to other users where Coffer cannot keep them yet.
    NotHere(AclTarget),
    /// A `WRITE` grant on an object (S3 defines it for buckets only).
    WriteOnObject,
}

impl AclRefusal {
    /// A message safe to send to the client.
    pub fn message(self) -> &'static str {
        match self {
            AclRefusal::Public | AclRefusal::Unsupported => PUBLIC_REFUSED,
            AclRefusal::UnknownUser => "Invalid id",
            AclRefusal::Malformed => "Invalid grant: expected id=\"…\"",
            AclRefusal::WriteOnObject => "WRITE cannot be granted on an object",
            AclRefusal::NotHere(_) => {
                "ACL grants to other users are not supported on CreateBucket; use PutBucketAcl once it exists"
            }
        }
    }
}

/// A grant kept on a bucket: a Coffer user (by principal) and what it may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGrant {
    /// The grantee's principal.
    pub principal: String,
    /// What the grant allows.
    pub permission: AclPermission,
}

impl UserGrant {
    /// Whether this grant, on a bucket, allows IAM `action` there, as AWS maps ACL
    /// permissions: `READ` lists, `WRITE` writes and deletes objects, `READ_ACP` and
    /// `WRITE_ACP` read and replace the ACL, `FULL_CONTROL` all of these.
    pub fn covers(&self, action: &str) -> bool {
        let Some(action) = action.strip_prefix("s3:") else {
            return false;
        };
        let read = matches!(
            action,
            "ListBucket" | "ListBucketVersions" | "ListBucketMultipartUploads"
        );
        let write = matches!(
            action,
            "PutObject" | "DeleteObject" | "AbortMultipartUpload"
        );
        match self.permission {
            AclPermission::Read => read,
            AclPermission::Write => write,
            AclPermission::ReadAcp => action == "GetBucketAcl",
            AclPermission::WriteAcp => action == "PutBucketAcl",
            AclPermission::FullControl => {
                read || write || matches!(action, "GetBucketAcl" | "PutBucketAcl")
            }
        }
    }
}

impl UserGrant {
    /// Whether this grant, on an object, allows IAM `action` on that object, as AWS maps
    /// object ACL permissions: `READ` reads it (`s3:GetObject`, which HeadObject and a copy
    /// source also need, and `s3:GetObjectVersion`) and its attributes (AWS's
    /// GetObjectAttributes asks for READ access to the object), `READ_ACP` and `WRITE_ACP`
    /// read and replace its ACL (of any version),
    /// `FULL_CONTROL` all of these. (`WRITE` is never kept on an object.)
    pub fn covers_object(&self, action: &str) -> bool {
        match self.permission {
            AclPermission::Read => matches!(
                action,
                "s3:GetObject"
                    | "s3:GetObjectVersion"
                    | "s3:GetObjectAttributes"
                    | "s3:GetObjectVersionAttributes"
            ),
            AclPermission::ReadAcp => {
                matches!(action, "s3:GetObjectAcl" | "s3:GetObjectVersionAcl")
            }
            AclPermission::WriteAcp => {
                matches!(action, "s3:PutObjectAcl" | "s3:PutObjectVersionAcl")
            }
            AclPermission::FullControl => object_acl_applies(action),
            AclPermission::Write => false,
        }
    }
}

/// Whether an object's ACL can allow IAM `action` at all: only then does the decision need
/// the object's grants.
pub fn object_acl_applies(action: &str) -> bool {
    matches!(
        action,
        "s3:GetObject"
            | "s3:GetObjectVersion"
            | "s3:GetObjectAttributes"
            | "s3:GetObjectVersionAttributes"
            | "s3:GetObjectAcl"
            | "s3:GetObjectVersionAcl"
            | "s3:PutObjectAcl"
            | "s3:PutObjectVersionAcl"
    )
}

/// Group URIs that mean "everyone" (P2). Matched without regard to scheme.
const PUBLIC_GROUPS: &[&str] = &[
    "acs.amazonaws.com/groups/global/AllUsers",
    "acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

/// Canned ACLs that share a resource with everyone.
const PUBLIC_CANNED: &[&str] = &["public-read", "public-read-write", "authenticated-read"];

/// Parses an `x-amz-grant-*` value: comma-separated `id="…"`, `uri="…"` or
/// `emailAddress="…"`, each granting `permission`.
///
/// # Errors
/// [`AclRefusal::Malformed`] for anything else (an empty value included).
pub fn parse_grant_header(
    value: &str,
    permission: AclPermission,
) -> Result<Vec<AclGrant>, AclRefusal> {
    let mut grants = Vec::new();
    for item in value.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let (kind, id) = item.split_once('=').ok_or(AclRefusal::Malformed)?;
        let id = id.trim().trim_matches('"').to_owned();
        let grantee = match kind.trim() {
            "id" => AclGrantee::CanonicalUser(id),
            "uri" => AclGrantee::Group(id),
            "emailAddress" => AclGrantee::Email(id),
            _ => return Err(AclRefusal::Malformed),
        };
        grants.push(AclGrant {
            grantee,
            permission,
        });
    }
    if grants.is_empty() {
        return Err(AclRefusal::Malformed);
    }
    Ok(grants)
}

/// P2 and what Coffer does not support, without knowing whose resource it is: refuses
/// public and unsupported canned ACLs and grantees. Grants to users pass.
///
/// # Errors
/// [`AclRefusal::Public`] or [`AclRefusal::Unsupported`].
pub fn refuse_public(
    target: AclTarget,
    canned: Option<&str>,
    grants: &[AclGrant],
) -> Result<(), AclRefusal> {
    if let Some(canned) = canned.map(str::trim) {
        let private = canned == "private"
            || (target == AclTarget::Object && canned == "bucket-owner-full-control");
        if PUBLIC_CANNED.contains(&canned) {
            return Err(AclRefusal::Public);
        }
        if !private {
            return Err(AclRefusal::Unsupported);
        }
    }
    // Public first: a request mixing both kinds is refused for P2's reason.
    let groups = grants.iter().filter_map(|g| match &g.grantee {
        AclGrantee::Group(uri) => Some(uri.as_str()),
        _ => None,
    });
    for uri in groups {
        let bare = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        if PUBLIC_GROUPS.contains(&bare) {
            return Err(AclRefusal::Public);
        }
    }
    if grants
        .iter()
        .any(|g| !matches!(g.grantee, AclGrantee::CanonicalUser(_)))
    {
        return Err(AclRefusal::Unsupported);
    }
    Ok(())
}

impl Auth {
    /// Judges an ACL for a resource owned by `owner` and returns the grants to keep: those
    /// naming existing users other than `owner`, in order, without repeats (empty when the
    /// ACL is private).
    ///
    /// # Errors
    /// [`refuse_public`]'s refusals; [`AclRefusal::UnknownUser`] for an id that names no
    /// user; [`AclRefusal::NotHere`] for grants to other users on a new bucket;
    /// [`AclRefusal::WriteOnObject`] for `WRITE` on an object.
    pub fn check_acl(
        &self,
        target: AclTarget,
        owner: &str,
        canned: Option<&str>,
        grants: &[AclGrant],
    ) -> Result<Vec<UserGrant>, AclRefusal> {
        refuse_public(target, canned, grants)?;
        let dir = self.directory();
        let mut kept: Vec<UserGrant> = Vec::new();
        for grant in grants {
            let AclGrantee::CanonicalUser(id) = &grant.grantee else {
                return Err(AclRefusal::Unsupported);
            };
            if target == AclTarget::Object && grant.permission == AclPermission::Write {
                return Err(AclRefusal::WriteOnObject);
            }
            if id == owner {
                continue;
            }
            if id != ROOT_PRINCIPAL && dir.user_by_principal(id).is_none() {
                return Err(AclRefusal::UnknownUser);
            }
            if target == AclTarget::NewBucket {
                return Err(AclRefusal::NotHere(target));
            }
            let grant = UserGrant {
                principal: id.clone(),
                permission: grant.permission,
            };
            if !kept.contains(&grant) {
                kept.push(grant);
            }
        }
        Ok(kept)
    }
}

/// Version byte of the stored grant list.
const GRANTS_V1: u8 = 1;

/// The stored form of a bucket's grants (a version byte, then postcard; storage seals it).
///
/// # Errors
/// [`Error::Corrupt`] if they cannot be encoded (never for these types).
pub fn encode_grants(grants: &[UserGrant]) -> Result<Vec<u8>, Error> {
    let mut bytes = vec![GRANTS_V1];
    bytes.extend(postcard::to_allocvec(grants).map_err(|_| Error::Corrupt)?);
    Ok(bytes)
}

/// Reads what [`encode_grants`] wrote.
///
/// # Errors
/// [`Error::Corrupt`] if it does not decode.
pub fn decode_grants(bytes: &[u8]) -> Result<Vec<UserGrant>, Error> {
    match bytes.split_first() {
        Some((&GRANTS_V1, rest)) => postcard::from_bytes(rest).map_err(|_| Error::Corrupt),
        _ => Err(Error::Corrupt),
    }
}
