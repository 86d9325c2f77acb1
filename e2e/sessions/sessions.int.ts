// Ending a session on the real stack: two gateway processes sharing Cassandra (the revoked
// refresh families) and Redis (registry and delivery). A logout on one gateway refuses the
// session's access token on the other within the bound and closes its socket there with 4005.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, ChatStack, Rest, waitFor } from "../testkit/index.ts";

/** the 2 s revocation bound, with room for a loaded machine */
const BOUND = { timeoutMs: 20_000, intervalMs: 100 };

describe("revoked sessions on the real stack (2 gateways)", () => {
  let stack: ChatStack;
  const gw = (i: number) => stack.gateways[i]?.url as string;

  before(async () => {
    stack = await ChatStack.start({ gateways: 2, forwarders: 1 });
  });

  after(async () => {
    await stack.stop();
  });

  it("a logout on gateway A refuses the token on gateway B and closes its socket there with 4005", async () => {
    const rest = [new Rest(gw(0)), new Rest(gw(1))];
    const user = await rest[0]?.register("leaver");
    assert.ok(user);
    const socket = await ChatSocket.open(gw(1), user.accessToken);
    try {
      assert.equal(
        (await rest[1]?.call("GET", "/v1/me", undefined, user.accessToken))?.status,
        200,
      );
      await rest[0]?.ok("POST", "/v1/auth/logout", undefined, user.accessToken);
      const code = await waitFor(
        "gateway B to refuse the token",
        async () => {
          const r = await rest[1]?.call("GET", "/v1/me", undefined, user.accessToken);
          return r?.status === 401 ? r.body.error.code : undefined;
        },
        BOUND,
      );
      assert.equal(code, "SESSION_REVOKED");
      assert.equal(await waitFor("the socket on B closed", () => socket.closeCode, BOUND), 4005);
      await assert.rejects(ChatSocket.connect(gw(1), user.accessToken), /upgrade refused: 401/);
    } finally {
      await socket.close();
    }
  });
});
