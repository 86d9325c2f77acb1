// Runs our workloads as real child processes, the way a Pod would, and stops or kills them.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));

/** A free TCP port on loopback (the OS picks it; it is released before returning). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, "close");
  return port;
}

export class Workload {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly output: string[] = [];
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(name: string, port: number, child: ChildProcess) {
    this.name = name;
    this.port = port;
    this.child = child;
    // SB_WORKLOAD_LOG_DIR keeps every workload's whole output, one file per name (debugging)
    const dir = process.env.SB_WORKLOAD_LOG_DIR;
    const keep = (chunk: Buffer) => {
      if (dir) appendFileSync(`${dir}/${name}.log`, chunk);
      this.output.push(chunk.toString());
      if (this.output.length > 400) this.output.splice(0, 100);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("exit", (code, signal) => {
      this.exited = { code, signal };
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `node <entry>` with the environment and waits until /readyz answers 200. */
  static async start(
    name: string,
    entry: string,
    env: Record<string, string>,
    timeoutMs = 60_000,
  ): Promise<Workload> {
    const port = Number(env.PORT ?? (await freePort()));
    const child = spawn(process.execPath, [entry], {
      cwd: repo,
      env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const w = new Workload(name, port, child);
    try {
      await waitFor(
        `${name} to be ready`,
        async () => {
          if (w.exited) throw new Error(`${name} exited ${JSON.stringify(w.exited)}: ${w.tail()}`);
          const res = await fetch(`${w.url}/readyz`, { signal: AbortSignal.timeout(1000) });
          return res.status === 200 ? true : undefined;
        },
        { timeoutMs, intervalMs: 100 },
      );
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${w.tail()}`);
    }
    return w;
  }

  tail(lines = 30): string {
    return this.output.join("").split("\n").slice(-lines).join("\n");
  }

  /** SIGTERM and wait for the exit (graceful shutdown). */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    const gone = once(this.child, "exit");
    this.child.kill("SIGCONT");
    this.child.kill("SIGTERM");
    try {
      await waitFor(`${this.name} to exit`, () => (this.exited ? true : undefined), { timeoutMs });
    } catch (err) {
      // never left running: a live child keeps the test file from ever exiting
      this.child.kill("SIGKILL");
      await gone;
      throw err;
    }
    await gone;
  }

  /** SIGSTOP: the process freezes, holding its connections (a stalled pod); resume() thaws it. */
  pause(): void {
    if (!this.exited) this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (!this.exited) this.child.kill("SIGCONT");
  }

  /** SIGKILL: a crash, no shutdown path runs. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = once(this.child, "exit");
    this.child.kill("SIGKILL");
    await gone;
  }
}
