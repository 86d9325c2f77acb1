import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseCommand } from "./main.ts";

test("the entry point takes exactly one known command", () => {
  assert.equal(parseCommand(["gateway"]), "gateway");
  assert.equal(parseCommand(["migrate"]), "migrate");
  assert.equal(parseCommand(["notifier"]), "notifier");
  assert.equal(parseCommand([]), undefined);
  assert.equal(parseCommand(["gateway", "extra"]), undefined);
  assert.equal(parseCommand(["operator"]), undefined);
});

test("an unknown command exits 2 with the usage on stderr", () => {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const r = spawnSync(process.execPath, [main, "nonsense"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(
    r.stderr,
    /usage: node workloads\/main\.ts <gateway\|forwarder\|matcher\|notifier\|migrate>/,
  );
});

test("migrate through the entry point reports a bad environment and exits 1", () => {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const r = spawnSync(process.execPath, [main, "migrate"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "" },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /CASSANDRA_CONTACT_POINTS must list/);
});
