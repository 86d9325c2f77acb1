// A scripted two-person chat against a running Switchboard gateway, using the typed client
// library (workloads/client, published as @switchboard/client): `node examples/chat-demo.ts
// [http://127.0.0.1:8080]`. Run `npm start` first. Exits 0 when both people have received each
// other's message.
import {
  Api,
  ChatClient,
  type ServerMessageFrame,
  Session,
} from "../workloads/client/src/index.ts";

const base = process.argv[2] ?? "http://127.0.0.1:8080";
const suffix = Math.random().toString(36).slice(2, 8);
const api = new Api({ baseUrl: base });

/** Registers a user and opens their socket; `next` waits for a message (10 s at most). */
async function person(name: string, password: string) {
  const session = Session.fromAuth(api, await api.register(`${name}_${suffix}`, password));
  const client = new ChatClient({ url: base, accessToken: (o) => session.accessToken(o) });
  const inbox: ServerMessageFrame[] = [];
  const waiters: (() => void)[] = [];
  client.on("message", (m) => {
    inbox.push(m);
    for (const w of waiters.splice(0)) w();
  });
  await client.connect();
  const next = async (pred: (m: ServerMessageFrame) => boolean): Promise<ServerMessageFrame> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = inbox.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`${name}: no such message in 10 s`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  };
  return { session, client, next };
}

const alice = await person("alice", "correct-horse");
const bob = await person("bob", "battery-staple");

const hi = alice.client.send({ to_user_id: bob.session.user.id }, { text: "Hi Bob!" });
const ack = await hi.sent;
console.log(`alice -> bob: "Hi Bob!" (room ${ack.room_id}, seq ${ack.seq})`);
const got = await bob.next((m) => m.client_msg_id === hi.clientMsgId);
console.log(`bob received: "${got.content.text}"`);

const hello = bob.client.send({ room_id: got.room_id }, { text: "Hello Alice!" });
await hello.sent;
const reply = await alice.next((m) => m.client_msg_id === hello.clientMsgId);
console.log(`alice received: "${reply.content.text}" (seq ${reply.seq})`);

alice.client.close();
bob.client.close();
console.log("chat demo: ok");
