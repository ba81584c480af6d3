#!/usr/bin/env bash
# PUT/GET throughput of Coffer with its chunks in its data directory against Coffer with its
# chunks on a remote S3 store (`--chunk-store`), here a second Coffer on loopback, in one run.
#
#   benches/scripts/remote_chunks.sh [BIN_DIR]     (default target/release)
#   SIZE=4m COUNT=64 CONC=4 CACHE=0 benches/scripts/remote_chunks.sh
#
# CACHE is the via-remote server's --cache-size (0: every GET reads the remote).
set -euo pipefail
BIN=${1:-target/release}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts `coffer serve ARGS…` and prints its --print-env json line once ready.
start() {
    local name=$1
    shift
    "$BIN/coffer" serve "$@" --listen 127.0.0.1:0 --print-env json >"$work/$name.out" 2>"$work/$name.err" &
    for _ in $(seq 200); do
        [ -s "$work/$name.out" ] && break
        sleep 0.05
    done
    head -1 "$work/$name.out"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
as_client() { # env-json command…
    local vars=$1
    shift
    AWS_ENDPOINT_URL=$(field "$vars" AWS_ENDPOINT_URL) \
        AWS_ACCESS_KEY_ID=$(field "$vars" AWS_ACCESS_KEY_ID) \
        AWS_SECRET_ACCESS_KEY=$(field "$vars" AWS_SECRET_ACCESS_KEY) AWS_REGION=us-east-1 "$@"
}

remote=$(start remote --ephemeral)
as_client "$remote" aws s3 mb s3://chunks >/dev/null
local_chunks=$(start local --ephemeral)
export COFFER_CHUNK_STORE_ACCESS_KEY COFFER_CHUNK_STORE_SECRET_KEY
COFFER_CHUNK_STORE_ACCESS_KEY=$(field "$remote" AWS_ACCESS_KEY_ID)
COFFER_CHUNK_STORE_SECRET_KEY=$(field "$remote" AWS_SECRET_ACCESS_KEY)
via_remote=$(start via-remote --ephemeral --chunk-store s3://chunks/bench \
    --chunk-store-endpoint "$(field "$remote" AWS_ENDPOINT_URL)" --cache-size "${CACHE:-256MiB}")
for who in local_chunks via_remote; do
    echo "== $who"
    as_client "${!who}" "$BIN/coffer-load" --size "${SIZE:-4m}" --count "${COUNT:-64}" \
        --concurrency "${CONC:-4}" --phases put,get
done
