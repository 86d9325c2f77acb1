// Centrifugo in bench/peers: two nodes of the binary hack/centrifugo.sh builds (the Go module,
// pinned there), the Redis engine on a private Redis, connection JWTs signed with an HMAC
// secret (HS256), clients allowed to subscribe and to publish in channels without a namespace.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../e2e/testkit/index.ts";
import { type RoomShape, type Running, roomSockets } from "./system.ts";

const script = fileURLToPath(new URL("../../hack/centrifugo.sh", import.meta.url));

/** The cached binary (built on first use: a few minutes). */
export function centrifugoBinary(): string {
  return execFileSync(script, ["path"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .at(-1) as string;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString("base64url");

/** An HS256 JWT for `sub`, valid for an hour. */
export function connectionToken(secret: string, sub: string): string {
  const head = b64url('{"alg":"HS256","typ":"JWT"}');
  const body = b64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

interface Node {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
  exited: boolean;
}

async function stopNode(n: Node): Promise<void> {
  if (n.exited) return;
  const gone = once(n.child, "exit");
  n.child.kill("SIGTERM");
  const timer = setTimeout(() => n.child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
}

export async function startCentrifugo(
  shape: RoomShape,
  redis: { url: string; pid: number },
  ports: readonly [number, number],
): Promise<Running> {
  const binary = centrifugoBinary();
  // hack/centrifugo.sh caches it under <cache>/centrifugo/<version>/
  const version = basename(dirname(binary));
  const secret = randomBytes(32).toString("base64url");
  const dir = mkdtempSync(join(tmpdir(), "peers-centrifugo-"));
  const prefix = `peers-${Date.now().toString(36)}`;
  const nodes: Node[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      const config = join(dir, `node-${i}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          http_server: { address: "127.0.0.1", port },
          log: { level: "error" },
          health: { enabled: true },
          engine: { type: "redis", redis: { address: [redis.url], prefix } },
          client: { token: { hmac_secret_key: secret } },
          http_api: { key: randomBytes(16).toString("hex") },
          channel: {
            without_namespace: { allow_subscribe_for_client: true, allow_publish_for_client: true },
          },
        }),
      );
      const child = spawn(binary, ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
      const node: Node = { name: `centrifugo-${"ab"[i]}`, child, output: [], exited: false };
      const keep = (c: Buffer) => {
        node.output.push(c.toString());
        if (node.output.length > 200) node.output.splice(0, 100);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      child.on("exit", () => {
        node.exited = true;
      });
      nodes.push(node);
      await waitFor(
        `${node.name} healthy on ${port}`,
        async () => {
          if (node.exited) throw new Error(`${node.name} exited: ${node.output.join("")}`);
          const res = await fetch(`http://127.0.0.1:${port}/health`, {
            signal: AbortSignal.timeout(1_000),
          }).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    }
  } catch (err) {
    await Promise.allSettled(nodes.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const urls = ports.map((p) => `ws://127.0.0.1:${p}/connection/websocket`);
  return {
    name: "centrifugo",
    describe: `Centrifugo ${version}, 2 nodes (processes), Redis engine on a private Redis, HS256 connection JWTs, client-side subscribe and publish`,
    nodes: Object.fromEntries(nodes.map((n) => [n.name, n.child.pid ?? 0])),
    backends: { redis: redis.pid },
    rooms: Array.from({ length: shape.rooms }, (_, r) => ({
      id: `room-${r}`,
      members: roomSockets(shape, (j, node) => ({
        url: urls[node] as string,
        wire: "centrifugo",
        token: connectionToken(secret, `r${r}m${j}`),
      })),
    })),
    stop: async () => {
      await Promise.allSettled(nodes.map(stopNode));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
