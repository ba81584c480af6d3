//! S3 operations in IAM's terms: the action name a policy says (`s3:GetObject`) and the
//! resource ARN it names, for each operation the server routes (by its S3 operation name,
//! so this crate needs no S3 wire types).

/// The IAM action of S3 operation `op` (e.g. `HeadObject` → `s3:GetObject`), as AWS's
/// "Actions, resources and condition keys for Amazon S3" lists them.
pub fn s3_action(op: &str) -> String {
    let action = match op {
        "ListBuckets" => "ListAllMyBuckets",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        "HeadObject" | "GetObjectAttributes" => "GetObject",
        "CopyObject"
        | "PostObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "PutObject",
        "DeleteObjects" => "DeleteObject",
        "GetPublicAccessBlock" => "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "PutBucketPublicAccessBlock",
        "DeleteBucketPolicy" => "DeleteBucketPolicy",
        "GetBucketTagging" => "GetBucketTagging",
        "PutBucketTagging" | "DeleteBucketTagging" => "PutBucketTagging",
        "GetBucketCors" => "GetBucketCORS",
        "GetBucketAccelerateConfiguration" => "GetAccelerateConfiguration",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        "PutObjectLockConfiguration" => "PutBucketObjectLockConfiguration",
        "GetObjectLockConfiguration" => "GetBucketObjectLockConfiguration",
        // GetBucketOwnershipControls is its own action; removing the controls needs the
        // right to set them, as AWS documents for DeleteBucketOwnershipControls.
        "DeleteBucketOwnershipControls" => "PutBucketOwnershipControls",
        // Most operations are their own action (GetObject, PutObject, DeleteObject,
        // GetBucketAcl, PutBucketPolicy, GetObjectTagging…).
        other => other,
    };
    format!("s3:{action}")
}

/// The IAM action of S3 operation `op` when the request names a version (`versionId`):
/// AWS checks the `…Version…` action then (GetObject → `s3:GetObjectVersion`,
/// DeleteObject → `s3:DeleteObjectVersion`, …); operations without such a twin keep
/// their own.
pub fn s3_action_for(op: &str, names_version: bool) -> String {
    let versioned = match op {
        "GetObject" | "HeadObject" | "GetObjectAttributes" => "s3:GetObjectVersion",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObjectVersion",
        "GetObjectAcl" => "s3:GetObjectVersionAcl",
        "PutObjectAcl" => "s3:PutObjectVersionAcl",
        "GetObjectTagging" => "s3:GetObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        _ => return s3_action(op),
    };
    if names_version {
        versioned.to_owned()
    } else {
        s3_action(op)
    }
}

/// Every IAM action S3 operation `op` needs, all of which must be allowed: its own
/// ([`s3_action_for`]) and, for GetObjectAttributes, `s3:GetObjectAttributes` too
/// (`s3:GetObjectVersionAttributes` with a version id), since AWS's GetObjectAttributes
/// reference asks for `s3:GetObject` and `s3:GetObjectAttributes` (`s3:GetObjectVersion`
/// and `s3:GetObjectVersionAttributes`) together.
pub fn s3_actions_for(op: &str, names_version: bool) -> Vec<String> {
    let mut actions = vec![s3_action_for(op, names_version)];
    if op == "GetObjectAttributes" {
        actions.push(if names_version {
            "s3:GetObjectVersionAttributes".to_owned()
        } else {
            "s3:GetObjectAttributes".to_owned()
        });
    }
    actions
}

/// The action a request needs besides its own when it asks to bypass GOVERNANCE
/// retention (`x-amz-bypass-governance-retention: true`).
pub const BYPASS_GOVERNANCE: &str = "BypassGovernanceRetention";

/// Message for refusing website hosting (PutBucketWebsite): a website endpoint serves
/// anonymous reads, which Coffer never does (P2).
pub const WEBSITE_REFUSED: &str = "public access is disabled in Coffer: it never serves \
     anonymous reads, so it does not host static websites";

/// Message for refusing to leave `BucketOwnerEnforced` (PutBucketOwnershipControls with
/// another setting, DeleteBucketOwnershipControls): the bucket owner owns every object in
/// Coffer, and no setting hands objects or ACL control to their writers.
pub const OWNERSHIP_REFUSED: &str = "Coffer buckets keep BucketOwnerEnforced object \
     ownership: the bucket owner owns every object";

/// P2: operations refused outright, whatever their input, with the message to send:
/// website hosting, and removing the ownership controls (on AWS that turns
/// `BucketOwnerEnforced` off). PutBucketOwnershipControls, PutBucketPolicy,
/// PutPublicAccessBlock and the ACL puts have forms that change nothing for the worse, so
/// they are judged on their input instead ([`crate::policy`], [`crate::acl`], the
/// server's ownership handler).
pub fn refused_operation(op: &str) -> Option<&'static str> {
    match op {
        "PutBucketWebsite" => Some(WEBSITE_REFUSED),
        "DeleteBucketOwnershipControls" => Some(OWNERSHIP_REFUSED),
        _ => None,
    }
}

/// The ARN of a bucket (`key` `None`), of an object, or of all of S3 (`bucket` `None`, for
/// ListBuckets).
pub fn s3_resource(bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        (Some(bucket), Some(key)) => format!("arn:aws:s3:::{bucket}/{key}"),
        (Some(bucket), None) => format!("arn:aws:s3:::{bucket}"),
        (None, _) => "arn:aws:s3:::*".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_requests_need_the_version_actions() {
        assert_eq!(s3_action_for("GetObject", true), "s3:GetObjectVersion");
        assert_eq!(s3_action_for("HeadObject", true), "s3:GetObjectVersion");
        assert_eq!(s3_action_for("GetObject", false), "s3:GetObject");
        assert_eq!(
            s3_action_for("DeleteObject", true),
            "s3:DeleteObjectVersion"
        );
        assert_eq!(
            s3_action_for("PutObjectAcl", true),
            "s3:PutObjectVersionAcl"
        );
        assert_eq!(s3_action_for("PutObject", true), "s3:PutObject");
        assert_eq!(s3_action(BYPASS_GOVERNANCE), "s3:BypassGovernanceRetention");
        assert_eq!(
            s3_action("PutObjectLockConfiguration"),
            "s3:PutBucketObjectLockConfiguration"
        );
    }

    #[test]
    fn object_attributes_need_the_read_and_the_attributes_action() {
        assert_eq!(
            s3_actions_for("GetObjectAttributes", false),
            ["s3:GetObject", "s3:GetObjectAttributes"]
        );
        assert_eq!(
            s3_actions_for("GetObjectAttributes", true),
            ["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"]
        );
        assert_eq!(s3_actions_for("HeadObject", true), ["s3:GetObjectVersion"]);
        assert_eq!(s3_actions_for("PutObject", false), ["s3:PutObject"]);
    }

    #[test]
    fn operations_map_to_the_actions_policies_name() {
        for (op, action) in [
            ("GetObject", "s3:GetObject"),
            ("HeadObject", "s3:GetObject"),
            ("PutObject", "s3:PutObject"),
            ("CopyObject", "s3:PutObject"),
            ("UploadPart", "s3:PutObject"),
            ("CompleteMultipartUpload", "s3:PutObject"),
            ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
            ("ListObjectsV2", "s3:ListBucket"),
            ("HeadBucket", "s3:ListBucket"),
            ("ListBuckets", "s3:ListAllMyBuckets"),
            ("DeleteObjects", "s3:DeleteObject"),
            (
                "GetBucketAccelerateConfiguration",
                "s3:GetAccelerateConfiguration",
            ),
            ("GetBucketRequestPayment", "s3:GetBucketRequestPayment"),
            // AWS's own action for reading them, not the one for setting them.
            (
                "GetBucketOwnershipControls",
                "s3:GetBucketOwnershipControls",
            ),
            (
                "PutBucketOwnershipControls",
                "s3:PutBucketOwnershipControls",
            ),
            (
                "DeleteBucketOwnershipControls",
                "s3:PutBucketOwnershipControls",
            ),
            ("GetBucketWebsite", "s3:GetBucketWebsite"),
            ("DeleteBucketWebsite", "s3:DeleteBucketWebsite"),
            ("GetBucketPolicy", "s3:GetBucketPolicy"),
            ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        ] {
            assert_eq!(s3_action(op), action, "{op}");
        }
        assert_eq!(s3_resource(Some("b"), Some("k/1")), "arn:aws:s3:::b/k/1");
        assert_eq!(s3_resource(Some("b"), None), "arn:aws:s3:::b");
        assert_eq!(s3_resource(None, None), "arn:aws:s3:::*");
    }

    #[test]
    fn p2_public_opening_operations_are_refused() {
        assert_eq!(refused_operation("PutBucketWebsite"), Some(WEBSITE_REFUSED));
        assert!(WEBSITE_REFUSED.starts_with(crate::acl::PUBLIC_REFUSED));
        assert_eq!(
            refused_operation("DeleteBucketOwnershipControls"),
            Some(OWNERSHIP_REFUSED)
        );
        // Judged on its input: BucketOwnerEnforced is what every bucket has.
        assert!(refused_operation("PutBucketOwnershipControls").is_none());
        for op in [
            "GetBucketOwnershipControls",
            "GetBucketWebsite",
            "DeleteBucketWebsite",
            "PutPublicAccessBlock",
            "GetObject",
        ] {
            assert!(refused_operation(op).is_none(), "{op}");
        }
    }
}
