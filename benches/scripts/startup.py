#!/usr/bin/env python3
"""Time from `coffer serve --ephemeral` start to its first successful ListBuckets.

Usage: benches/scripts/startup.py [path/to/coffer] [runs]

Each run starts a fresh ephemeral server, reads the AWS_* lines it prints, and
sends one SigV4-signed ListBuckets over a raw HTTP connection (botocore only
signs, so client start-up cost stays out of the figure). Prints the median,
min and max in milliseconds.
"""

import http.client
import os
import signal
import statistics
import subprocess
import sys
import time
from urllib.parse import urlparse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def one_run(binary: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "serve", "--ephemeral", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env = {}
    try:
        while len(env) < 4:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("coffer exited before printing its endpoint")
            if line.startswith("AWS_") and "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
        url = env["AWS_ENDPOINT_URL"] + "/"
        req = AWSRequest(method="GET", url=url, headers={})
        creds = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        S3SigV4Auth(creds, "s3", env["AWS_REGION"]).add_auth(req)
        u = urlparse(url)
        conn = http.client.HTTPConnection(u.hostname, u.port)
        conn.request("GET", "/", headers=dict(req.headers.items()))
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"ListBuckets answered {resp.status}")
        return (time.perf_counter() - t0) * 1000.0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/coffer"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: build it with cargo build --release -p coffer-server")
    times = [one_run(binary) for _ in range(runs)]
    print(
        f"start → first ListBuckets over {runs} runs: median {statistics.median(times):.1f} ms, "
        f"min {min(times):.1f} ms, max {max(times):.1f} ms"
    )


if __name__ == "__main__":
    main()
