"""boto3's iam and sts clients against a running Coffer (root credentials from AWS_*).

Creates a user, its keys and an inline policy, checks IAM's error codes (NoSuchEntity,
EntityAlreadyExists, LimitExceeded, DeleteConflict), pages ListUsers, asks STS who a key
belongs to, then removes everything and prints "boto3 iam ok". Any failure raises.
"""

import json

from botocore.exceptions import ClientError
from coffer_client import client


def expect_error(code, status, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as err:
        got = err.response["Error"]["Code"]
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        assert (got, got_status) == (code, status), (got, got_status, err.response)
        assert err.response["ResponseMetadata"]["RequestId"], err.response
        return
    raise AssertionError(f"expected {code}")


def main() -> None:
    iam = client("iam")
    sts = client("sts")
    name = "boto-user"

    user = iam.create_user(UserName=name)["User"]
    assert user["UserName"] == name and user["Path"] == "/", user
    assert user["Arn"].endswith(":user/" + name), user
    assert user["UserId"].startswith("AIDA"), user
    expect_error("EntityAlreadyExists", 409, iam.create_user, UserName=name)
    expect_error("NoSuchEntity", 404, iam.get_user, UserName="nobody")
    assert iam.get_user(UserName=name)["User"]["UserId"] == user["UserId"]
    expect_error("ValidationError", 400, iam.create_user, UserName="no spaces")

    k1 = iam.create_access_key(UserName=name)["AccessKey"]
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k1["Status"] == "Active" and len(k1["SecretAccessKey"]) >= 16, k1["Status"]
    expect_error("LimitExceeded", 409, iam.create_access_key, UserName=name)
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted(
        [k1["AccessKeyId"], k2["AccessKeyId"]]
    ), listed
    assert all("SecretAccessKey" not in k for k in listed)

    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="read-b", PolicyDocument=json.dumps(doc))
    got = iam.get_user_policy(UserName=name, PolicyName="read-b")
    assert got["PolicyDocument"] == doc, got  # botocore URL-decodes and parses it
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["read-b"]
    expect_error(
        "MalformedPolicyDocument", 400, iam.put_user_policy,
        UserName=name, PolicyName="bad", PolicyDocument="{not json",
    )
    expect_error("NoSuchEntity", 404, iam.get_user_policy, UserName=name, PolicyName="none")

    # The user's key works for STS, and names its user.
    me = client("sts", k2["AccessKeyId"], k2["SecretAccessKey"]).get_caller_identity()
    assert me["Arn"] == user["Arn"] and me["UserId"] == user["UserId"], me
    root = sts.get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{root['Account']}:root", root
    assert len(root["Account"]) == 12 and root["Account"].isdigit(), root

    iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    }
    assert statuses[k1["AccessKeyId"]] == "Inactive", statuses
    expect_error(
        "SignatureDoesNotMatch", 403,
        client("sts", k1["AccessKeyId"], k1["SecretAccessKey"]).get_caller_identity,
    )

    expect_error("DeleteConflict", 409, iam.delete_user, UserName=name)

    # Paging: three more users, two per page.
    for extra in ["page-a", "page-b", "page-c"]:
        iam.create_user(UserName=extra)
    first = iam.list_users(MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2, first
    second = iam.list_users(MaxItems=2, Marker=first["Marker"])
    assert not second["IsTruncated"] and len(second["Users"]) == 2, second
    names = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1}) for u in p["Users"]]
    assert names == sorted([name, "page-a", "page-b", "page-c"]), names
    for extra in ["page-a", "page-b", "page-c"]:
        iam.delete_user(UserName=extra)

    for key in (k1, k2):
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    expect_error(
        "NoSuchEntity", 404, iam.delete_access_key,
        UserName=name, AccessKeyId=k1["AccessKeyId"],
    )
    iam.delete_user_policy(UserName=name, PolicyName="read-b")
    iam.delete_user(UserName=name)
    expect_error("NoSuchEntity", 404, iam.get_user, UserName=name)
    assert iam.list_users()["Users"] == []
    print("boto3 iam ok")


if __name__ == "__main__":
    main()
