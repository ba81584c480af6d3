"""boto3 round trip against a running Coffer.

Reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION from the
environment (as printed by `coffer serve --ephemeral`), exercises the everyday object API,
and prints "boto3 round trip ok" on success. Any failure raises (non-zero exit).
"""

import hashlib
import io
import os
import sys
import urllib.request

from botocore.exceptions import ClientError
from coffer_client import client


def main() -> None:
    s3 = client()
    bucket = "boto3-bucket"
    s3.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    body = os.urandom(5 * 1024 * 1024 + 11)
    key = "photos/2024/Jane Doe+ü.jpg"
    put = s3.put_object(
        Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg", Metadata={"patient": "p-1"}
    )
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), put["ETag"]

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/jpeg"
    assert got["Metadata"] == {"patient": "p-1"}, got["Metadata"]

    part = s3.get_object(Bucket=bucket, Key=key, Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(body)

    # upload_fileobj / download_fileobj (the transfer manager; below its multipart threshold).
    small = b"small file via transfer manager"
    s3.upload_fileobj(io.BytesIO(small), bucket, "tm/small.txt")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "tm/small.txt", out)
    assert out.getvalue() == small

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in listed.get("CommonPrefixes", [])] == ["photos/2024/"], listed

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == sorted([key, "tm/small.txt"]), keys

    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "tm/small.txt"}, ExpiresIn=300
    )
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == small

    copy = s3.copy_object(
        Bucket=bucket, Key="copy.jpg", CopySource={"Bucket": bucket, "Key": key}
    )
    assert copy["CopyObjectResult"]["ETag"] == put["ETag"]

    deleted = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": key}, {"Key": "tm/small.txt"}, {"Key": "copy.jpg"}]},
    )
    assert len(deleted.get("Deleted", [])) == 3, deleted

    try:
        s3.head_object(Bucket=bucket, Key=key)
        raise AssertionError("object still there")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    s3.delete_bucket(Bucket=bucket)
    print("boto3 round trip ok")


if __name__ == "__main__":
    main()
    sys.exit(0)
