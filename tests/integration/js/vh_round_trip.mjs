// The AWS JS SDK v3 without forcePathStyle against a Coffer served under a name.
//
// Reads AWS_ENDPOINT_URL (http://coffer.test:<port>), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION. Names under coffer.test resolve to 127.0.0.1 through
// the `lookup` of the http.Agent handed to NodeHttpHandler (no real DNS), so the SDK
// addresses buckets as <bucket>.coffer.test:<port>, as it does by default in production.
// Does PUT, GET, LIST, a multipart upload and a presigned GET, checks every request went to
// the bucket host, and prints "js sdk virtual-hosted ok". Any failure exits non-zero.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import dns from "node:dns";
import http from "node:http";

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const DOMAIN = "coffer.test";
const MIB = 1024 * 1024;

function lookup(hostname, options, callback) {
  if (hostname === DOMAIN || hostname.endsWith("." + DOMAIN)) {
    if (options && options.all) {
      return callback(null, [{ address: "127.0.0.1", family: 4 }]);
    }
    return callback(null, "127.0.0.1", 4);
  }
  return dns.lookup(hostname, options, callback);
}

const agent = new http.Agent({ keepAlive: true, lookup });

const s3 = new S3Client({
  endpoint: process.env.AWS_ENDPOINT_URL,
  region: process.env.AWS_REGION || "us-east-1",
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
  // No forcePathStyle: the SDK's default addressing.
  requestHandler: new NodeHttpHandler({ httpAgent: agent }),
  maxAttempts: 1,
});

const hosts = [];
s3.middlewareStack.add(
  (next) => async (args) => {
    hosts.push(args.request.hostname);
    return next(args);
  },
  { step: "finalizeRequest", name: "recordHost" },
);

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

async function main() {
  const Bucket = "js-vh";
  const bucketHost = `${Bucket}.${DOMAIN}`;

  await s3.send(new CreateBucketCommand({ Bucket }));
  const small = crypto.randomBytes(64 * 1024 + 5);
  await s3.send(new PutObjectCommand({ Bucket, Key: "scans/a.bin", Body: small }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: "scans/a.bin" }));
  assert.deepEqual(Buffer.from(await got.Body.transformToByteArray()), small);

  // Multipart: a 5 MiB part and a short last one.
  const big = crypto.randomBytes(5 * MIB + 321);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: "big.bin" }));
  const Parts = [];
  for (const [i, Body] of [big.subarray(0, 5 * MIB), big.subarray(5 * MIB)].entries()) {
    const PartNumber = i + 1;
    const part = await s3.send(
      new UploadPartCommand({ Bucket, Key: "big.bin", UploadId, PartNumber, Body }),
    );
    Parts.push({ PartNumber, ETag: part.ETag });
  }
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key: "big.bin",
      UploadId,
      MultipartUpload: { Parts },
    }),
  );
  const whole = await s3.send(new GetObjectCommand({ Bucket, Key: "big.bin" }));
  assert.ok(Buffer.from(await whole.Body.transformToByteArray()).equals(big));

  const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
  assert.deepEqual(
    listed.Contents.map((o) => o.Key),
    ["big.bin", "scans/a.bin"],
  );

  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: "scans/a.bin" }), {
    expiresIn: 300,
  });
  assert.equal(new URL(url).hostname, bucketHost, url);
  const presigned = await get(url);
  assert.equal(presigned.status, 200, presigned.body.toString());
  assert.ok(presigned.body.equals(small));

  for (const Key of ["big.bin", "scans/a.bin"]) {
    await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket }));

  assert.ok(hosts.length > 0);
  for (const host of hosts) {
    assert.equal(host, bucketHost, `a request went to ${host}`);
  }
  console.log("js sdk virtual-hosted ok");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
