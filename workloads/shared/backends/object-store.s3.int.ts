// S3ObjectStore on the real store hack/stack starts (S3Proxy): the contract, and a missing
// bucket reported as such.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { objectStore } from "../../../e2e/testkit/index.ts";
import { objectStoreContract } from "./object-store.contract.ts";
import { S3ObjectStore } from "./object-store.s3.ts";

objectStoreContract("s3", async () => {
  const subject = new S3ObjectStore(objectStore());
  return { subject, cleanup: () => subject.close() };
});

describe("S3ObjectStore on the real store", () => {
  it("checkBucket names a bucket that does not exist", async () => {
    const subject = new S3ObjectStore({ ...objectStore(), bucket: "no-such-bucket-here" });
    try {
      await assert.rejects(subject.checkBucket(), /bucket no-such-bucket-here does not exist/);
    } finally {
      await subject.close();
    }
  });
});
