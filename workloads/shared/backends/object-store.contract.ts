// The ObjectStore contract: every adapter passes this suite, handed a factory. Uploads and
// downloads go through the URLs the store hands out, over HTTP, as a client's would; what the
// policy forbids must be refused by the store itself. Expiry is waited on with a deadline.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { waitFor } from "../../../e2e/testkit/index.ts";
import type { ObjectStore, PresignedUpload } from "./object-store.ts";

export interface ObjectStoreHarness {
  readonly subject: ObjectStore;
  /** closes the subject */
  cleanup(): Promise<void>;
}

export type ObjectStoreFactory = () => Promise<ObjectStoreHarness>;

/** Posts `bytes` as the HTML form the presigned upload describes; the store's status and body. */
export async function postUpload(
  upload: PresignedUpload,
  bytes: Uint8Array,
  contentType: string,
): Promise<{ status: number; body: string }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
  form.append("file", new Blob([bytes], { type: contentType }), "upload.bin");
  const res = await fetch(upload.url, {
    method: "POST",
    body: form,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.text() };
}

const bytesOf = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);
const freshKey = (): string => `contract/${randomUUID()}/${randomUUID()}`;

export function objectStoreContract(name: string, factory: ObjectStoreFactory): void {
  const test = (title: string, body: (s: ObjectStore) => Promise<void>) =>
    it(title, async () => {
      const harness = await factory();
      try {
        await body(harness.subject);
      } finally {
        await harness.cleanup();
      }
    });

  describe(`ObjectStore contract: ${name}`, () => {
    test("the bucket answers", async (s) => {
      await s.checkBucket();
    });

    test("an upload through the presigned POST is read back through a presigned GET", async (s) => {
      const key = freshKey();
      const up = await s.presignUpload({
        key,
        contentType: "image/png",
        maxBytes: 100,
        expiresInSeconds: 60,
      });
      assert.ok(up.expiresAt.getTime() > Date.now());
      const posted = await postUpload(up, bytesOf(42), "image/png");
      assert.ok(posted.status >= 200 && posted.status < 300, `${posted.status} ${posted.body}`);
      assert.deepEqual(await s.head(key), { size: 42, contentType: "image/png" });
      const down = await s.presignDownload(key, 60);
      const res = await fetch(down.url, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytesOf(42));
    });

    test("the store refuses a body larger than the policy allows, and stores nothing", async (s) => {
      const key = freshKey();
      const up = await s.presignUpload({
        key,
        contentType: "image/png",
        maxBytes: 100,
        expiresInSeconds: 60,
      });
      const posted = await postUpload(up, bytesOf(101), "image/png");
      assert.equal(posted.status, 400, posted.body);
      assert.match(posted.body, /EntityTooLarge/);
      assert.equal(await s.head(key), undefined);
    });

    test("the store refuses another media type than the policy's", async (s) => {
      const key = freshKey();
      const up = await s.presignUpload({
        key,
        contentType: "image/png",
        maxBytes: 100,
        expiresInSeconds: 60,
      });
      const form = { ...up, fields: { ...up.fields, "Content-Type": "text/html" } };
      const posted = await postUpload(form, bytesOf(10), "text/html");
      assert.equal(posted.status, 403, posted.body);
      assert.equal(await s.head(key), undefined);
    });

    test("a download URL stops working once it has expired", async (s) => {
      const key = freshKey();
      const up = await s.presignUpload({
        key,
        contentType: "text/plain",
        maxBytes: 100,
        expiresInSeconds: 60,
      });
      assert.equal((await postUpload(up, bytesOf(5), "text/plain")).status < 300, true);
      const down = await s.presignDownload(key, 1);
      assert.equal((await fetch(down.url)).status, 200);
      const refused = await waitFor(
        "the store to refuse the expired URL",
        async () => {
          const res = await fetch(down.url, { signal: AbortSignal.timeout(5_000) });
          return res.status === 200 ? undefined : res.status;
        },
        { timeoutMs: 15_000, intervalMs: 250 },
      );
      assert.equal(refused, 403);
    });

    test("head of a key with no object is undefined", async (s) => {
      assert.equal(await s.head(freshKey()), undefined);
    });
  });
}
