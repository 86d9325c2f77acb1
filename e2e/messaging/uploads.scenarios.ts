// What uploads guarantee, as scenarios any running Switchboard passes: the embedded default on
// its memory object store (workloads/embedded/uploads.test.ts) and the real stack on S3Proxy
// (e2e/messaging/uploads.int.ts). Every upload and download goes through the presigned URLs, so
// what the policy forbids is refused by the store itself.
import assert from "node:assert/strict";
import { it } from "node:test";
import { postUpload } from "../../workloads/shared/backends/object-store.contract.ts";
import { ChatSocket, Rest, type Session, waitFor } from "../testkit/index.ts";

/** The limits the cluster under test runs with (its UPLOAD_* settings). */
export const SCENARIO_LIMITS = {
  maxBytes: 1000,
  contentTypes: "image/*,text/plain",
  /** long enough for a busy machine to use a URL at once, short enough to wait out */
  downloadUrlTtlSeconds: 4,
  uploadRateBurst: 3,
} as const;

/** the env of a gateway process with SCENARIO_LIMITS */
export const scenarioEnv = (): Record<string, string> => ({
  UPLOAD_MAX_BYTES: String(SCENARIO_LIMITS.maxBytes),
  UPLOAD_CONTENT_TYPES: SCENARIO_LIMITS.contentTypes,
  DOWNLOAD_URL_TTL_SECONDS: String(SCENARIO_LIMITS.downloadUrlTtlSeconds),
  UPLOAD_RATE_LIMIT_BURST: String(SCENARIO_LIMITS.uploadRateBurst),
  UPLOAD_RATE_LIMIT_PER_SECOND: "0.001",
});

/** a 1x1 PNG */
export const PNG = Uint8Array.from(
  Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "base64",
  ),
);

export interface UploadTarget {
  /** the base URLs of two gateways (the same one twice is fine) */
  url(i: 0 | 1): string;
}

let users = 0;

export function uploadScenarios(target: () => UploadTarget): void {
  const rest = (i: 0 | 1) => new Rest(target().url(i));
  const register = (name: string): Promise<Session> => rest(0).register(`${name}${++users}`);
  /** a group room of `owner` with `members` */
  const groupOf = async (owner: Session, members: Session[]): Promise<string> =>
    (
      await rest(0).ok(
        "POST",
        "/v1/rooms",
        { kind: "group", name: "files", members: members.map((m) => m.userId) },
        owner.accessToken,
      )
    ).id as string;
  const grant = (s: Session, roomId: string, body: Record<string, unknown>, i: 0 | 1 = 0) =>
    rest(i).call("POST", `/v1/rooms/${roomId}/uploads`, body, s.accessToken);
  const png = { name: "dot.png", size: PNG.length, content_type: "image/png" };

  it("a member uploads an image through the presigned POST, another member is sent it and downloads it through a presigned GET", async () => {
    const [ann, ben] = [await register("ann"), await register("ben")];
    const roomId = await groupOf(ann, [ben]);
    const up = await grant(ann, roomId, png);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.match(up.body.key, new RegExp(`/${roomId}/${up.body.object_id}$`));
    const posted = await postUpload(up.body, PNG, "image/png");
    assert.ok(posted.status < 300, `${posted.status} ${posted.body}`);

    const sa = await ChatSocket.open(target().url(0), ann.accessToken);
    const sb = await ChatSocket.open(target().url(1), ben.accessToken);
    try {
      const ack = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "img-1",
        msg_type: "image",
        content: { key: up.body.key, name: "dot.png" },
      });
      assert.equal(ack.type, "ack", JSON.stringify(ack));
      const got = await sb.waitFor((f) => f.type === "message" && f.message_id === ack.message_id);
      assert.deepEqual(got.content, {
        key: up.body.key,
        name: "dot.png",
        size: PNG.length,
        mime: "image/png",
      });
      const objectId = String(got.content.key).split("/").at(-1);
      const down = await rest(1).ok(
        "GET",
        `/v1/rooms/${roomId}/objects/${objectId}`,
        undefined,
        ben.accessToken,
      );
      const res = await fetch(down.url, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), PNG);
      const history = await rest(1).ok(
        "GET",
        `/v1/rooms/${roomId}/messages`,
        undefined,
        ben.accessToken,
      );
      assert.deepEqual(history.messages.at(-1).content, got.content);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("a non-member is refused an upload URL and a download URL", async () => {
    const [ann, eve] = [await register("ann"), await register("eve")];
    const roomId = await groupOf(ann, []);
    const up = await grant(ann, roomId, png);
    assert.equal(up.status, 201);
    const refusedUp = await grant(eve, roomId, png);
    assert.equal(refusedUp.status, 403);
    assert.equal(refusedUp.body.error.code, "NOT_A_MEMBER");
    const refusedDown = await rest(0).call(
      "GET",
      `/v1/rooms/${roomId}/objects/${up.body.object_id}`,
      undefined,
      eve.accessToken,
    );
    assert.equal(refusedDown.status, 403);
    assert.equal(refusedDown.body.error.code, "NOT_A_MEMBER");
  });

  it("the store refuses a body larger than the size asked for, and the gateway a size or type over the limits", async () => {
    const ann = await register("ann");
    const roomId = await groupOf(ann, []);
    const up = await grant(ann, roomId, { name: "a.txt", size: 10, content_type: "text/plain" });
    assert.equal(up.status, 201);
    const posted = await postUpload(up.body, new Uint8Array(11), "text/plain");
    assert.equal(posted.status, 400, posted.body);
    assert.match(posted.body, /EntityTooLarge/);
    const big = await grant(ann, roomId, {
      name: "big.png",
      size: SCENARIO_LIMITS.maxBytes + 1,
      content_type: "image/png",
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, "UPLOAD_TOO_LARGE");
    const html = await grant(ann, roomId, { name: "x.html", size: 5, content_type: "text/html" });
    assert.equal(html.status, 415);
    assert.equal(html.body.error.code, "UPLOAD_TYPE_NOT_ALLOWED");
  });

  it("a download URL fails at the store once it has expired", async () => {
    const ann = await register("ann");
    const roomId = await groupOf(ann, []);
    const up = await grant(ann, roomId, png);
    assert.ok((await postUpload(up.body, PNG, "image/png")).status < 300);
    const down = await rest(0).ok(
      "GET",
      `/v1/rooms/${roomId}/objects/${up.body.object_id}`,
      undefined,
      ann.accessToken,
    );
    assert.ok(
      Date.parse(down.expires_at) - Date.now() <= SCENARIO_LIMITS.downloadUrlTtlSeconds * 1000,
    );
    const status = await waitFor(
      "the store to refuse the expired download URL",
      async () => {
        const res = await fetch(down.url, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.status === 200 ? undefined : res.status;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.equal(status, 403);
  });

  it("a message naming another room's object, or an object never uploaded, is refused with a clear error", async () => {
    const [ann, ben] = [await register("ann"), await register("ben")];
    const mine = await groupOf(ann, [ben]);
    const other = await groupOf(ben, []);
    const theirs = await grant(ben, other, png);
    assert.ok((await postUpload(theirs.body, PNG, "image/png")).status < 300);
    const never = await grant(ann, mine, png);
    const sa = await ChatSocket.open(target().url(0), ann.accessToken);
    try {
      const send = (clientMsgId: string, key: string) =>
        sa.request({
          type: "message",
          room_id: mine,
          client_msg_id: clientMsgId,
          msg_type: "image",
          content: { key },
        });
      const foreign = await send("f-1", theirs.body.key);
      assert.equal(foreign.type, "error");
      assert.equal(foreign.code, "OBJECT_NOT_IN_ROOM");
      const missing = await send("f-2", never.body.key);
      assert.equal(missing.type, "error");
      assert.equal(missing.code, "OBJECT_NOT_FOUND");
    } finally {
      await sa.close();
    }
  });

  it("upload URLs take from the user's upload rate limit", async () => {
    const ann = await register("ann");
    const roomId = await groupOf(ann, []);
    for (let i = 0; i < SCENARIO_LIMITS.uploadRateBurst; i++) {
      assert.equal((await grant(ann, roomId, png, i % 2 === 0 ? 0 : 1)).status, 201);
    }
    const limited = await grant(ann, roomId, png, 1);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, "RATE_LIMITED");
  });
}
