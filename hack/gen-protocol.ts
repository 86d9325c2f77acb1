// Writes the protocol documents from workloads/shared/protocol (frames, close codes) and
// workloads/shared/errors.ts: docs/protocol.schema.json, docs/asyncapi.json, the generated
// sections of docs/protocol.md (the prose between them is kept) and the client library's frame
// types (workloads/client/src/protocol.ts).
// Usage: node hack/gen-protocol.ts [--check]  (--check exits 1 when a file differs)
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  ASYNCAPI_FILE,
  asyncApiDocument,
  json,
  PROTOCOL_DOC_FILE,
  PROTOCOL_SCHEMA_FILE,
  protocolJsonSchema,
  renderProtocolDoc,
} from "../workloads/gateway/ws/protocol-docs.ts";
import {
  CLIENT_PROTOCOL_FILE,
  renderClientProtocol,
} from "../workloads/gateway/ws/protocol-types.ts";

if (process.argv.includes("--help")) {
  console.error("usage: node hack/gen-protocol.ts [--check]");
  process.exit(0);
}
const repo = fileURLToPath(new URL("../", import.meta.url));
const check = process.argv.includes("--check");
const read = (file: string) => readFile(repo + file, "utf8").catch(() => "");
const targets: [string, string][] = [
  [PROTOCOL_SCHEMA_FILE, json(protocolJsonSchema())],
  [ASYNCAPI_FILE, json(asyncApiDocument())],
  [PROTOCOL_DOC_FILE, renderProtocolDoc(await read(PROTOCOL_DOC_FILE))],
  [CLIENT_PROTOCOL_FILE, renderClientProtocol()],
];
let stale = 0;
for (const [target, want] of targets) {
  if ((await read(target)) === want) continue;
  if (check) {
    console.error(`${target} is stale: run node hack/gen-protocol.ts`);
    stale++;
  } else {
    await writeFile(repo + target, want);
    console.error(`wrote ${target}`);
  }
}
process.exitCode = stale === 0 ? 0 : 1;
