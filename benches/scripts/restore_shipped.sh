#!/usr/bin/env bash
# Restore time of a data directory from the index its server ships beside its remote
# chunks (`coffer restore --from s3://…`), for COUNT small objects, in one run:
#
#   1. a primary with --chunk-store (the remote: a second Coffer on loopback) takes COUNT
#      PUTs of SIZE bytes and is stopped: what is shipped is snapshot 0 (nearly empty)
#      and the log segments of every commit since, so the first restore replays logs;
#   2. the primary starts once more and stops: its new epoch begins with a snapshot of the
#      whole index, so the second restore loads one snapshot.
#
#   benches/scripts/restore_shipped.sh [BIN_DIR]     (default target/release)
#   COUNT=100000 SIZE=1k CONC=32 benches/scripts/restore_shipped.sh target/debug
set -euo pipefail
BIN=${1:-target/release}
COUNT=${COUNT:-100000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export COFFER_MASTER_KEY COFFER_ROOT_ACCESS_KEY COFFER_ROOT_SECRET_KEY
COFFER_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
# One known root for every server, so each prints its credentials.
COFFER_ROOT_ACCESS_KEY=BENCHROOT$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
COFFER_ROOT_SECRET_KEY=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

# Starts `coffer serve ARGS…` in the background and prints its --print-env json line.
start() {
    local name=$1
    shift
    : >"$work/$name.out"
    "$BIN/coffer" serve "$@" --listen 127.0.0.1:0 --print-env json >"$work/$name.out" 2>>"$work/$name.err" &
    echo $! >"$work/$name.pid"
    for _ in $(seq 600); do
        [ -s "$work/$name.out" ] && break
        sleep 0.05
    done
    head -1 "$work/$name.out"
}
# Stops a server and waits until it has exited (its last shipment and the lease's release).
stop() {
    local pid
    pid=$(cat "$work/$1.pid")
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
as_client() { # env-json command…
    local vars=$1
    shift
    AWS_ENDPOINT_URL=$(field "$vars" AWS_ENDPOINT_URL) AWS_ACCESS_KEY_ID=$COFFER_ROOT_ACCESS_KEY \
        AWS_SECRET_ACCESS_KEY=$COFFER_ROOT_SECRET_KEY AWS_REGION=us-east-1 "$@"
}

remote=$(start remote --ephemeral)
as_client "$remote" aws s3 mb s3://chunks >/dev/null
export COFFER_CHUNK_STORE_ACCESS_KEY COFFER_CHUNK_STORE_SECRET_KEY
COFFER_CHUNK_STORE_ACCESS_KEY=$COFFER_ROOT_ACCESS_KEY
COFFER_CHUNK_STORE_SECRET_KEY=$COFFER_ROOT_SECRET_KEY
endpoint=$(field "$remote" AWS_ENDPOINT_URL)
flags=(--data "$work/primary" --chunk-store s3://chunks/bench --chunk-store-endpoint "$endpoint")

primary=$(start primary "${flags[@]}")
echo "== $COUNT PUTs of ${SIZE:-1k} through the primary"
as_client "$primary" "$BIN/coffer-load" --size "${SIZE:-1k}" --count "$COUNT" \
    --concurrency "${CONC:-32}" --phases put
stop primary

restore() {
    local into=$1
    /usr/bin/time -f "%e s wall, %M KiB max RSS" "$BIN/coffer" restore --from s3://chunks/bench \
        --chunk-store-endpoint "$endpoint" --data "$into" --json
}
echo "== restore 1: snapshot 0 and the logs of $COUNT PUTs"
restore "$work/restored-from-logs"
echo "== index sizes (bytes): primary $(stat -c %s "$work/primary/index.redb"), restored $(stat -c %s "$work/restored-from-logs/index.redb")"

start primary "${flags[@]}" >/dev/null
stop primary
echo "== restore 2: one snapshot of the whole index"
restore "$work/restored-from-snapshot"

echo "== the restored directory serves: list the bucket"
copy=$(start copy --data "$work/restored-from-snapshot")
as_client "$copy" "$BIN/coffer-load" --count "$COUNT" --phases list --concurrency 1
