#!/usr/bin/env bash
# Peak server RSS while one object of SIZE is PUT, then GET, in durable mode.
# Usage: benches/scripts/rss.sh [SIZE (default 1g)] [BIN_DIR (default target/release)]
set -euo pipefail
size=${1:-1g}
bin=${2:-target/release}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
export COFFER_ROOT_ACCESS_KEY=CFBENCHROOT0000000000 COFFER_ROOT_SECRET_KEY=bench-secret-0123456789
# A fresh data directory is set up with this key (no unlocker kept on the data disk).
COFFER_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export COFFER_MASTER_KEY
"$bin/coffer" serve --data "$dir/data" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/log" &
pid=$!
until grep -qs AWS_ENDPOINT_URL "$dir/out"; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
  sleep 0.05
done
export AWS_ENDPOINT_URL=$(sed -n 's/^AWS_ENDPOINT_URL=//p' "$dir/out") AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$COFFER_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$COFFER_ROOT_SECRET_KEY

# Samples VmRSS every 20 ms while the phase runs; prints the peak in MiB.
phase() {
  local peak=0 rss
  "$bin/coffer-load" --size "$size" --count 1 --concurrency 1 --phases "$1" &
  local load=$!
  while kill -0 "$load" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    (( rss > peak )) && peak=$rss
    sleep 0.02
  done
  wait "$load"
  echo "$1 $size: peak server RSS $((peak / 1024)) MiB"
}
echo "idle server RSS $(( $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") / 1024 )) MiB"
phase put
phase get
