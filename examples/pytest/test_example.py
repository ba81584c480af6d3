"""What a suite gets from the fixture: a bucket ready at start, and a server as strict as AWS."""

import hashlib
import base64
import urllib.request

import botocore.exceptions
import pytest


def test_fixture_bucket_round_trip(s3):
    s3.put_object(Bucket="fixtures", Key="consent/42.txt", Body=b"signed consent")
    got = s3.get_object(Bucket="fixtures", Key="consent/42.txt")["Body"].read()
    assert got == b"signed consent"


def test_a_wrong_content_md5_is_refused_as_aws_does(s3):
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket="fixtures", Key="bad", Body=b"body", ContentMD5=wrong)
    assert err.value.response["Error"]["Code"] == "BadDigest"


def test_presigned_urls_work_and_unsigned_requests_do_not(s3, coffer_env):
    s3.put_object(Bucket="fixtures", Key="photo.jpg", Body=b"jpeg bytes")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "fixtures", "Key": "photo.jpg"}, ExpiresIn=60)
    assert urllib.request.urlopen(url).read() == b"jpeg bytes"
    anonymous = f"{coffer_env['AWS_ENDPOINT_URL']}/fixtures/photo.jpg"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(anonymous)
    assert err.value.code == 403
