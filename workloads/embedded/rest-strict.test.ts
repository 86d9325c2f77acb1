// REST bodies and query strings are parsed strictly, as WebSocket frames are: a value of the
// wrong type is 400 BAD_REQUEST naming the field, never coerced (true is not 1, null is not 0,
// false is not the room name "false"). Query integers are plain decimal digits only.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Rest, type Session } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("strict REST parsing", () => {
  let cluster: InProcessCluster;
  let rest: Rest;
  let ann: Session;
  let ben: Session;
  let roomId: string;

  before(async () => {
    cluster = await startCluster({
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 } },
    });
    rest = new Rest(cluster.urls[0] as string);
    [ann, ben] = await Promise.all([rest.register("ann"), rest.register("ben")]);
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "strict", members: [ben.userId] },
      ann.accessToken,
    );
    roomId = room.id;
  });

  after(async () => {
    await cluster.stop();
  });

  /** the request is refused with 400 BAD_REQUEST whose message names `field` */
  async function refused(method: string, path: string, body: unknown, field: string) {
    const r = await rest.call(method, path, body, ann.accessToken);
    assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.status}`);
    assert.equal(r.body.error.code, "BAD_REQUEST");
    assert.match(r.body.error.message, new RegExp(field), "the message names the field");
  }

  it("refuses a body value of the wrong type instead of coercing it", async () => {
    const read = `/v1/rooms/${roomId}/read`;
    for (const seq of [true, false, null, "3", 1.5, [3], {}]) {
      await refused("PUT", read, { seq }, "seq");
    }
    for (const name of [false, true, 12, null, ["x"]]) {
      await refused("POST", "/v1/rooms", { kind: "group", name }, "name");
    }
    await refused("POST", "/v1/rooms", { kind: "direct", user_id: 7 }, "");
    await refused("POST", "/v1/match", { request_id: 5 }, "request_id");
    await refused("POST", "/v1/match", { request_id: "r", tags: "music" }, "tags");
    await refused("POST", "/v1/match", { request_id: "r", language: false }, "language");
    await refused("POST", `/v1/rooms/${roomId}/members`, { user_id: null }, "user_id");
    for (const json of ["null", "[]", '"text"', "3"]) await refused("PUT", read, json, "body");
    await refused("PUT", read, "{not json", "JSON");
    const anonymous = await rest.call("POST", "/v1/auth/login", {
      username: "ann",
      password: 12345678,
    });
    assert.equal(anonymous.status, 400);
    assert.match(anonymous.body.error.message, /password/);
    const rooms = await rest.ok("GET", "/v1/rooms", undefined, ann.accessToken);
    assert.ok(
      rooms.rooms.every((s: { room: { name: unknown } }) => s.room.name !== "false"),
      "no room named by a coerced boolean",
    );
  });

  it("takes only plain decimal integers in the query string", async () => {
    const history = `/v1/rooms/${roomId}/messages`;
    for (const q of [
      "limit=abc",
      "limit=1e1",
      "limit=0x10",
      "limit=%2010",
      "limit=10.0",
      "limit=",
      "limit=true",
      "limit=5&limit=6",
      "before=-1",
      "after=1.5",
    ]) {
      await refused("GET", `${history}?${q}`, undefined, "querystring");
    }
    await refused("GET", "/v1/channels?limit=1e1", undefined, "limit");
    const page = await rest.call("GET", `${history}?limit=10&after=0`, undefined, ann.accessToken);
    assert.equal(page.status, 200);
    assert.equal((await rest.call("GET", history, undefined, ann.accessToken)).status, 200);
    const channels = await rest.call("GET", "/v1/channels?limit=7", undefined, ann.accessToken);
    assert.equal(channels.status, 200);
  });
});
