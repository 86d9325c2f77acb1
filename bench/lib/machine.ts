// What a benchmark figure is worth depends on where it was taken: the machine, its load, the
// versions of the stack, and how much CPU each process burned. This file reads all of that
// from /proc and the repository, without any dependency.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, homedir, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const CLK_TCK = 100;

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly ramGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** the guest's idle driver and its halt polling: they set what a wake-up costs (wakeup.md) */
  readonly idle: string;
}

const readSys = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
};

function idle(): string {
  const driver = readSys("/sys/devices/system/cpu/cpuidle/current_driver") ?? "unknown";
  const poll = readSys("/sys/module/haltpoll/parameters/guest_halt_poll_ns");
  return poll === undefined ? driver : `${driver}, guest_halt_poll_ns ${poll}`;
}

export function machine(): Machine {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? cpus()[0]?.model ?? "unknown";
  return {
    cores: cpus().length,
    cpuModel: model.trim(),
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    node: process.version,
    idle: idle(),
  };
}

export const load = (): [number, number, number] => {
  const [a = 0, b = 0, c = 0] = loadavg();
  const r = (x: number) => Math.round(x * 100) / 100;
  return [r(a), r(b), r(c)];
};

const pkgVersion = (name: string): string => {
  try {
    const p = JSON.parse(readFileSync(`${repo}node_modules/${name}/package.json`, "utf8"));
    return String(p.version);
  } catch {
    return "unknown";
  }
};

const pomVersion = (file: string, prop: string): string => {
  try {
    const pom = readFileSync(`${repo}${file}`, "utf8");
    return new RegExp(`<${prop}>([^<]+)</${prop}>`).exec(pom)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
};

export function stackVersions(): Record<string, string> {
  let redis = "unknown";
  try {
    redis =
      /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ??
      redis;
  } catch {
    // redis-server not on PATH: the version stays unknown
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["describe", "--always", "--dirty"], {
      cwd: repo,
      encoding: "utf8",
    }).trim();
  } catch {
    // not a git checkout
  }
  return {
    switchboard: commit,
    node: process.version,
    kafka: pomVersion("hack/kafka/pom.xml", "kafka.version"),
    cassandra: pomVersion("hack/cassandra/pom.xml", "cassandra.version"),
    redis,
    ws: pkgVersion("ws"),
    kafkajs: pkgVersion("kafkajs"),
    "@platformatic/kafka": pkgVersion("@platformatic/kafka"),
    "cassandra-driver": pkgVersion("cassandra-driver"),
    ioredis: pkgVersion("ioredis"),
  };
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
export interface ProcSample {
  readonly cpuSec: number;
  readonly rssBytes: number;
}

export function procSample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name may hold spaces: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { cpuSec: (utime + stime) / CLK_TCK, rssBytes: rssKiB * 1024 };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine (every process, every helper). */
export function machineCpu(): { busySec: number; totalSec: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busySec: (total - idle) / CLK_TCK, totalSec: total / CLK_TCK };
}

/**
 * The pids of the shared stack's servers, from the pid files hack/stack keeps in its state
 * directory (read only: they belong to hack/stack). Not from a scan of the processes: tests
 * run private Kafkas, Cassandras and Redises of their own beside it.
 */
export function stackPids(): Record<string, number> {
  const cache = process.env.SWITCHBOARD_CACHE ?? join(homedir(), ".cache", "switchboard");
  const state = process.env.SWITCHBOARD_STATE ?? join(cache, "state");
  const pids: Record<string, number> = {};
  for (const part of ["kafka", "cassandra", "redis"]) {
    try {
      const pid = Number(readFileSync(join(state, "pids", `${part}.pid`), "utf8").trim());
      if (procSample(pid) !== undefined) pids[part] = pid;
    } catch {
      // not running: left out
    }
  }
  return pids;
}

/** CPU seconds each named process used between two calls of the returned function. */
export function cpuMeter(pids: Record<string, number>): () => Record<string, number> {
  const before = new Map(Object.entries(pids).map(([k, pid]) => [k, procSample(pid)?.cpuSec ?? 0]));
  const self0 = process.cpuUsage();
  const m0 = machineCpu();
  return () => {
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) {
      out[k] = round3((procSample(pid)?.cpuSec ?? 0) - (before.get(k) ?? 0));
    }
    const self = process.cpuUsage(self0);
    out.generator = round3((self.user + self.system) / 1e6);
    const m1 = machineCpu();
    out.machineBusy = round3(m1.busySec - m0.busySec);
    out.machineTotal = round3(m1.totalSec - m0.totalSec);
    return out;
  };
}

export const round3 = (x: number) => Math.round(x * 1000) / 1000;
