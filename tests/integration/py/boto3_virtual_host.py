"""boto3 with its default addressing against a Coffer served under a name.

Reads AWS_ENDPOINT_URL (http://coffer.test:<port>), AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_REGION from the environment. Names under coffer.test are
resolved to 127.0.0.1 by patching socket.getaddrinfo here (no real DNS).

Runs twice: with addressing_style "virtual" (what boto3 uses against AWS by default, and
what apps set for a named server), checking every request went to <bucket>.coffer.test;
and with boto3's default, which for an endpoint_url is path-style on coffer.test itself.
Each does PUT, GET, LIST, a multipart upload and a presigned GET. Prints
"boto3 virtual-hosted ok" on success; any failure raises (non-zero exit).
"""

import io
import os
import socket
import sys
import urllib.parse
import urllib.request

from boto3.s3.transfer import TransferConfig
from coffer_client import client

DOMAIN = "coffer.test"
MIB = 1024 * 1024

_real_getaddrinfo = socket.getaddrinfo


def _test_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name and (name == DOMAIN or name.endswith("." + DOMAIN)):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _test_getaddrinfo


def round_trip(style) -> None:
    s3 = client(addressing_style=style)
    bucket = "boto3-%s" % (style or "default")
    expected_host = "%s.%s" % (bucket, DOMAIN) if style == "virtual" else DOMAIN
    hosts = []
    s3.meta.events.register(
        "before-send.s3.*", lambda request, **_: hosts.append(urllib.parse.urlsplit(request.url).hostname)
    )

    s3.create_bucket(Bucket=bucket)
    body = os.urandom(1024 * 1024 + 7)
    s3.put_object(Bucket=bucket, Key="scans/a.bin", Body=body)
    assert s3.get_object(Bucket=bucket, Key="scans/a.bin")["Body"].read() == body

    # Multipart through the transfer manager: 11 MiB in 5 MiB parts.
    big = os.urandom(11 * MIB)
    cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    s3.upload_fileobj(io.BytesIO(big), bucket, "big.bin", Config=cfg)
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big.bin", out, Config=cfg)
    assert out.getvalue() == big

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["big.bin", "scans/a.bin"], keys

    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "scans/a.bin"}, ExpiresIn=300
    )
    assert urllib.parse.urlsplit(url).hostname == expected_host, url
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == body

    for key in ["big.bin", "scans/a.bin"]:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)

    # Every request went to the host this style names.
    assert hosts and all(h == expected_host for h in hosts), (style, hosts)


def main() -> None:
    round_trip("virtual")
    round_trip(None)
    print("boto3 virtual-hosted ok")


if __name__ == "__main__":
    main()
    sys.exit(0)
