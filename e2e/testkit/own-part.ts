// A private instance of one backend (hack/parts/<part>.sh), for suites that kill or restart it:
// its own state directory and free ports, so the shared stack is never touched. stop() stops
// it and deletes its data.
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

type PartName = "cassandra" | "redis";

export class OwnPart {
  readonly part: PartName;
  readonly state: string;
  readonly env: Record<string, string>;
  readonly port: number;

  private constructor(part: PartName, state: string, env: Record<string, string>, port: number) {
    this.part = part;
    this.state = state;
    this.env = env;
    this.port = port;
  }

  /** Starts a fresh instance; `env` adds settings for the part's script. */
  static async start(part: PartName, env: Record<string, string> = {}): Promise<OwnPart> {
    const state = await mkdtemp(join(tmpdir(), `sb-own-${part}-`));
    const ports: Record<string, string> =
      part === "cassandra"
        ? {
            SB_CASSANDRA_PORT: String(await freePort()),
            SB_CASSANDRA_STORAGE_PORT: String(await freePort()),
          }
        : { SB_REDIS_PORT: String(await freePort()) };
    const port = Number(part === "cassandra" ? ports.SB_CASSANDRA_PORT : ports.SB_REDIS_PORT);
    const own = new OwnPart(part, state, { SWITCHBOARD_STATE: state, ...ports, ...env }, port);
    await own.up();
    return own;
  }

  /** Starts it (again) on the same data and ports; resolves once it serves. */
  async up(): Promise<void> {
    await this.#script("up", 300_000);
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
    await run(join(partsDir, `${this.part}.sh`), [command, ...args], {
      env: { ...process.env, ...this.env },
      timeout: timeoutMs,
    });
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
