#!/bin/bash
# Start-up time of a durable server on a data directory holding COUNT (default 1,000,000)
# small objects (issue 13): the directory is filled once through the storage crate
# (coffer-fill), then the server is started ROUNDS (default 3) times and timed to its
# endpoint line (ready) and to a first signed GET answered. The log shows when the
# background tidying pass (which does walk the chunk tree) finished.
#   usage: benches/scripts/startup_at_scale.sh [PROFILE_DIR]   (default target/release)
# Build first: cargo build --release -p coffer-server -p coffer-benches --bins
set -e
bin=${1:-$(dirname "$0")/../../target/release}
count=${COUNT:-1000000}
dir=$(mktemp -d)
export AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH0 AWS_SECRET_ACCESS_KEY=benchsecretbenchsecret00 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export COFFER_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID COFFER_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY
export COFFER_MASTER_KEY=$(openssl rand -base64 32)
now() { date +%s.%N; }
start() {
    : > "$dir/out"
    COFFER_LOG=info,coffer_storage=debug "$bin/coffer" serve --listen 127.0.0.1:0 --data "$dir/data" > "$dir/out" 2> "$dir/err" &
    pid=$!
    until grep -q AWS_ENDPOINT_URL "$dir/out" 2>/dev/null; do sleep 0.005; done
    export $(grep '^AWS_ENDPOINT_URL=' "$dir/out")
}
start
aws s3api create-bucket --bucket scale > /dev/null
kill $pid; wait $pid 2>/dev/null || true
"$bin/coffer-fill" --data "$dir/data" --bucket scale --count "$count" --size 100
du -sh "$dir/data/index.redb" "$dir/data/chunks"
for round in $(seq "${ROUNDS:-3}"); do
    sync; t0=$(now); start; t1=$(now)
    aws s3api head-object --bucket scale --key "fill/$((count - 1))" > /dev/null; t2=$(now)
    sleep "${TIDY_WAIT:-60}"
    tidy=$(grep -o 'tidied the chunk tree after open.*' "$dir/err" | head -1)
    echo "round $round: ready $(echo "$t1 - $t0" | bc) s; first HEAD answered $(echo "$t2 - $t0" | bc) s (aws CLI start-up included); RSS $(ps -o rss= -p $pid) KiB; ${tidy:-tidy pass not finished}"
    kill $pid; wait $pid 2>/dev/null || true
done
rm -rf "$dir"
