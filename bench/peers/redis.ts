// The peers' Redis: a redis-server child of the benchmark on a port of its own (no persistence,
// no state on disk), so their Redis CPU is theirs alone and the shared stack's is untouched.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { Redis } from "ioredis";
import { waitFor } from "../../e2e/testkit/index.ts";

export interface PeersRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startRedis(port: number): Promise<PeersRedis> {
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let exited = false;
  const errors: string[] = [];
  child.stderr?.on("data", (c: Buffer) => errors.push(c.toString()));
  child.on("exit", () => {
    exited = true;
  });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    const gone = once(child, "exit");
    child.kill("SIGTERM");
    await gone;
  };
  try {
    await waitFor(
      `redis-server on ${port}`,
      async () => {
        if (exited) throw new Error(`redis-server exited: ${errors.join("")}`);
        const r = new Redis(url, {
          lazyConnect: true,
          connectTimeout: 500,
          maxRetriesPerRequest: 0,
        });
        r.on("error", () => {}); // refused until it listens: the probe's answer is enough
        try {
          await r.connect();
          return (await r.ping()) === "PONG" ? true : undefined;
        } catch {
          return undefined;
        } finally {
          r.disconnect();
        }
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid ?? 0, stop };
}
