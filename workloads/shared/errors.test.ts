import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errors as cassandra } from "cassandra-driver";
import { asChatError, ChatError } from "./errors.ts";

describe("asChatError", () => {
  it("passes our errors through", () => {
    const e = new ChatError("ROOM_NOT_FOUND", "no such room");
    assert.equal(asChatError(e), e);
  });

  it("answers a backend that timed out or is away with UNAVAILABLE and a retry time", () => {
    const away = [
      new Error("Command timed out"),
      new Error("Connection is closed."),
      new cassandra.OperationTimedOutError("timed out", "127.0.0.1:9042"),
      new cassandra.NoHostAvailableError({}, "none"),
      new cassandra.ResponseError(0x1100, "write timeout"),
      new cassandra.ResponseError(0x1001, "overloaded"),
    ];
    for (const err of away) {
      const e = asChatError(err);
      assert.equal(e.code, "UNAVAILABLE", `${err.name}: ${err.message}`);
      assert.ok((e.retryAfterMs ?? 0) > 0);
    }
  });

  it("keeps INTERNAL for everything else, including Cassandra's refusals of a bad query", () => {
    for (const err of [
      new TypeError("x is undefined"),
      new cassandra.ResponseError(0x2200, "invalid query"),
      "a string",
      undefined,
    ]) {
      assert.equal(asChatError(err).code, "INTERNAL");
    }
  });
});
