// REST follows the same membership rules and codes as the WebSocket: only members see who is in
// a room and who is online, an outsider's leave is NOT_A_MEMBER whatever the room, and adding
// someone who is a member already is ALREADY_MEMBER, as documented.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, type Session } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("REST agrees with the WebSocket rules", () => {
  let cluster: InProcessCluster;
  let rest: Rest;
  let ann: Session;
  let ben: Session;
  let cat: Session;
  const url = () => cluster.urls[0] as string;

  before(async () => {
    cluster = await startCluster({
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 } },
    });
    rest = new Rest(url());
    [ann, ben, cat] = await Promise.all([
      rest.register("ann"),
      rest.register("ben"),
      rest.register("cat"),
    ]);
  });

  after(async () => {
    await cluster.stop();
  });

  it("a public channel's members and who is online are for its members only, on both", async () => {
    const channel = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "channel", name: "open" },
      ann.accessToken,
    );
    const members = `/v1/rooms/${channel.id}/members`;
    const sc = await ChatSocket.open(url(), cat.accessToken);
    try {
      const viaRest = await rest.call("GET", members, undefined, cat.accessToken);
      const viaSocket = await sc.request({ type: "presence", room_id: channel.id });
      assert.equal(viaRest.status, 403);
      assert.equal(viaRest.body.error.code, "NOT_A_MEMBER");
      assert.equal(viaSocket.code, "NOT_A_MEMBER", "the same answer on the socket");
      const room = await rest.call("GET", `/v1/rooms/${channel.id}`, undefined, cat.accessToken);
      assert.equal(room.status, 200, "the channel itself stays findable");

      await rest.ok("POST", `/v1/rooms/${channel.id}/join`, undefined, cat.accessToken);
      const listed = await rest.ok("GET", members, undefined, cat.accessToken);
      assert.deepEqual(
        listed.members.map((m: { user_id: string }) => m.user_id).sort(),
        [ann.userId, cat.userId].sort(),
      );
      const online = await sc.request({ type: "presence", room_id: channel.id });
      assert.equal(online.type, "presence");
    } finally {
      await sc.close();
    }
  });

  it("an outsider's leave is NOT_A_MEMBER, a direct room member's FORBIDDEN, on both", async () => {
    const direct = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "direct", user_id: ben.userId },
      ann.accessToken,
    );
    const leave = `/v1/rooms/${direct.id}/leave`;
    const outsider = await rest.call("POST", leave, undefined, cat.accessToken);
    assert.equal(outsider.status, 403);
    assert.equal(outsider.body.error.code, "NOT_A_MEMBER");
    const member = await rest.call("POST", leave, undefined, ann.accessToken);
    assert.equal(member.body.error.code, "FORBIDDEN");
    const sc = await ChatSocket.open(url(), cat.accessToken);
    try {
      const viaSocket = await sc.request({ type: "leave", room_id: direct.id });
      assert.equal(viaSocket.code, "NOT_A_MEMBER");
    } finally {
      await sc.close();
    }
  });

  it("adding a member twice is 409 ALREADY_MEMBER", async () => {
    const group = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "twice" },
      ann.accessToken,
    );
    const add = `/v1/rooms/${group.id}/members`;
    const first = await rest.call("POST", add, { user_id: ben.userId }, ann.accessToken);
    assert.equal(first.status, 204);
    const again = await rest.call("POST", add, { user_id: ben.userId }, ann.accessToken);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "ALREADY_MEMBER");
    const self = await rest.call("POST", add, { user_id: ann.userId }, ann.accessToken);
    assert.equal(self.body.error.code, "ALREADY_MEMBER");
  });
});
