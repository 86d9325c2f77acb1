// Uploads on the memory backends and the memory object store (which serves its own presigned
// URLs on loopback), two gateways; and a cluster without an object store, where they are off.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SCENARIO_LIMITS, uploadScenarios } from "../../e2e/messaging/uploads.scenarios.ts";
import { ChatSocket, Rest } from "../../e2e/testkit/index.ts";
import { parseContentTypes } from "../gateway/core/uploads.ts";
import { MemoryObjectStore } from "../shared/backends/object-store.memory.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("uploads on the memory backends", () => {
  let cluster: InProcessCluster;
  let objects: MemoryObjectStore;
  before(async () => {
    objects = await MemoryObjectStore.start();
    cluster = await startCluster({
      gateways: 2,
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 } },
      uploads: {
        objects,
        cluster: "embedded",
        limits: {
          maxBytes: SCENARIO_LIMITS.maxBytes,
          contentTypes: parseContentTypes(SCENARIO_LIMITS.contentTypes),
          uploadUrlTtlSeconds: 60,
          downloadUrlTtlSeconds: SCENARIO_LIMITS.downloadUrlTtlSeconds,
          rate: { capacity: SCENARIO_LIMITS.uploadRateBurst, refillPerSecond: 0.001 },
        },
      },
    });
  });
  after(async () => {
    await cluster.stop();
    await objects.close();
  });

  uploadScenarios(() => ({ url: (i) => cluster.urls[i] as string }));
});

describe("a cluster without an object store", () => {
  let cluster: InProcessCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  it("answers the upload endpoints and an image message with a key UPLOADS_DISABLED, and still chats", async () => {
    const rest = new Rest(cluster.urls[0] as string);
    const ann = await rest.register("ann");
    const room = await rest.ok("POST", "/v1/rooms", { kind: "group", name: "g" }, ann.accessToken);
    const up = await rest.call(
      "POST",
      `/v1/rooms/${room.id}/uploads`,
      { name: "a.png", size: 10, content_type: "image/png" },
      ann.accessToken,
    );
    assert.equal(up.status, 503);
    assert.equal(up.body.error.code, "UPLOADS_DISABLED");
    const s = await ChatSocket.open(cluster.urls[0] as string, ann.accessToken);
    try {
      const refused = await s.request({
        type: "message",
        room_id: room.id,
        client_msg_id: "k",
        msg_type: "image",
        content: { key: `switchboard/${room.id}/11111111-2222-4333-8444-555555555555` },
      });
      assert.equal(refused.code, "UPLOADS_DISABLED");
      const text = await s.request({
        type: "message",
        room_id: room.id,
        client_msg_id: "t",
        msg_type: "text",
        content: { text: "still here" },
      });
      assert.equal(text.type, "ack");
    } finally {
      await s.close();
    }
  });
});
