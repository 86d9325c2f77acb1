// Summarizes V8 .cpuprofile files (written by `node --cpu-prof`): where the self time went,
// by function and by package, optionally only inside a time window (µs on the monotonic clock
// that both V8's profiler and process.hrtime read on Linux).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly file: string;
  readonly pid: number;
  /** sampled ms inside the window, idle excluded */
  readonly busyMs: number;
  readonly windowed: boolean;
  readonly topFunctions: { name: string; where: string; ms: number; pct: number }[];
  readonly byPackage: { name: string; ms: number; pct: number }[];
}

const shortUrl = (url: string): string => {
  if (url === "") return "";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const w = url.indexOf("/workloads/");
  if (w >= 0) return url.slice(w + 1);
  return url.replace(/^file:\/\//, "");
};

const packageOf = (name: string, url: string): string => {
  if (url === "") return name.startsWith("(") ? name : "(native/V8)";
  if (url.startsWith("node:")) return "node core";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const w = /\/(workloads\/[^/]+(?:\/[^/]+)?)\//.exec(url);
  return w?.[1] ?? shortUrl(url);
};

export function summarizeProfile(
  path: string,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const p = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const windowed = window !== undefined && window.fromUs < p.endTime && window.toUs > p.startTime;
  const self = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (windowed && (t < window.fromUs || t > window.toUs)) continue;
    const id = p.samples[i] as number;
    // a sample's time is the gap to the next one
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fns = new Map<string, { name: string; where: string; ms: number }>();
  const pkgs = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === "(idle)") continue;
    busy += ms;
    const name = functionName === "" ? "(anonymous)" : functionName;
    const where = url === "" ? "" : `${shortUrl(url)}:${lineNumber + 1}`;
    const key = `${name}@${where}`;
    const f = fns.get(key) ?? { name, where, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
    const pkg = packageOf(name, url);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + ms);
  }
  const pct = (ms: number) => Math.round((1000 * ms) / Math.max(busy, 1e-9)) / 10;
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(path)?.[1] ?? 0);
  return {
    file: path,
    pid,
    busyMs: Math.round(busy),
    windowed,
    topFunctions: [...fns.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 15)
      .map((f) => ({ ...f, ms: r1(f.ms), pct: pct(f.ms) })),
    byPackage: [...pkgs.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([name, ms]) => ({ name, ms: r1(ms), pct: pct(ms) })),
  };
}

export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** Monotonic µs, comparable with the timestamps in a .cpuprofile. */
export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);
