"""boto3 versioning round trip against a running Coffer.

Reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION from the
environment. Enables versioning, writes two versions, lists them (and pages with boto3's
own paginator), reads each by VersionId, deletes to a marker, undeletes by deleting the
marker, and prints "boto3 versioning ok" on success. Any failure raises (non-zero exit).
"""


from botocore.exceptions import ClientError
from coffer_client import client


def main() -> None:
    s3 = client()
    bucket = "boto3-versions"
    key = "notes/Jane Doe+ü.txt"
    s3.create_bucket(Bucket=bucket)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    v1 = s3.put_object(Bucket=bucket, Key=key, Body=b"first")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key=key, Body=b"second")["VersionId"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2), (v1, v2)

    listed = s3.list_object_versions(Bucket=bucket)
    got = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]]
    assert got == [(key, v2, True), (key, v1, False)], got
    assert "DeleteMarkers" not in listed, listed.get("DeleteMarkers")

    assert s3.get_object(Bucket=bucket, Key=key, VersionId=v1)["Body"].read() == b"first"
    latest = s3.get_object(Bucket=bucket, Key=key)
    assert latest["VersionId"] == v2 and latest["Body"].read() == b"second"

    deleted = s3.delete_object(Bucket=bucket, Key=key)
    assert deleted["DeleteMarker"] is True, deleted
    marker = deleted["VersionId"]
    try:
        s3.get_object(Bucket=bucket, Key=key)
        raise AssertionError("GET of a deleted key succeeded")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey", e.response
        headers = e.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers.get("x-amz-delete-marker") == "true", headers
    try:
        s3.head_object(Bucket=bucket, Key=key, VersionId=marker)
        raise AssertionError("HEAD of a delete marker by id succeeded")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 405, e.response

    listed = s3.list_object_versions(Bucket=bucket)
    markers = [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]]
    assert markers == [(marker, True)], markers
    assert [v["IsLatest"] for v in listed["Versions"]] == [False, False]

    # boto3's paginator follows NextKeyMarker / NextVersionIdMarker, one entry a page.
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1}
    )
    seen = []
    for page in pages:
        seen += [v["VersionId"] for v in page.get("Versions", [])]
        seen += [m["VersionId"] for m in page.get("DeleteMarkers", [])]
    assert seen == [marker, v2, v1], seen

    # Undelete: remove the marker by its id.
    undone = s3.delete_object(Bucket=bucket, Key=key, VersionId=marker)
    assert undone["DeleteMarker"] is True and undone["VersionId"] == marker, undone
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"second"

    # Clean up version by version; the bucket then goes.
    for v in (v1, v2):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=v)
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)
    print("boto3 versioning ok")


if __name__ == "__main__":
    main()
