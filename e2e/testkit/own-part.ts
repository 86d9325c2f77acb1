// A private instance of one backend (hack/parts/<part>.sh), for suites that stop, kill or
// restart it: its own state directory and free ports, so the shared stack is never touched.
// stop() stops it and deletes its data.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "./processes.ts";
import { waitFor } from "./wait.ts";

const run = promisify(execFile);
const partsDir = fileURLToPath(new URL("../../hack/parts/", import.meta.url));

type PartName = "cassandra" | "kafka" | "redis";

/** The SB_*_PORT variables of hack/lib/common.sh each part listens on; the first is its client port. */
const PORT_VARS: Record<PartName, readonly string[]> = {
  cassandra: ["SB_CASSANDRA_PORT", "SB_CASSANDRA_STORAGE_PORT"],
  kafka: ["SB_KAFKA_PORT", "SB_KAFKA_CONTROLLER_PORT"],
  redis: ["SB_REDIS_PORT"],
};

export class OwnPart {
  readonly part: PartName;
  readonly state: string;
  readonly env: Record<string, string>;
  /** the client port: CQL, the Kafka listener, Redis */
  readonly port: number;

  private constructor(part: PartName, state: string, env: Record<string, string>) {
    this.part = part;
    this.state = state;
    this.env = env;
    this.port = Number(env[PORT_VARS[part][0] as string]);
  }

  /** An instance on free ports (`env` may fix some, or add settings), not started yet. */
  static async create(part: PartName, env: Record<string, string | number> = {}): Promise<OwnPart> {
    const state = await mkdtemp(join(tmpdir(), `sb-own-${part}-`));
    // a private instance serves loopback only: a node address in the environment (CI exports
    // SB_NODE_ADDRESS for hack/cluster's Pods) would have it take the shared stack's node ports
    const vars: Record<string, string> = { SWITCHBOARD_STATE: state, SB_NODE_ADDRESS: "" };
    for (const name of PORT_VARS[part]) vars[name] = String(await freePort());
    for (const [k, v] of Object.entries(env)) vars[k] = String(v);
    return new OwnPart(part, state, vars);
  }

  /** create(), then up(). */
  static async start(part: PartName, env: Record<string, string | number> = {}): Promise<OwnPart> {
    const own = await OwnPart.create(part, env);
    await own.up();
    return own;
  }

  /** redis://127.0.0.1:<port> (for a Redis) */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on the same data and ports; resolves once it serves. */
  async up(timeoutMs = 300_000): Promise<void> {
    await this.#script("up", timeoutMs);
  }

  /** Stops it (SIGTERM, then SIGKILL after the script's grace period); keeps its data. */
  async down(timeoutMs = 60_000): Promise<void> {
    await this.#script("down", timeoutMs);
  }

  /** The pid hack/parts recorded for the running instance. */
  pid(): number {
    return Number(readFileSync(join(this.state, "pids", `${this.part}.pid`), "utf8").trim());
  }

  /** SIGKILL to the whole process group (a crash, with no shutdown path); resolves once gone. */
  async kill(): Promise<void> {
    const pid = this.pid();
    process.kill(-pid, "SIGKILL");
    await waitFor(
      `${this.part} (pid ${pid}) gone after SIGKILL`,
      () => (alive(pid) ? undefined : true),
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  }

  /** Stops it and deletes its data. */
  async stop(): Promise<void> {
    try {
      await this.#script("down", 60_000, "--purge");
    } finally {
      await rm(this.state, { recursive: true, force: true });
    }
  }

  async #script(command: string, timeoutMs: number, ...args: string[]): Promise<void> {
    try {
      await run(join(partsDir, `${this.part}.sh`), [command, ...args], {
        env: { ...process.env, ...this.env },
        timeout: timeoutMs,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${this.part}.sh ${command} failed: ${e.message}\n${e.stderr ?? ""}`);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
