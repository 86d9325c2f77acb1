// Writes crds/chat.switchboard.dev_chatclusters.yaml from operator/src/api/schema.ts, and the
// chart's copy. Usage: node hack/gen-crd.ts [--check]  (--check exits 1 when a file differs)
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { CRD_FILE, chatClusterCrdYaml } from "../operator/src/api/crd.ts";

const repo = fileURLToPath(new URL("../", import.meta.url));
const targets = [CRD_FILE, `charts/switchboard-operator/crds/${CRD_FILE.slice("crds/".length)}`];
const check = process.argv.includes("--check");
const want = chatClusterCrdYaml();
let stale = 0;
for (const target of targets) {
  const have = await readFile(repo + target, "utf8").catch(() => "");
  if (have === want) continue;
  if (check) {
    console.error(`${target} is stale: run node hack/gen-crd.ts`);
    stale++;
  } else {
    await writeFile(repo + target, want);
    console.error(`wrote ${target}`);
  }
}
process.exitCode = stale === 0 ? 0 : 1;
