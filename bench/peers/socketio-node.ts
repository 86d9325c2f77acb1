// One Socket.IO 4 node of bench/peers: the chat a new user would write with it. A socket's
// connect auth names the room it receives in (the node joins it there, before the connect is
// answered); a send is an event to the node, which emits it to the room (every node, through
// @socket.io/redis-adapter) and answers the sender's ack. Nothing is stored.
// Environment: PORT, HOST, REDIS_URL, SOCKETIO_KEY (the adapter's Redis channel prefix).
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

const {
  PORT: port,
  HOST: host = "127.0.0.1",
  REDIS_URL: redisUrl,
  SOCKETIO_KEY: prefix,
} = process.env;
if (port === undefined || redisUrl === undefined || prefix === undefined) {
  console.error("bench/peers/socketio-node.ts needs PORT, REDIS_URL and SOCKETIO_KEY");
  process.exit(2);
}

const pub = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 5_000 });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer((_req, res) => {
  res.writeHead(200).end("ok"); // the bench's readiness probe (/readyz)
});
const io = new Server(http, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  adapter: createAdapter(pub, sub, { key: prefix }),
});

io.use((socket, next) => {
  const room = socket.handshake.auth.room;
  if (typeof room !== "string") return next();
  // the Redis adapter keeps rooms in the node's memory: the join is done when it returns
  Promise.resolve(socket.join(room)).then(() => next(), next);
});

io.on("connection", (socket) => {
  socket.on("send", (room: unknown, cmid: unknown, text: unknown, ack: unknown) => {
    if (typeof room !== "string" || typeof ack !== "function") return;
    socket.to(room).emit("m", cmid, text);
    ack();
  });
});

const shutdown = () => {
  void io.close().finally(() => {
    pub.disconnect();
    sub.disconnect();
    process.exit(0);
  });
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

http.listen(Number(port), host, () => console.log(`listening on ${host}:${port}`));
