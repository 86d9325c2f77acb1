// The README's first look, exactly as written there: `npm start`, then the scripted chat.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort, Workload } from "../../e2e/testkit/index.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));

describe("quick start (README)", () => {
  let server: Workload;

  before(async () => {
    server = await Workload.start("npm start", "workloads/embedded/main.ts", {
      PORT: String(await freePort()),
    });
  });

  after(async () => {
    await server.stop();
  });

  it("runs a two-person chat on the embedded default with examples/chat-demo.ts", async () => {
    const child = spawn(process.execPath, ["examples/chat-demo.ts", server.url], { cwd: repo });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, out);
    assert.match(out, /bob received: "Hi Bob!"/);
    assert.match(out, /alice received: "Hello Alice!" \(seq 2\)/);
    assert.match(out, /chat demo: ok/);
  });

  it("shuts down cleanly on SIGTERM", async () => {
    const other = await Workload.start("npm start", "workloads/embedded/main.ts", {
      PORT: String(await freePort()),
    });
    await other.stop();
    assert.equal(other.exited?.code, 0);
  });
});
