"""boto3 multipart transfers and presigned PUTs against a running Coffer.

Usage: boto3_multipart.py <scratch dir> <size in MiB>

For each of request_checksum_calculation "when_supported" and "when_required": upload_file
of a random file with multipart threads, download_file, compare bytes; then a presigned PUT
without and with a checksum header. Prints "boto3 multipart ok" on success.
"""

import hashlib
import os
import sys
import urllib.request

from boto3.s3.transfer import TransferConfig
from coffer_client import client

MIB = 1024 * 1024


def client_in(mode: str):
    return client(request_checksum_calculation=mode, response_checksum_validation=mode)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def put_url(url: str, body: bytes, headers: dict) -> int:
    req = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    with urllib.request.urlopen(req) as resp:
        return resp.status


def main() -> None:
    scratch, size_mib = sys.argv[1], int(sys.argv[2])
    src = os.path.join(scratch, "big.bin")
    with open(src, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(MIB))
        f.write(os.urandom(12345))
    want = sha256_of(src)
    transfer = TransferConfig(
        multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4
    )

    for mode in ("when_supported", "when_required"):
        s3 = client_in(mode)
        bucket = "boto-" + mode.replace("_", "-")
        s3.create_bucket(Bucket=bucket)
        s3.upload_file(src, bucket, "scan.bin", Config=transfer)
        head = s3.head_object(Bucket=bucket, Key="scan.bin")
        assert head["ContentLength"] == os.path.getsize(src), head
        assert head["ETag"].strip('"').endswith("-%d" % -(-os.path.getsize(src) // (8 * MIB))), head
        dst = os.path.join(scratch, "down-" + mode + ".bin")
        s3.download_file(bucket, "scan.bin", dst, Config=transfer)
        assert sha256_of(dst) == want, "downloaded bytes differ (" + mode + ")"
        os.remove(dst)

        # Presigned PUT, without and with a checksum header.
        body = os.urandom(100_000)
        url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
        )
        assert put_url(url, body, {}) == 200
        got = s3.get_object(Bucket=bucket, Key="presigned")["Body"].read()
        assert got == body, "presigned PUT stored other bytes"

        import base64
        import zlib

        crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": "presigned-crc", "ChecksumCRC32": crc},
            ExpiresIn=300,
        )
        assert put_url(url, body, {"x-amz-checksum-crc32": crc}) == 200
        out = s3.head_object(Bucket=bucket, Key="presigned-crc", ChecksumMode="ENABLED")
        assert out.get("ChecksumCRC32") == crc, out
        bad = base64.b64encode((zlib.crc32(body) ^ 1).to_bytes(4, "big")).decode()
        url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": "presigned-bad", "ChecksumCRC32": bad},
            ExpiresIn=300,
        )
        try:
            put_url(url, body, {"x-amz-checksum-crc32": bad})
            raise AssertionError("a wrong presigned checksum was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400, e.code
        try:
            s3.head_object(Bucket=bucket, Key="presigned-bad")
            raise AssertionError("a rejected presigned PUT stored an object")
        except s3.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] in ("404", "NoSuchKey"), e.response

        for key in ("scan.bin", "presigned", "presigned-crc"):
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
    print("boto3 multipart ok")


if __name__ == "__main__":
    main()
