// Builds the web client (workloads/web/src) into workloads/web/dist: one minified script and one
// stylesheet with content hashes in their names, and the index.html that names them. The gateway
// serves that folder at / (workloads/gateway/web.ts). `npm run build:web`; `npm start`, the
// workloads image and CI run it. Usage: node workloads/web/build.ts [--out DIR] [--help]
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

if (process.argv.includes("--help")) {
  console.error("usage: node workloads/web/build.ts [--out DIR]   (default: workloads/web/dist)");
  process.exit(0);
}
const here = fileURLToPath(new URL(".", import.meta.url));
const outArg = process.argv.indexOf("--out");
const out = outArg > 0 ? (process.argv[outArg + 1] ?? "") : `${here}dist`;
if (out === "") throw new Error("build: --out needs a directory");
await rm(out, { recursive: true, force: true });
await mkdir(`${out}/assets`, { recursive: true });
const result = await build({
  entryPoints: [`${here}src/main.tsx`],
  bundle: true,
  minify: true,
  sourcemap: "linked",
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: `${out}/assets`,
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((f) => basename(f));
const script = outputs.find((f) => f.endsWith(".js"));
const style = outputs.find((f) => f.endsWith(".css"));
if (script === undefined || style === undefined)
  throw new Error(`build: no script or style in ${outputs}`);
const html = (await readFile(`${here}src/index.html`, "utf8"))
  .replace("%SCRIPT%", `/assets/${script}`)
  .replace("%STYLE%", `/assets/${style}`);
await writeFile(`${out}/index.html`, html);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.error(`built ${out}: ${outputs.join(", ")} (${Math.round(bytes / 1024)} KiB with maps)`);
