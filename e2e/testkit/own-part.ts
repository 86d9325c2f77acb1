// A backend of the test's own (Redis, Kafka, ...), started with hack/parts/<part>.sh in a state
// directory and on ports of its own, so a test can stop and restart it without touching the
// shared stack.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../", import.meta.url));

export class OwnPart {
  readonly part: string;
  readonly env: Record<string, string>;

  private constructor(part: string, env: Record<string, string>) {
    this.part = part;
    this.env = env;
  }

  /** `ports`: the SB_*_PORT variables of hack/lib/common.sh for this part. */
  static async create(part: string, ports: Record<string, number>): Promise<OwnPart> {
    const state = await mkdtemp(join(tmpdir(), `sb-${part}-`));
    const env = Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));
    return new OwnPart(part, { ...env, SWITCHBOARD_STATE: state });
  }

  async #script(command: string, timeoutMs: number): Promise<void> {
    try {
      await run("bash", [`hack/parts/${this.part}.sh`, command], {
        cwd: repo,
        env: { ...process.env, ...this.env },
        timeout: timeoutMs,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${this.part}.sh ${command} failed: ${e.message}\n${e.stderr ?? ""}`);
    }
  }

  /** Starts it (or restarts it on the same data) and resolves once it answers. */
  up(timeoutMs = 180_000): Promise<void> {
    return this.#script("up", timeoutMs);
  }

  /** Stops it (SIGTERM, then SIGKILL after the script's grace period). */
  down(timeoutMs = 60_000): Promise<void> {
    return this.#script("down", timeoutMs);
  }

  /** Stops it and deletes its state directory. */
  async purge(timeoutMs = 60_000): Promise<void> {
    await this.down(timeoutMs);
    await rm(this.env.SWITCHBOARD_STATE ?? "", { recursive: true, force: true });
  }
}
