"""A session-scoped Coffer for a pytest suite: one throwaway server per test run.

Copy this file next to your tests. It starts `coffer serve --in-memory` (the binary named by
$COFFER_BIN, or `coffer` on PATH), reads the one JSON line `--print-env json` prints once the
server is ready, and yields a boto3 client signed with the generated root credentials.
The server's stdin is a pipe this process holds, so it stops when the run ends, even if
pytest is killed: nothing to clean up.
"""

import json
import os
import subprocess

import boto3
import pytest
from botocore.config import Config


@pytest.fixture(scope="session")
def coffer_env():
    server = subprocess.Popen(
        [os.environ.get("COFFER_BIN", "coffer"), "serve", "--in-memory",
         "--bucket", "fixtures", "--print-env", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    line = server.stdout.readline()
    if not line:
        raise RuntimeError(f"coffer exited with {server.wait()} before it was ready")
    yield json.loads(line)
    server.stdin.close()  # the server stops at end of file
    server.wait(timeout=30)


@pytest.fixture(scope="session")
def s3(coffer_env):
    return boto3.client(
        "s3",
        endpoint_url=coffer_env["AWS_ENDPOINT_URL"],
        region_name=coffer_env["AWS_REGION"],
        aws_access_key_id=coffer_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=coffer_env["AWS_SECRET_ACCESS_KEY"],
        # Coffer refuses SigV2, which boto3 still uses for presigned URLs by default.
        config=Config(signature_version="s3v4"),
    )
