"""Browser form uploads (POST Object) against a running Coffer, built the way web apps build
them: boto3's generate_presigned_post, then a raw multipart/form-data POST.

Reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION from the
environment. Expects buckets "forms" and "other" to exist and be empty. Prints
"boto3 post form ok" on success; any failure raises (non-zero exit).
"""

import os
import time
import urllib.error
import urllib.request
import uuid

from botocore.exceptions import ClientError
from coffer_client import client


def post(url, fields, body, filename="upload.txt"):
    """POST a multipart form; returns (status, response body)."""
    boundary = "----coffer" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + body
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    data = b"".join(parts)
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def keys(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def main() -> None:
    s3 = client()
    conditions = [
        ["starts-with", "$key", "uploads/"],
        ["content-length-range", 1, 1024],
        {"Content-Type": "text/plain"},
        {"success_action_status": "201"},
    ]
    fields = {"Content-Type": "text/plain", "success_action_status": "201"}

    def presigned(key, expires=300, extra_fields=None, extra_conditions=None, bucket="forms"):
        f = dict(fields)
        f.update(extra_fields or {})
        return s3.generate_presigned_post(
            bucket,
            key,
            Fields=f,
            Conditions=conditions + (extra_conditions or []),
            ExpiresIn=expires,
        )

    # 1. A valid form is stored, with the policy's content type.
    p = presigned("uploads/note.txt")
    status, text = post(p["url"], p["fields"], b"hello from a browser", filename="note.txt")
    assert status == 201, (status, text)
    assert "<Key>uploads/note.txt</Key>" in text, text
    obj = s3.get_object(Bucket="forms", Key="uploads/note.txt")
    assert obj["Body"].read() == b"hello from a browser"
    assert obj["ContentType"] == "text/plain", obj["ContentType"]

    refusals = []

    def refused(what, status, text, want=403):
        assert status == want, f"{what}: {status} {text}"
        refusals.append(what)

    # 2. A key outside the allowed prefix.
    p = presigned("uploads/ok.txt")
    f = dict(p["fields"], key="elsewhere/evil.txt")
    refused("key outside starts-with", *post(p["url"], f, b"evil"))

    # 3. Too large for content-length-range.
    p = presigned("uploads/big.txt")
    status, text = post(p["url"], p["fields"], b"x" * 2000)
    assert status == 400 and "EntityTooLarge" in text, (status, text)

    # 4. Another Content-Type than the policy allows.
    p = presigned("uploads/type.txt")
    f = dict(p["fields"], **{"Content-Type": "text/html"})
    refused("wrong Content-Type", *post(p["url"], f, b"<script>"))

    # 5. A field the policy does not cover.
    p = presigned("uploads/extra.txt")
    f = dict(p["fields"], **{"x-amz-meta-extra": "1"})
    refused("field not in policy", *post(p["url"], f, b"extra"))

    # 6. A forged signature.
    p = presigned("uploads/forged.txt")
    f = dict(p["fields"], **{"x-amz-signature": "0" * 64})
    refused("forged signature", *post(p["url"], f, b"forged"))

    # 7. No signature at all (anonymous form).
    refused(
        "unsigned form",
        *post(p["url"], {"key": "uploads/anon.txt", "Content-Type": "text/plain"}, b"anon"),
    )

    # 8. A policy signed for one bucket, posted to another.
    p = presigned("uploads/moved.txt")
    other = p["url"].rsplit("/forms", 1)[0] + "/other"
    refused("other bucket", *post(other, p["fields"], b"moved"))

    # 9. success_action_status other than the policy's.
    p = presigned("uploads/status.txt")
    f = dict(p["fields"], success_action_status="200")
    refused("success_action_status", *post(p["url"], f, b"status"))

    # 10. A public ACL, even when the policy signs it.
    p = presigned(
        "uploads/public.txt",
        extra_fields={"x-amz-acl": "public-read"},
        extra_conditions=[{"x-amz-acl": "public-read"}],
    )
    status, text = post(p["url"], p["fields"], b"public")
    assert status == 403 and "public access is disabled in Coffer" in text, (status, text)

    # The form's own "acl" field (what AWS documents for forms): public refused, private fine.
    p = presigned(
        "uploads/public-acl.txt",
        extra_fields={"acl": "public-read"},
        extra_conditions=[{"acl": "public-read"}],
    )
    status, text = post(p["url"], p["fields"], b"public")
    assert status == 403 and "public access is disabled in Coffer" in text, (status, text)
    p = presigned(
        "uploads/private-acl.txt",
        extra_fields={"acl": "private"},
        extra_conditions=[{"acl": "private"}],
    )
    status, text = post(p["url"], p["fields"], b"private")
    assert status == 201, (status, text)
    s3.delete_object(Bucket="forms", Key="uploads/private-acl.txt")

    # 11. The ${filename} placeholder is not substituted, so it is refused, not stored.
    p = presigned("uploads/${filename}")
    status, text = post(p["url"], p["fields"], b"placeholder", filename="x.txt")
    assert status == 501, (status, text)

    # 12. An expired policy.
    p = presigned("uploads/late.txt", expires=1)
    time.sleep(2)
    refused("expired policy", *post(p["url"], p["fields"], b"late"))

    assert keys(s3, "forms") == ["uploads/note.txt"], keys(s3, "forms")
    assert keys(s3, "other") == [], keys(s3, "other")
    print("boto3 post form ok", len(refusals))


if __name__ == "__main__":
    main()
