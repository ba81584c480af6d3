#!/usr/bin/env python3
"""Coffer against s3s-fs 0.14.1, side by side, on this machine, in one run.

Usage:
    cargo build --release -p coffer-server -p coffer-benches
    cargo install s3s-fs --version 0.14.1 --features binary
    benches/scripts/compare.py [--rounds 3] [--quick] [--work DIR]

Three servers take the same matrix, interleaved (the order rotates each round):

- coffer durable: `coffer serve --data DIR` (sealed, fsync before every answer, audit on);
- coffer relaxed: the same with `--durability relaxed` (no fsync per write);
- s3s-fs: the s3s crate's example file server (plain files, no fsync, no encryption).

Every cell starts fresh servers on fresh directories under --work (on the same file
system for all three, default target/compare) and removes them after, so no server
sees another's data and the disk never holds more than one cell. The load is
`coffer-load` (same SDK, same bodies; it checks every GET's bytes, and a cell with an
error is reported as such, not as a number).

Cells: PUT and GET of 4 KiB at concurrency 1 and 16, 1 MiB at 4, 64 MiB at 1 and 4;
ListObjectsV2 of 10,000 keys; start to first answered request (`coffer serve
--ephemeral` against s3s-fs on an empty directory); server RSS idle, and peak over a
1 GiB PUT then GET. Prints the median of the rounds for each server, and the ratios
Coffer / s3s-fs (above 1: Coffer is better, for times and memory too).

`--only throwaway` measures the test-suite modes instead: start to first request and RSS
idle of `coffer serve --in-memory` and `--ephemeral` against s3s-fs.
"""

import argparse
import base64
import http.client
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "CFCOMPARE" + secrets.token_hex(6).upper()
SECRET_KEY = secrets.token_urlsafe(30)
REGION = "us-east-1"

# name, object size, concurrency, objects (full run), objects (--quick)
CELLS = [
    ("4 KiB c1", "4k", 1, 500, 100),
    ("4 KiB c16", "4k", 16, 3000, 500),
    ("1 MiB c4", "1m", 4, 200, 40),
    ("64 MiB c1", "64m", 1, 6, 2),
    ("64 MiB c4", "64m", 4, 12, 4),
]
LIST_KEYS = 10_000
SERVERS = ["coffer durable", "coffer relaxed", "s3s-fs"]
PARTS = ["startup", "memory", "throughput", "listing", "throwaway"]
# The modes of the `throwaway` part, by their column name.
THROWAWAY = ["coffer --in-memory", "coffer --ephemeral", "s3s-fs"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def list_buckets(port: int) -> bool:
    """One SigV4-signed ListBuckets over a raw connection: True if it got a 200."""
    url = f"http://127.0.0.1:{port}/"
    req = AWSRequest(method="GET", url=url, headers={})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(req)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/", headers=dict(req.headers.items()))
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def proc_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Server:
    """One server on a fresh directory; `start` returns once it answers a signed request."""

    def __init__(self, kind: str, args, work: str):
        self.kind, self.args = kind, args
        self.dir = tempfile.mkdtemp(prefix=kind.replace(" ", "-") + "-", dir=work)
        self.port = free_port()
        self.proc = None

    def command(self, mode: str = "data"):
        listen = f"127.0.0.1:{self.port}"
        if self.kind == "s3s-fs":
            root = os.path.join(self.dir, "root")
            os.makedirs(root, exist_ok=True)
            return [self.args.s3s_fs, "--host", "127.0.0.1", "--port", str(self.port),
                    "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, root]
        if mode != "data":
            return [self.args.coffer, "serve", f"--{mode}", "--listen", listen]
        cmd = [self.args.coffer, "serve", "--data", os.path.join(self.dir, "data"),
               "--listen", listen]
        if self.kind == "coffer relaxed":
            cmd += ["--durability", "relaxed"]
        return cmd

    def start(self, mode: str = "data") -> float:
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        env.update({
            "COFFER_ROOT_ACCESS_KEY": ACCESS_KEY,
            "COFFER_ROOT_SECRET_KEY": SECRET_KEY,
            "COFFER_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        })
        # Start on a quiet disk: the previous cell's dirty pages would otherwise be written
        # back while this server creates its files, and the start would measure that.
        os.sync()
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command(mode), env=env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "w"))
        while not list_buckets(self.port):
            if self.proc.poll() is not None:
                sys.exit(f"{self.kind} exited at start: see {self.dir}/log")
            if time.perf_counter() - started > 30:
                sys.exit(f"{self.kind} did not answer within 30 s")
            time.sleep(0.001)
        return time.perf_counter() - started

    def env(self):
        env = dict(os.environ)
        env.update({
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        })
        return env

    def load(self, bucket, size, concurrency, count, phases):
        """coffer-load's phases as dicts; None for a phase with errors."""
        out = subprocess.run(
            [self.args.load, "--bucket", bucket, "--size", size, "--concurrency",
             str(concurrency), "--count", str(count), "--phases", phases, "--json"],
            env=self.env(), capture_output=True, text=True)
        results = {}
        for line in out.stdout.splitlines():
            r = json.loads(line)
            results[r["phase"]] = r if r["errors"] == 0 else None
        if out.returncode != 0:
            print(f"  {self.kind}: coffer-load failed: {out.stderr.strip()[-300:]}",
                  file=sys.stderr)
            for phase in phases.split(","):
                results.setdefault(phase, None)
        return results

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def rotated(round_no):
    k = round_no % len(SERVERS)
    return SERVERS[k:] + SERVERS[:k]


def run(args):
    os.makedirs(args.work, exist_ok=True)
    # results[metric][server] = [values over rounds]; metric: (label, unit, higher_is_better)
    results, units = {}, {}

    def note(metric, unit, better_high, server, value):
        units[metric] = (unit, better_high)
        results.setdefault(metric, {}).setdefault(server, []).append(value)

    for rnd in range(args.rounds):
        order = rotated(rnd)
        print(f"round {rnd + 1}/{args.rounds}: order {', '.join(order)}", file=sys.stderr)
        # Start-up and memory: fresh servers.
        # `coffer --ephemeral` (relaxed by nature) against s3s-fs on an empty directory.
        for kind in order:
            if kind == "coffer durable" or not wanted(args, "startup"):
                continue
            s = Server(kind, args, args.work)
            try:
                took = s.start("data" if kind == "s3s-fs" else "ephemeral")
                note("start to first request (coffer: --ephemeral)", "ms", False, kind,
                     took * 1e3)
            finally:
                s.stop()
        for kind in order if wanted(args, "memory") else []:
            s = Server(kind, args, args.work)
            try:
                s.start()
                time.sleep(1)
                note("RSS idle", "MiB", False, kind, proc_kib(s.proc.pid, "VmRSS") / 1024)
                big = s.load("rss", args.rss_size, 1, 1, "put,get")
                if big.get("put") and big.get("get"):
                    note(f"RSS peak, {args.rss_size} PUT then GET", "MiB", False, kind,
                         proc_kib(s.proc.pid, "VmHWM") / 1024)
            finally:
                s.stop()
        # Throughput cells.
        for name, size, conc, count, quick in CELLS if wanted(args, "throughput") else []:
            n = quick if args.quick else count
            for kind in order:
                s = Server(kind, args, args.work)
                try:
                    s.start()
                    r = s.load("cell", size, conc, n, "put,get")
                finally:
                    s.stop()
                for phase in ("put", "get"):
                    metric = f"{phase.upper()} {name}"
                    big = size.endswith("m")
                    value = r.get(phase)
                    if value is None:
                        note(metric, "error", True, kind, float("nan"))
                    elif big:
                        note(metric, "MiB/s", True, kind, value["mib_per_s"])
                    else:
                        note(metric, "ops/s", True, kind, value["ops_per_s"])
        # Listing.
        keys = 2000 if args.quick else LIST_KEYS
        for kind in order if wanted(args, "listing") else []:
            s = Server(kind, args, args.work)
            try:
                s.start()
                r = s.load("listing", "1k", 16, keys, "put,list")
            finally:
                s.stop()
            value = r.get("list")
            note(f"ListObjectsV2 of {keys} keys", "ms", False, kind,
                 float("nan") if value is None else value["secs"] * 1e3)
    return results, units


def run_throwaway(args):
    """Start to first request and RSS idle of the test-suite modes, against s3s-fs."""
    os.makedirs(args.work, exist_ok=True)
    results = {}
    for rnd in range(args.rounds):
        order = THROWAWAY[rnd % 3:] + THROWAWAY[:rnd % 3]
        print(f"round {rnd + 1}/{args.rounds}: order {', '.join(order)}", file=sys.stderr)
        for column in order:
            kind = "s3s-fs" if column == "s3s-fs" else "coffer relaxed"
            mode = "data" if column == "s3s-fs" else column.split("--")[1]
            s = Server(kind, args, args.work)
            try:
                took = s.start(mode)
                time.sleep(1)
                rss = proc_kib(s.proc.pid, "VmRSS") / 1024
            finally:
                s.stop()
            results.setdefault("start to first request (ms)", {}).setdefault(column, []).append(took * 1e3)
            results.setdefault("RSS idle (MiB)", {}).setdefault(column, []).append(rss)
    lines = [f"| measurement (median of {args.rounds}) | " + " | ".join(THROWAWAY) + " |",
             "|---|" + "---:|" * len(THROWAWAY)]
    for metric, by in results.items():
        lines.append(f"| {metric} | " + " | ".join(f"{median(by[c]):.1f}" for c in THROWAWAY) + " |")
    return "\n".join(lines)


def wanted(args, part):
    return not args.only or part in args.only


def median(values):
    good = [v for v in values if v == v]
    return statistics.median(good) if len(good) == len(values) and good else float("nan")


def table(results, units, rounds):
    lines = [
        f"| measurement (median of {rounds}) | coffer durable | coffer relaxed | s3s-fs "
        "| durable / s3s-fs | relaxed / s3s-fs |",
        "|---|---|---|---|---|---|",
    ]
    for metric, per in results.items():
        unit, better_high = units[metric]
        m = {k: median(v) for k, v in per.items()}

        def cell(k):
            v = m.get(k)
            if v is None:
                return "–"
            return "error" if v != v else f"{v:,.1f} {unit}"

        def ratio(k):
            v, peer = m.get(k), m.get("s3s-fs")
            if v is None or peer is None or v != v or peer != peer or v == 0 or peer == 0:
                return "–"
            return f"**{(v / peer if better_high else peer / v):.2f}×**"

        lines.append(f"| {metric} | {cell('coffer durable')} | {cell('coffer relaxed')} | "
                     f"{cell('s3s-fs')} | {ratio('coffer durable')} | {ratio('coffer relaxed')} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--coffer", default="target/release/coffer")
    p.add_argument("--load", default="target/release/coffer-load")
    p.add_argument("--s3s-fs", default=shutil.which("s3s-fs") or "s3s-fs")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", action="append", choices=PARTS,
                   help="run only this part (repeatable); default: all")
    p.add_argument("--quick", action="store_true", help="fewer objects per cell")
    p.add_argument("--rss-size", default="1g", help="object size of the RSS cell")
    p.add_argument("--work", default="target/compare",
                   help="where the servers keep their data (one file system for all)")
    p.add_argument("--json", help="also write the raw results to this file")
    args = p.parse_args()
    for path in (args.coffer, args.load, args.s3s_fs):
        if not shutil.which(path) and not os.path.exists(path):
            sys.exit(f"not found: {path} (see the usage at the top of this script)")
    if args.only == ["throwaway"]:
        print(run_throwaway(args))
        return
    results, units = run(args)
    print(table(results, units, args.rounds))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
