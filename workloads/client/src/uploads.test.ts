// The client's upload calls against the embedded gateway and its memory object store: a file
// posted through a grant is read back by another member through downloadUrl; the store's refusal
// of a larger file than asked for is a ClientError with the store's status.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type InProcessCluster, startCluster } from "../../embedded/cluster.ts";
import { DEFAULT_UPLOAD_LIMITS } from "../../gateway/config.ts";
import { MemoryObjectStore } from "../../shared/backends/object-store.memory.ts";
import { Api, ClientError, objectIdOfKey, postUpload, Session } from "./index.ts";

describe("uploads through the client", () => {
  let cluster: InProcessCluster;
  let objects: MemoryObjectStore;
  let alice: Session;
  let bob: Session;
  let roomId: string;

  before(async () => {
    objects = await MemoryObjectStore.start();
    cluster = await startCluster({
      uploads: { objects, cluster: "client", limits: DEFAULT_UPLOAD_LIMITS },
    });
    const api = new Api({ baseUrl: cluster.urls[0] as string });
    alice = Session.fromAuth(api, await api.register("alice_up", "password-123"));
    bob = Session.fromAuth(api, await api.register("bob_up", "password-123"));
    roomId = (await alice.createRoom({ kind: "group", name: "f", members: [bob.user.id] })).id;
  });
  after(async () => {
    await cluster.stop();
    await objects.close();
  });

  it("a member's posted file is downloaded by another member", async () => {
    const text = "hello, file";
    const grant = await alice.requestUpload(roomId, {
      name: "a.txt",
      size: text.length,
      content_type: "text/plain",
    });
    await postUpload(grant, new Blob([text], { type: "text/plain" }));
    const down = await bob.downloadUrl(roomId, objectIdOfKey(grant.key));
    assert.equal(await (await fetch(down.url)).text(), text);
  });

  it("a file larger than the grant is refused by the store, as a ClientError", async () => {
    const grant = await alice.requestUpload(roomId, {
      name: "a.txt",
      size: 3,
      content_type: "text/plain",
    });
    await assert.rejects(
      postUpload(grant, new Blob(["four"], { type: "text/plain" })),
      (err: unknown) => err instanceof ClientError && err.status === 400,
    );
  });
});
