"""boto3 against a running Coffer: every way to make something public is refused (P2).

Reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION from the
environment. Expects bucket "clinic" with object "scan.jpg" to exist. Prints
"boto3 public access refused ok" on success; any failure raises (non-zero exit).
"""

import json

from botocore.exceptions import ClientError
from coffer_client import client

REFUSAL = "public access is disabled in Coffer"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def refused(what, call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        err = e.response["Error"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 403, f"{what}: status {status} {err}"
        assert err["Code"] == "AccessDenied", f"{what}: {err}"
        assert err["Message"] == REFUSAL, f"{what}: {err}"
        return
    raise AssertionError(f"{what}: succeeded")


def main() -> None:
    s3 = client()
    for acl in ["public-read", "public-read-write", "authenticated-read"]:
        refused(f"create_bucket ACL={acl}", s3.create_bucket, Bucket="opened", ACL=acl)
        refused(f"put_bucket_acl ACL={acl}", s3.put_bucket_acl, Bucket="clinic", ACL=acl)
        refused(
            f"put_object ACL={acl}",
            s3.put_object,
            Bucket="clinic",
            Key="scan.jpg",
            Body=b"replaced",
            ACL=acl,
        )
        refused(
            f"put_object_acl ACL={acl}",
            s3.put_object_acl,
            Bucket="clinic",
            Key="scan.jpg",
            ACL=acl,
        )
        refused(
            f"copy_object ACL={acl}",
            s3.copy_object,
            Bucket="clinic",
            Key="copy.jpg",
            CopySource={"Bucket": "clinic", "Key": "scan.jpg"},
            ACL=acl,
        )
        refused(
            f"create_multipart_upload ACL={acl}",
            s3.create_multipart_upload,
            Bucket="clinic",
            Key="big.mp4",
            ACL=acl,
        )
    refused(
        "put_object GrantRead AllUsers",
        s3.put_object,
        Bucket="clinic",
        Key="new.jpg",
        Body=b"x",
        GrantRead=f'uri="{ALL_USERS}"',
    )
    owner = s3.get_bucket_acl(Bucket="clinic")["Owner"]
    refused(
        "put_bucket_acl AllUsers READ",
        s3.put_bucket_acl,
        Bucket="clinic",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
            ],
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::clinic/*",
            }
        ],
    }
    refused("put_bucket_policy AWS=*", s3.put_bucket_policy, Bucket="clinic", Policy=json.dumps(policy))
    refused(
        "put_public_access_block off",
        s3.put_public_access_block,
        Bucket="clinic",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    refused("delete_public_access_block", s3.delete_public_access_block, Bucket="clinic")

    # What is allowed keeps everything private.
    s3.put_bucket_acl(Bucket="clinic", ACL="private")
    s3.put_object_acl(Bucket="clinic", Key="scan.jpg", ACL="bucket-owner-full-control")
    pab = s3.get_public_access_block(Bucket="clinic")["PublicAccessBlockConfiguration"]
    assert all(pab[k] for k in ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]), pab
    assert s3.get_bucket_policy_status(Bucket="clinic")["PolicyStatus"]["IsPublic"] is False
    grants = s3.get_object_acl(Bucket="clinic", Key="scan.jpg")["Grants"]
    assert len(grants) == 1 and grants[0]["Permission"] == "FULL_CONTROL", grants
    print("boto3 public access refused ok")


if __name__ == "__main__":
    main()
