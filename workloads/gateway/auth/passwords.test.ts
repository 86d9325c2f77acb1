import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashPassword, verifyPassword } from "./passwords.ts";

const fast = { memory: 1024, passes: 1, parallelism: 1 };

describe("password hashing", () => {
  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword("correct horse battery staple", fast);
    assert.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await verifyPassword("correct horse battery staple", stored), true);
    assert.equal(await verifyPassword("correct horse battery stapler", stored), false);
  });

  it("salts: the same password hashes differently each time", async () => {
    assert.notEqual(await hashPassword("pw-123456", fast), await hashPassword("pw-123456", fast));
  });

  it("refuses a malformed stored hash instead of throwing", async () => {
    assert.equal(await verifyPassword("x", "plain-text"), false);
  });
});
