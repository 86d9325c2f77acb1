// Every benchmark writes bench/results/<name>.json (everything it measured) and a short
// bench/results/<name>.md (the same, for people), each stamped with where it came from.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load, type Machine, machine, stackVersions } from "./machine.ts";

export const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));

export interface Run {
  readonly name: string;
  readonly startedAt: string;
  readonly machine: Machine;
  readonly versions: Record<string, string>;
  readonly loadBefore: [number, number, number];
}

export function beginRun(name: string): Run {
  return {
    name,
    startedAt: new Date().toISOString(),
    machine: machine(),
    versions: stackVersions(),
    loadBefore: load(),
  };
}

/** A markdown table from rows of cells. */
export function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => `| ${cells.map((c) => String(c)).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

export function writeResults(
  run: Run,
  params: Record<string, unknown>,
  figures: Record<string, unknown>,
  sections: readonly { title: string; body: string }[],
): { json: string; md: string } {
  mkdirSync(resultsDir, { recursive: true });
  const loadAfter = load();
  const finishedAt = new Date().toISOString();
  const doc = { ...run, finishedAt, loadAfter, params, figures };
  const json = `${resultsDir}${run.name}.json`;
  writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);
  const m = run.machine;
  const md = [
    `# bench: ${run.name}`,
    "",
    `- date: ${run.startedAt} → ${finishedAt}`,
    `- machine: ${m.cores} cores (${m.cpuModel}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, idle: ${m.idle}`,
    `- load average (1/5/15 min): before ${run.loadBefore.join(" / ")}, after ${loadAfter.join(" / ")}`,
    `- versions: ${Object.entries(run.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `- parameters: ${Object.entries(params)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(", ")}`,
    "",
    ...sections.flatMap((s) => [`## ${s.title}`, "", s.body.trim(), ""]),
  ].join("\n");
  const mdPath = `${resultsDir}${run.name}.md`;
  writeFileSync(mdPath, md);
  return { json, md: mdPath };
}
