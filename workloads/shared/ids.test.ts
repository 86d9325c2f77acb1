import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { messageId } from "./ids.ts";

const key = (senderId: string, roomId: string, clientMsgId: string) => ({
  senderId,
  roomId,
  clientMsgId,
});

describe("message ids", () => {
  it("are the same for a retry of the same send", () => {
    assert.equal(messageId(key("u1", "r1", "c1")), messageId(key("u1", "r1", "c1")));
  });
  it("differ by sender, by room and by client message id", () => {
    const base = messageId(key("u1", "r1", "c1"));
    assert.notEqual(base, messageId(key("u2", "r1", "c1")));
    assert.notEqual(base, messageId(key("u1", "r2", "c1")));
    assert.notEqual(base, messageId(key("u1", "r1", "c2")));
    assert.notEqual(messageId(key("u1", "r1", "c1\0")), messageId(key("u1", "r1\0", "c1")));
    assert.notEqual(messageId(key("u1", "r1", "c1\0")), messageId(key("u1\0", "r1", "c1")));
  });
  it("are lowercase version-5 UUIDs", () => {
    assert.match(
      messageId(key("a", "r", "b")),
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
