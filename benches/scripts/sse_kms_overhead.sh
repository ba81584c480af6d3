#!/bin/bash
# What sealing under a KMS key costs (issue 12): one round against a fresh durable release
# server, COUNT (default 3000) x SIZE PUT then GET at concurrency 16, into a bucket whose default
# encryption is SSE-S3 (Coffer's own keys) or aws:kms under a KMS key made for the round.
#   usage: benches/scripts/sse_kms_overhead.sh s3|kms SIZE ROUND   (SIZE e.g. 4k, 1m)
# Build first: cargo build --release -p coffer-server -p coffer-benches --bins
set -e
sse=$1; size=$2; round=$3
bin=$(dirname "$0")/../../target/release
dir=$(mktemp -d)
export AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH0 AWS_SECRET_ACCESS_KEY=benchsecretbenchsecret00 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
env COFFER_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID COFFER_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
    COFFER_MASTER_KEY=$(openssl rand -base64 32) \
    "$bin/coffer" serve --listen 127.0.0.1:0 --data "$dir/data" > "$dir/out" 2> "$dir/err" &
pid=$!
for i in $(seq 100); do grep -q AWS_ENDPOINT_URL "$dir/out" 2>/dev/null && break; sleep 0.1; done
export $(grep '^AWS_ENDPOINT_URL=' "$dir/out")
aws s3api create-bucket --bucket benchk > /dev/null
if [ "$sse" = kms ]; then
    key=$(aws kms create-key --query KeyMetadata.KeyId --output text)
    aws s3api put-bucket-encryption --bucket benchk --server-side-encryption-configuration \
        "{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"$key\"}}]}"
fi
res=$("$bin/coffer-load" --bucket benchk --size "$size" --count "${COUNT:-3000}" --concurrency 16 2>&1)
echo "== sse=$sse size=$size round=$round"; echo "$res" | tail -6
kill $pid; wait $pid 2>/dev/null || true
rm -rf "$dir"
