// A Coffer for a node:test suite, with the AWS JS SDK v3 (npm install @aws-sdk/client-s3).
//
// Starts `coffer serve --in-memory` (the binary named by $COFFER_BIN, or `coffer` on PATH)
// before the tests, reads the one JSON line `--print-env json` prints once it is ready, and
// closes the server's stdin after them: the server stops at end of file, and also if this
// process dies first. Run: node --test examples/node/
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

let coffer;
let env;
let s3;

before(async () => {
  coffer = spawn(
    process.env.COFFER_BIN ?? "coffer",
    ["serve", "--in-memory", "--bucket", "fixtures", "--print-env", "json"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: coffer.stdout }).once("line", resolve);
    coffer.once("exit", (code) => reject(new Error(`coffer exited with ${code}`)));
  });
  env = JSON.parse(line);
  s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    },
  });
});

after(() => {
  s3?.destroy();
  coffer?.stdin.end();
});

test("the fixture bucket is ready and round-trips a body", async () => {
  await s3.send(new PutObjectCommand({ Bucket: "fixtures", Key: "scan.pdf", Body: "%PDF-1.7" }));
  const got = await s3.send(new GetObjectCommand({ Bucket: "fixtures", Key: "scan.pdf" }));
  assert.equal(await got.Body.transformToString(), "%PDF-1.7");
});

test("a wrong secret is refused, as AWS refuses it", async () => {
  const forged = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: "not-the-secret-0000" },
  });
  await assert.rejects(
    forged.send(new GetObjectCommand({ Bucket: "fixtures", Key: "scan.pdf" })),
    (err) => err.name === "SignatureDoesNotMatch",
  );
  forged.destroy();
});
