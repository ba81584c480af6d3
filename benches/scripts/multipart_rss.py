"""Peak RSS of coffer during a large multipart upload and download with 4 concurrent parts.

Usage: benches/scripts/multipart_rss.py path/to/coffer SIZE_MIB

Starts an ephemeral server, uploads SIZE_MIB of generated data with boto3's transfer
manager (64 MiB parts, 4 in flight), downloads it the same way, compares SHA-256, and prints
throughput and the server's VmHWM / sampled peak VmRSS.
"""
import hashlib, os, subprocess, sys, tempfile, threading, time
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import Config

SIZE = int(sys.argv[2]) << 20  # MiB
PART = 64 << 20
binary = sys.argv[1]
env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
scratch = tempfile.mkdtemp(prefix="coffer-mpu-rss-")
env["TMPDIR"] = scratch
proc = subprocess.Popen([binary, "serve", "--ephemeral", "--listen", "127.0.0.1:0"],
                        stdout=subprocess.PIPE, stderr=open(os.path.join(scratch, "server.log"), "w"), env=env, text=True)
vars = {}
while len(vars) < 4:
    line = proc.stdout.readline()
    if "=" in line:
        k, v = line.strip().split("=", 1)
        vars[k] = v

def status(field):
    for l in open(f"/proc/{proc.pid}/status"):
        if l.startswith(field):
            return int(l.split()[1]) // 1024
peak_rss = [0]
def sampler():
    while proc.poll() is None:
        try:
            peak_rss[0] = max(peak_rss[0], status("VmRSS"))
        except Exception:
            return
        time.sleep(0.05)
threading.Thread(target=sampler, daemon=True).start()

s3 = boto3.client("s3", endpoint_url=vars["AWS_ENDPOINT_URL"], aws_access_key_id=vars["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=vars["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=8))
s3.create_bucket(Bucket="rss")
cfg = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)

class Gen:
    def __init__(self, n):
        self.left = n; self.h = hashlib.sha256(); self.block = os.urandom(1 << 20); self.i = 0
    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        out = bytearray()
        while len(out) < n:
            self.i += 1
            b = self.block[:min(len(self.block), n - len(out))]
            out += self.i.to_bytes(8, "little") + b[8:] if len(b) > 8 else b
        out = bytes(out[:n]); self.left -= n; self.h.update(out)
        return out

class Sink:
    def __init__(self): self.h = hashlib.sha256(); self.n = 0
    def write(self, b): self.h.update(b); self.n += len(b); return len(b)

base = status("VmHWM")
g = Gen(SIZE)
t = time.time(); s3.upload_fileobj(g, "rss", "big", Config=cfg); up = time.time() - t
hwm_up = status("VmHWM")
sink = Sink()
t = time.time(); s3.download_fileobj("rss", "big", sink, Config=cfg); down = time.time() - t
hwm_all = status("VmHWM")
assert sink.n == SIZE and sink.h.hexdigest() == g.h.hexdigest(), "bytes differ"
head = s3.head_object(Bucket="rss", Key="big")
print(f"size={SIZE>>20} MiB parts={head['ETag']} start_hwm={base} MiB")
print(f"upload: {up:.1f}s {SIZE/up/1e6:.0f} MB/s, VmHWM after upload {hwm_up} MiB")
print(f"download: {down:.1f}s {SIZE/down/1e6:.0f} MB/s, VmHWM after download {hwm_all} MiB, sampled peak VmRSS {peak_rss[0]} MiB")
proc.terminate(); proc.wait()
