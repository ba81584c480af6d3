"""boto3 SSE-C against a running Coffer (issue 12).

Reads the AWS_* environment printed by `coffer serve --ephemeral`. Puts objects under a
customer key (single PUT and a managed multipart upload), reads them back whole and by
range, checks AWS's answers to a missing (400) and a wrong (403) key, copies between keys,
and prints "boto3 sse-c ok" on success. Any failure raises (non-zero exit).
"""

import base64
import hashlib
import io
import os
import urllib.error
import urllib.request
import uuid

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from coffer_client import client


def status(err: ClientError) -> int:
    return err.response["ResponseMetadata"]["HTTPStatusCode"]


def post(url, fields, body):
    """POST a multipart form; returns (status, response body)."""
    boundary = "----coffer" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
        for n, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + body + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(
        url,
        data=b"".join(parts),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main() -> None:
    s3 = client()
    key = os.urandom(32)
    other = os.urandom(32)
    sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    s3.create_bucket(Bucket="ssec")

    body = os.urandom(100_000)
    out = s3.put_object(Bucket="ssec", Key="small", Body=body, **sse)
    assert out["SSECustomerAlgorithm"] == "AES256", out
    assert "ServerSideEncryption" not in out, out
    got = s3.get_object(Bucket="ssec", Key="small", **sse)
    assert got["Body"].read() == body
    got = s3.get_object(Bucket="ssec", Key="small", Range="bytes=10-19", **sse)
    assert got["Body"].read() == body[10:20]

    try:
        s3.get_object(Bucket="ssec", Key="small")
        raise AssertionError("read without the key")
    except ClientError as e:
        assert status(e) == 400 and e.response["Error"]["Code"] == "InvalidRequest", e
    try:
        s3.get_object(Bucket="ssec", Key="small", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
        raise AssertionError("read with another key")
    except ClientError as e:
        assert status(e) == 403, e

    # Managed transfer: multipart above 5 MiB, every part with the key.
    big = os.urandom(11 * 1024 * 1024)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(big), "ssec", "big", ExtraArgs=sse, Config=cfg)
    sink = io.BytesIO()
    s3.download_fileobj("ssec", "big", sink, ExtraArgs=sse, Config=cfg)
    assert sink.getvalue() == big

    # Copy to another key.
    s3.copy_object(
        Bucket="ssec",
        Key="copy",
        CopySource={"Bucket": "ssec", "Key": "small"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=other,
    )
    got = s3.get_object(Bucket="ssec", Key="copy", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert got["Body"].read() == body

    # A browser form (POST) with the SSE-C fields, signed by the policy.
    form = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(
            hashlib.md5(key).digest()
        ).decode(),
    }
    p = s3.generate_presigned_post(
        "ssec", "form", Fields=form, Conditions=[{k: v} for k, v in form.items()], ExpiresIn=300
    )
    code, text = post(p["url"], p["fields"], b"form body")
    assert code in (200, 204), (code, text)
    got = s3.get_object(Bucket="ssec", Key="form", **sse)
    assert got["Body"].read() == b"form body"
    try:
        s3.get_object(Bucket="ssec", Key="form")
        raise AssertionError("form object read without the key")
    except ClientError as e:
        assert status(e) == 400, e

    for k in ["small", "big", "copy", "form"]:
        s3.delete_object(Bucket="ssec", Key=k)
    s3.delete_bucket(Bucket="ssec")
    print("boto3 sse-c ok")


if __name__ == "__main__":
    main()
