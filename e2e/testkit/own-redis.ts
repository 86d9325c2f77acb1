// A Redis of a test's own, for tests that stop it: hack/parts/redis.sh on a free port with a
// state directory of its own, so the shared stack's Redis is never touched.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "./processes.ts";

const script = fileURLToPath(new URL("../../hack/parts/redis.sh", import.meta.url));
const run = promisify(execFile);

export class OwnRedis {
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #state: string;

  private constructor(port: number, state: string) {
    this.url = `redis://127.0.0.1:${port}`;
    this.#state = state;
    this.#env = { ...process.env, SWITCHBOARD_STATE: state, SB_REDIS_PORT: String(port) };
  }

  /** Starts a Redis on a free port; destroy() stops it and removes its state. */
  static async start(): Promise<OwnRedis> {
    const state = await mkdtemp(join(tmpdir(), "sb-own-redis-"));
    const redis = new OwnRedis(await freePort(), state);
    await redis.up();
    return redis;
  }

  /** Starts it again (empty: it keeps no data) and waits until it answers PING. */
  async up(): Promise<void> {
    await run(script, ["up"], { env: this.#env, timeout: 60_000 });
  }

  /** Stops it (SIGTERM, then SIGKILL) and waits until it is gone. */
  async down(): Promise<void> {
    await run(script, ["down"], { env: this.#env, timeout: 60_000 });
  }

  async destroy(): Promise<void> {
    try {
      await this.down();
    } finally {
      await rm(this.#state, { recursive: true, force: true });
    }
  }
}
