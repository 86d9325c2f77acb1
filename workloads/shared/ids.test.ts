import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { messageId } from "./ids.ts";

describe("message ids", () => {
  it("are the same for a retry of the same send", () => {
    assert.equal(messageId("u1", "c1"), messageId("u1", "c1"));
  });
  it("differ by sender and by client message id", () => {
    assert.notEqual(messageId("u1", "c1"), messageId("u2", "c1"));
    assert.notEqual(messageId("u1", "c1"), messageId("u1", "c2"));
    assert.notEqual(messageId("u1", "c1\0"), messageId("u1\0", "c1"));
  });
  it("are lowercase version-5 UUIDs", () => {
    assert.match(
      messageId("a", "b"),
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
