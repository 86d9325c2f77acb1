// A scripted two-person chat against a running Switchboard gateway, using only its public
// REST and WebSocket API (no project code): `node examples/chat-demo.ts [http://127.0.0.1:8080]`.
// Run `npm start` first. Exits 0 when both people have received each other's message.
import WebSocket from "ws";

const base = (process.argv[2] ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const suffix = Math.random().toString(36).slice(2, 8);

type Frame = { type: string; [k: string]: unknown };

async function post(path: string, body: unknown, token?: string): Promise<Record<string, any>> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, any>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Opens a socket, says hello, and returns a way to wait for frames. */
async function connect(name: string, token: string) {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/v1/ws?access_token=${token}`);
  const frames: Frame[] = [];
  const waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString()) as Frame;
    frames.push(f);
    for (const w of waiters.splice(0)) w.pred(f) ? w.resolve(f) : waiters.push(w);
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const next = (pred: (f: Frame) => boolean) =>
    new Promise<Frame>((resolve, reject) => {
      const seen = frames.find(pred);
      if (seen) return resolve(seen);
      waiters.push({ pred, resolve });
      setTimeout(() => reject(new Error(`${name}: no matching frame in 10 s`)), 10_000).unref();
    });
  ws.send(JSON.stringify({ type: "hello" }));
  await next((f) => f.type === "welcome");
  return { ws, next, send: (f: object) => ws.send(JSON.stringify(f)) };
}

const alice = await post("/v1/auth/register", {
  username: `alice_${suffix}`,
  password: "correct-horse",
});
const bob = await post("/v1/auth/register", {
  username: `bob_${suffix}`,
  password: "battery-staple",
});
const a = await connect("alice", alice.tokens.access_token);
const b = await connect("bob", bob.tokens.access_token);

a.send({
  type: "message",
  to_user_id: bob.user.id,
  client_msg_id: "a1",
  msg_type: "text",
  content: { text: "Hi Bob!" },
});
const ack = await a.next((f) => f.type === "ack");
console.log(`alice -> bob: "Hi Bob!" (room ${ack.room_id}, seq ${ack.seq})`);
const got = await b.next((f) => f.type === "message" && f.client_msg_id === "a1");
console.log(`bob received: "${(got.content as { text: string }).text}"`);

b.send({
  type: "message",
  room_id: got.room_id,
  client_msg_id: "b1",
  msg_type: "text",
  content: { text: "Hello Alice!" },
});
const reply = await a.next((f) => f.type === "message" && f.client_msg_id === "b1");
console.log(`alice received: "${(reply.content as { text: string }).text}" (seq ${reply.seq})`);

a.ws.close();
b.ws.close();
console.log("chat demo: ok");
