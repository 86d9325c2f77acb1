// The cluster as the suite sees it: the tools (helm, kubectl) run as child processes with
// deadlines, Pods listed and waited on, and gateway addresses this process can reach.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import type { V1Pod } from "@kubernetes/client-node";
import { Cluster } from "../operator/harness.ts";
import { waitFor } from "../testkit/index.ts";
import type { ClusterSuiteEnv } from "./env.ts";

export const GATEWAY_PORT = 8080;

/** Runs a command to completion within the deadline; rejects with its output on failure. */
export function run(
  cmd: string,
  args: readonly string[],
  { timeoutMs = 300_000, input }: { timeoutMs?: number | undefined; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}${stdout}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const shell = (command: string, timeoutMs = 300_000): Promise<string> =>
  run("bash", ["-c", command], { timeoutMs });

export const isReady = (p: V1Pod): boolean =>
  p.status?.phase === "Running" &&
  p.metadata?.deletionTimestamp === undefined &&
  (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

export class SuiteCluster extends Cluster {
  readonly env: ClusterSuiteEnv;
  readonly #forwards: ChildProcess[] = [];

  constructor(env: ClusterSuiteEnv) {
    super();
    this.env = env;
  }

  kubectl(args: readonly string[], timeoutMs?: number): Promise<string> {
    return run(this.env.kubectl, ["--kubeconfig", this.env.kubeconfig, ...args], { timeoutMs });
  }

  helm(args: readonly string[], timeoutMs?: number): Promise<string> {
    return run(this.env.helm, ["--kubeconfig", this.env.kubeconfig, ...args], { timeoutMs });
  }

  /** Prints `kubectl get pods -A -o wide` under a heading: the suite's record of key points. */
  async printPods(heading: string): Promise<void> {
    const out = await this.kubectl(["get", "pods", "-A", "-o", "wide"]).catch(
      (e: Error) => `(kubectl failed: ${e.message})`,
    );
    process.stdout.write(`\n--- ${heading}: kubectl get pods -A -o wide\n${out}\n`);
  }

  /**
   * Prints each Pod's warnings and errors (JSON log lines of level 40 and up), at most `max`
   * per Pod, the latest: what a failed run leaves to look at once the namespace is gone.
   */
  async printWarnings(namespace: string, max = 40): Promise<void> {
    const pods = await this.core.listNamespacedPod({ namespace }).catch(() => ({ items: [] }));
    for (const p of pods.items) {
      const name = p.metadata?.name ?? "";
      const log = await this.kubectl(["logs", "-n", namespace, name, "--all-containers"]).catch(
        (e: Error) => `(kubectl logs failed: ${e.message})`,
      );
      const lines = log
        .split("\n")
        .filter((l) => /"level":(4|5|6)0\b/.test(l) || l.startsWith("("));
      if (lines.length === 0) continue;
      process.stdout.write(
        `\n--- warnings and errors of ${name}\n${lines.slice(-max).join("\n")}\n`,
      );
    }
  }

  async pods(namespace: string, selector: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector: selector })).items;
  }

  /** Waits until exactly `count` Pods match, all Running and Ready, and returns them. */
  waitReadyPods(
    namespace: string,
    selector: string,
    count: number,
    timeoutMs = 240_000,
    extra: (p: V1Pod) => boolean = () => true,
  ): Promise<V1Pod[]> {
    return waitFor(
      `${count} ready pods ${selector} in ${namespace}`,
      async () => {
        const pods = (await this.pods(namespace, selector)).filter(
          (p) => p.metadata?.deletionTimestamp === undefined,
        );
        return pods.length === count && pods.every((p) => isReady(p) && extra(p))
          ? pods
          : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /** An http:// base URL that reaches the Pod's gateway port from this process. */
  async podUrl(pod: V1Pod): Promise<string> {
    if (this.env.access === "direct") return `http://${pod.status?.podIP}:${GATEWAY_PORT}`;
    return this.#portForward(
      `pod/${pod.metadata?.name}`,
      pod.metadata?.namespace ?? "",
      GATEWAY_PORT,
    );
  }

  /** An http:// base URL of a Service port, through its ClusterIP or a port-forward. */
  async serviceUrl(namespace: string, name: string): Promise<string> {
    const svc = await this.core.readNamespacedService({ namespace, name });
    const port = svc.spec?.ports?.[0]?.port ?? 80;
    if (this.env.access === "direct") return `http://${svc.spec?.clusterIP}:${port}`;
    return this.#portForward(`svc/${name}`, namespace, port);
  }

  async #portForward(target: string, namespace: string, port: number): Promise<string> {
    const child = spawn(
      this.env.kubectl,
      ["--kubeconfig", this.env.kubeconfig, "-n", namespace, "port-forward", target, `:${port}`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#forwards.push(child);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const local = await waitFor(
      `kubectl port-forward ${target}`,
      () => {
        if (child.exitCode !== null) throw new Error(`port-forward exited: ${out}`);
        return /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      },
      { timeoutMs: 30_000 },
    );
    return `http://127.0.0.1:${local}`;
  }

  closeForwards(): void {
    for (const c of this.#forwards.splice(0)) c.kill("SIGTERM");
  }
}
