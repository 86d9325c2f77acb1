// hack/images verify <name> <image>: runs a built image the way a Pod would (runc, the image's
// own user, entrypoint, working directory and environment, a read-only root file system with
// only /tmp writable) and checks that it behaves:
//   workloads  the image's config (user 10001, OCI labels); `gateway` with in-memory backends
//              answers /healthz, runs as uid 10001, cannot write outside /tmp, and exits 0 on
//              SIGTERM; `forwarder`, `matcher`, `notifier` and `migrate` load every module and stop on
//              their missing configuration; no command prints the usage and exits 2.
//   operator   the image's config; without credentials it exits 1 saying so; with KUBECONFIG
//              set (hack/stack env) it runs against that API server as uid 10001 on a
//              read-only root, wins a Lease of its own (watching a namespace nobody uses, so
//              it touches nothing else), turns ready and exits 0 on SIGTERM.
// Called by hack/images with SB_IMAGES_STORE / SB_IMAGES_RUNROOT (buildah storage). Exits
// non-zero on the first failed check.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [name, imageArg] = process.argv.slice(2);
const store = process.env.SB_IMAGES_STORE;
const runroot = process.env.SB_IMAGES_RUNROOT;
if (!(name === "workloads" || name === "operator") || !imageArg || !store || !runroot) {
  console.error(
    "usage: SB_IMAGES_STORE=... SB_IMAGES_RUNROOT=... images-verify.ts <workloads|operator> <image>",
  );
  process.exit(2);
}
const image: string = imageArg;
const buildahArgs = ["--root", store, "--runroot", runroot, "--storage-driver", "overlay"];
const runcRoot = join(runroot, "runc");
const COMMAND_TIMEOUT_MS = 120_000;

function buildah(...args: string[]): string {
  return execFileSync("buildah", [...buildahArgs, ...args], {
    encoding: "utf8",
    timeout: COMMAND_TIMEOUT_MS,
  }).trim();
}
function runc(...args: string[]): string {
  return execFileSync("runc", ["--root", runcRoot, ...args], {
    encoding: "utf8",
    timeout: COMMAND_TIMEOUT_MS,
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

function check(ok: boolean, what: string, detail = ""): void {
  if (!ok) {
    console.error(`FAIL ${name}: ${what}${detail ? `\n${detail}` : ""}`);
    process.exitCode = 1;
    throw new Error(what);
  }
  console.log(`ok   ${name}: ${what}`);
}

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
}
const config = (
  JSON.parse(buildah("inspect", "--type", "image", image)) as { OCIv1: { config: ImageConfig } }
).OCIv1.config;

check(config.User === "10001:10001", `runs as 10001:10001 (User ${JSON.stringify(config.User)})`);
const labels = config.Labels ?? {};
for (const key of ["title", "source", "version", "revision", "licenses", "description"]) {
  const value = labels[`org.opencontainers.image.${key}`];
  check(value !== undefined && value !== "", `label org.opencontainers.image.${key}=${value}`);
}
check(labels["org.opencontainers.image.licenses"] === "Apache-2.0", "licensed Apache-2.0");
const revision = process.env.SB_IMAGES_REVISION;
if (revision) {
  check(
    labels["org.opencontainers.image.revision"] === revision,
    `built from the checked-out tree (revision ${revision})`,
  );
}

const [uid, gid] = (config.User ?? "0:0").split(":").map(Number) as [number, number];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** One container of the image: rootfs from buildah, an OCI bundle, runc in the foreground. */
class Container {
  readonly id = `sb-verify-${name}-${randomBytes(3).toString("hex")}`;
  readonly #bundle = mkdtempSync(join(tmpdir(), "sb-verify-"));
  readonly #working = buildah("from", "--pull=never", image);
  #output = "";
  #exit: Promise<{ code: number | null; atMs: number }> | undefined;

  constructor(args: string[], env: Record<string, string>, extraMounts: object[] = []) {
    const rootfs = buildah("mount", this.#working);
    const spec = {
      ociVersion: "1.0.2",
      process: {
        terminal: false,
        user: { uid, gid },
        args: [...(config.Entrypoint ?? []), ...args],
        env: [...(config.Env ?? []), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
        cwd: config.WorkingDir || "/",
        capabilities: { bounding: [], effective: [], permitted: [], ambient: [] },
        rlimits: [{ type: "RLIMIT_NOFILE", hard: 4096, soft: 4096 }],
        noNewPrivileges: true,
      },
      root: { path: rootfs, readonly: true },
      hostname: this.id,
      mounts: [
        { destination: "/proc", type: "proc", source: "proc" },
        { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"] },
        {
          destination: "/dev/shm",
          type: "tmpfs",
          source: "shm",
          options: ["nosuid", "nodev", "noexec", "mode=1777", "size=64m"],
        },
        {
          destination: "/sys",
          type: "sysfs",
          source: "sysfs",
          options: ["nosuid", "noexec", "nodev", "ro"],
        },
        // what an emptyDir gives a Pod
        {
          destination: "/tmp",
          type: "tmpfs",
          source: "tmpfs",
          options: ["nosuid", "nodev", "mode=1777", "size=64m"],
        },
        ...extraMounts,
      ],
      // the host's network namespace, so the check reaches the port on 127.0.0.1
      linux: { namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }] },
    };
    writeFileSync(join(this.#bundle, "config.json"), JSON.stringify(spec));
  }

  start(): void {
    const child = spawn("runc", ["--root", runcRoot, "run", "--bundle", this.#bundle, this.id], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (b: Buffer) => {
      this.#output += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      this.#output += b.toString();
    });
    this.#exit = new Promise((resolve) =>
      child.on("exit", (code) => resolve({ code, atMs: performance.now() })),
    );
  }

  get output(): string {
    return this.#output;
  }

  /** The exit code, or undefined when the container still runs after `ms`. */
  async exited(ms: number): Promise<{ code: number | null; atMs: number } | undefined> {
    if (!this.#exit) throw new Error("not started");
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    const result = await Promise.race([this.#exit, deadline]);
    clearTimeout(timer);
    return result;
  }

  pid(): number {
    return (JSON.parse(runc("state", this.id)) as { pid: number }).pid;
  }

  /** Runs a process in the container as `user`; returns its stdout. */
  exec(user: string, args: string[]): string {
    return runc("exec", "--user", user, this.id, ...args);
  }

  signal(sig: string): void {
    runc("kill", this.id, sig);
  }

  remove(): void {
    try {
      runc("delete", "--force", this.id);
    } catch {
      // never created, or already gone
    }
    buildah("rm", this.#working);
    rmSync(this.#bundle, { recursive: true, force: true });
  }
}

async function waitFor(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

async function checkGateway(): Promise<void> {
  const port = await freePort();
  const c = new Container(["gateway"], {
    SWITCHBOARD_BACKENDS: "memory",
    JWT_SECRET: randomBytes(32).toString("base64url"),
    PORT: String(port),
    HOST: "127.0.0.1",
  });
  try {
    const startedAt = performance.now();
    c.start();
    await waitFor("the gateway's /healthz", 90_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.status === 200;
    }).catch((err: unknown) => check(false, String(err), c.output));
    check(
      true,
      `gateway answers /healthz on 127.0.0.1:${port} ${Math.round(performance.now() - startedAt)} ms after start`,
    );

    // the web client was built into the image (docs/decisions/0017-web-client.md)
    const page = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    const html = await page.text();
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    const asset =
      script === undefined
        ? undefined
        : await fetch(`http://127.0.0.1:${port}${script}`, { signal: AbortSignal.timeout(5000) });
    check(
      page.status === 200 && asset?.status === 200,
      `the gateway serves the built web client at / (${page.status}) and its script ${script} (${asset?.status})`,
    );

    const status = readFileSync(`/proc/${c.pid()}/status`, "utf8");
    const uids = status.match(/^Uid:\s+(.*)$/m)?.[1]?.split(/\s+/);
    check(
      uids?.every((u) => u === "10001") === true,
      `the process runs as uid 10001 (Uid: ${uids?.join(" ")})`,
    );

    const probe = `const fs=require("node:fs");const r={};for(const p of ["/app/probe","/probe","/tmp/probe"]){try{fs.writeFileSync(p+process.getuid(),"x");r[p]="written"}catch(e){r[p]=e.code}}console.log(JSON.stringify(r))`;
    const asRoot = JSON.parse(c.exec("0:0", ["node", "-e", probe])) as Record<string, string>;
    check(
      asRoot["/app/probe"] === "EROFS" && asRoot["/probe"] === "EROFS",
      `the root file system is read-only even for uid 0 (${JSON.stringify(asRoot)})`,
    );
    const asApp = JSON.parse(c.exec("10001:10001", ["node", "-e", probe])) as Record<
      string,
      string
    >;
    check(
      asApp["/tmp/probe"] === "written" && asApp["/app/probe"] !== "written",
      `uid 10001 writes /tmp only (${JSON.stringify(asApp)})`,
    );

    const sentAt = performance.now();
    c.signal("TERM");
    const exit = await c.exited(15_000);
    check(
      exit?.code === 0,
      `SIGTERM to PID 1: exit ${exit?.code} in ${exit ? Math.round(exit.atMs - sentAt) : "> 15000"} ms`,
      c.output,
    );
  } finally {
    c.remove();
  }
}

/** A command that needs backends loads all its modules, then stops on its configuration. */
async function checkStopsOnConfig(command: string): Promise<void> {
  const c = new Container([command], {});
  try {
    c.start();
    const exit = await c.exited(90_000);
    const out = c.output;
    check(
      exit?.code === 1 &&
        /invalid configuration|must /.test(out) &&
        !/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/.test(out),
      `${command} without settings exits 1 with a configuration error (exit ${exit?.code})`,
      out,
    );
  } finally {
    c.remove();
  }
}

async function checkUsage(): Promise<void> {
  const c = new Container(["bogus"], {});
  try {
    c.start();
    const exit = await c.exited(60_000);
    check(
      exit?.code === 2 && /usage: node workloads\/main.ts/.test(c.output),
      "an unknown command prints the usage and exits 2",
      c.output,
    );
  } finally {
    c.remove();
  }
}

async function checkOperatorWithoutCredentials(): Promise<void> {
  const c = new Container([], {});
  try {
    c.start();
    const exit = await c.exited(90_000);
    check(
      exit?.code === 1 && /no Kubernetes credentials/.test(c.output),
      `the operator without credentials exits 1 saying so (exit ${exit?.code})`,
      c.output,
    );
  } finally {
    c.remove();
  }
}

async function checkOperatorAgainstCluster(): Promise<void> {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) {
    console.log(`skip ${name}: against an API server (no KUBECONFIG; eval "$(hack/stack env)")`);
    return;
  }
  const kubectl = process.env.SB_KUBECTL || "kubectl";
  const suffix = randomBytes(3).toString("hex");
  const lease = `sb-image-verify-${suffix}`;
  const dir = mkdtempSync(join(tmpdir(), "sb-verify-kube-"));
  const file = join(dir, "kubeconfig");
  // one self-contained file the container's user can read; removed at the end
  const flat = execFileSync(kubectl, ["config", "view", "--raw", "--flatten", "--minify"], {
    encoding: "utf8",
    timeout: COMMAND_TIMEOUT_MS,
  });
  writeFileSync(file, flat, { mode: 0o600 });
  chownSync(file, uid, gid);
  const port = await freePort();
  const c = new Container(
    [],
    {
      KUBECONFIG: "/etc/switchboard/kubeconfig",
      POD_NAME: lease,
      LEASE_NAME: lease,
      LEASE_NAMESPACE: "default",
      WATCH_NAMESPACE: lease,
      PORT: String(port),
      HOST: "127.0.0.1",
    },
    [
      {
        destination: "/etc/switchboard/kubeconfig",
        type: "bind",
        source: file,
        options: ["rbind", "ro"],
      },
    ],
  );
  try {
    const startedAt = performance.now();
    c.start();
    await waitFor("the operator to lead and turn ready", 120_000, async () => {
      if (!c.output.includes("became the leader")) return false;
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.status === 200;
    }).catch((err: unknown) => check(false, String(err), c.output));
    check(
      true,
      `operator leads Lease default/${lease} and is ready ${Math.round(performance.now() - startedAt)} ms after start`,
    );
    const sentAt = performance.now();
    c.signal("TERM");
    const exit = await c.exited(35_000);
    check(
      exit?.code === 0,
      `SIGTERM to PID 1: exit ${exit?.code} in ${exit ? Math.round(exit.atMs - sentAt) : "> 35000"} ms`,
      c.output,
    );
  } finally {
    c.remove();
    rmSync(dir, { recursive: true, force: true });
    execFileSync(kubectl, ["delete", "lease", "-n", "default", lease, "--ignore-not-found"], {
      timeout: COMMAND_TIMEOUT_MS,
      stdio: "ignore",
    });
  }
}

try {
  if (name === "workloads") {
    await checkGateway();
    for (const command of ["forwarder", "matcher", "notifier", "migrate"]) {
      await checkStopsOnConfig(command);
    }
    await checkUsage();
  } else {
    await checkOperatorWithoutCredentials();
    await checkOperatorAgainstCluster();
  }
  console.log(`${name}: all checks passed (${image})`);
} catch (err) {
  if (process.exitCode !== 1) console.error(`FAIL ${name}: ${String(err)}`);
  process.exitCode = 1;
}
