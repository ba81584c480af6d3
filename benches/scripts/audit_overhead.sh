#!/bin/bash
# What the audit trail costs (issue 11): one round against a fresh release server,
# 3000 x 4 KiB PUT then GET at concurrency 16, with the trail on or off (--no-audit).
#   usage: benches/scripts/audit_overhead.sh ephemeral|durable on|off ROUND
# Build first: cargo build --release -p coffer-server -p coffer-benches --bins
set -e
mode=$1; audit=$2; round=$3
dir=$(mktemp -d)
args=(serve --listen 127.0.0.1:0)
if [ "$mode" = durable ]; then args+=(--data "$dir/data"); else args+=(--ephemeral); fi
envs=(COFFER_ROOT_ACCESS_KEY=AKIABENCHBENCHBENCH0 COFFER_ROOT_SECRET_KEY=benchsecretbenchsecret00)
[ "$mode" = durable ] && envs+=(COFFER_MASTER_KEY=$(openssl rand -base64 32))
[ "$audit" = off ] && envs+=(COFFER_NO_AUDIT=true)
env "${envs[@]}" $(dirname "$0")/../../target/release/coffer "${args[@]}" > "$dir/out" 2> "$dir/err" &
pid=$!
for i in $(seq 100); do grep -q AWS_ENDPOINT_URL "$dir/out" 2>/dev/null && break; sleep 0.1; done
export $(grep '^AWS_ENDPOINT_URL=' "$dir/out")
export AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH0 AWS_SECRET_ACCESS_KEY=benchsecretbenchsecret00 AWS_REGION=us-east-1
res=$($(dirname "$0")/../../target/release/coffer-load --bucket benchb --size 4k --count 3000 --concurrency 16 2>&1)
echo "== $mode audit=$audit round=$round"; echo "$res" | tail -6
kill $pid; wait $pid 2>/dev/null || true
rm -rf "$dir"
