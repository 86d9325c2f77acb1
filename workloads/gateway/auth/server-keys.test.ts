import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnvReader } from "#contract/env";
import { readSetting, SETTINGS } from "#contract/settings";
import { ServerKeys } from "./server-keys.ts";

const A = "a".repeat(32);
const B = "b-0123456789abcdef0123456789abcdef";

describe("server keys", () => {
  it("accepts each configured key (rotation) and nothing else, known by a fingerprint that is not the key", () => {
    const keys = new ServerKeys([A, B]);
    assert.equal(keys.enabled, true);
    const fa = keys.match(A);
    const fb = keys.match(B);
    assert.match(fa ?? "", /^[0-9a-f]{12}$/);
    assert.ok(fb !== undefined && fb !== fa, "each key has its own fingerprint (and bucket)");
    assert.equal(keys.match(A), fa, "stable");
    for (const wrong of ["", A.slice(1), `${A}x`, B.toUpperCase()]) {
      assert.equal(keys.match(wrong), undefined, wrong);
    }
    assert.equal(new ServerKeys([]).enabled, false);
    assert.equal(new ServerKeys([]).match(A), undefined);
  });

  it("reads SERVER_API_KEYS split on commas and whitespace, and names a short key by position only", () => {
    const env = new EnvReader({ SERVER_API_KEYS: ` ${A},\n${B}\n` });
    assert.deepEqual(readSetting(env, SETTINGS.serverApiKeys), [A, B]);
    env.done();
    assert.deepEqual(readSetting(new EnvReader({}), SETTINGS.serverApiKeys), []);

    const short = new EnvReader({ SERVER_API_KEYS: `${A},short-secret` });
    readSetting(short, SETTINGS.serverApiKeys);
    assert.throws(
      () => short.done(),
      (err: Error) =>
        /SERVER_API_KEYS: secret 2 of 2 is shorter than 32/.test(err.message) &&
        !err.message.includes("short-secret") &&
        !err.message.includes(A),
    );
  });
});
