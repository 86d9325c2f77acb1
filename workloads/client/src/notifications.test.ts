// The client library's notification calls against the embedded gateway: the unread count in
// welcome, the list, marking read, muting.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "../../embedded/cluster.ts";
import { Api, ChatClient, Session } from "./index.ts";

describe("notifications through the client library", () => {
  let cluster: InProcessCluster;
  let ada: Session;
  let bea: Session;
  let cyd: Session;
  const clients: ChatClient[] = [];
  const client = (who: Session) => {
    const c = new ChatClient({
      url: cluster.urls[0] as string,
      accessToken: (r) => who.accessToken(r),
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    cluster = await startCluster();
    const api = new Api({ baseUrl: cluster.urls[0] as string });
    const suffix = Math.random().toString(36).slice(2, 8);
    ada = Session.fromAuth(api, await api.register(`ada_${suffix}`, "password-123"));
    bea = Session.fromAuth(api, await api.register(`bea_${suffix}`, "password-123"));
    cyd = Session.fromAuth(api, await api.register(`cyd_${suffix}`, "password-123"));
  });

  after(async () => {
    for (const c of clients) c.close();
    await cluster.stop();
  });

  it("an offline user's notifications are counted in welcome, listed, marked read; a muted room gives none", async () => {
    const team = await ada.createRoom({
      kind: "group",
      name: "team",
      members: [bea.user.id, cyd.user.id],
    });
    const other = await ada.createRoom({ kind: "group", name: "other", members: [bea.user.id] });
    await bea.mute(team.id);
    assert.deepEqual((await bea.mutedRooms()).room_ids, [team.id]);
    const a = client(ada);
    await a.connect();
    await a.send({ room_id: team.id }, { text: `@${bea.user.username} muted, so nothing` }).sent;
    // cyd's mention follows in the same room (one order): once she has it, bea's was handled
    await a.send({ room_id: team.id }, { text: `@${cyd.user.username} hi` }).sent;
    await waitFor("cyd's notification", async () =>
      (await cyd.notifications()).notifications.length === 1 ? true : undefined,
    );
    const sent = await a.send({ room_id: other.id }, { text: `@${bea.user.username} look` }).sent;
    const page = await waitFor("bea's notification", async () => {
      const p = await bea.notifications();
      return p.notifications.length > 0 ? p : undefined;
    });
    assert.deepEqual(
      page.notifications.map((n) => [n.id, n.kind, n.read]),
      [[sent.message_id, "mention", false]],
    );
    await bea.unmute(team.id);
    assert.deepEqual((await bea.mutedRooms()).room_ids, []);
    const welcome = await client(bea).connect();
    assert.equal(welcome.unread_notifications, 1);
    assert.equal((await bea.markNotificationRead(sent.message_id)).read, true);
    assert.deepEqual(await bea.markNotificationsRead(), { unread: 0 });
  });
});
