// The frame parser counts a string's length in code points, as the published schema does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { protocolValidator } from "./fixtures.ts";
import { parseClientFrame } from "./parse.ts";

const validator = protocolValidator();
const astral = "\u{10000}"; // one code point, two UTF-16 units

describe("frame parser: string lengths", () => {
  it("takes a tag of 32 characters beyond the BMP (32 code points, 64 UTF-16 units)", () => {
    const frame = { type: "match", request_id: "r1", tags: [astral.repeat(32)] };
    assert.ok(validator.client(frame), "the published schema takes it");
    const parsed = parseClientFrame(JSON.stringify(frame));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  });

  it("refuses a language of one character beyond the BMP (1 code point, 2 units)", () => {
    const frame = { type: "match", request_id: "r2", language: astral };
    assert.equal(validator.client(frame), false, "the published schema refuses it");
    const parsed = parseClientFrame(JSON.stringify(frame));
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? "" : parsed.error.message, /language/);
  });

  it("hands on the frame as sent, not the view it was checked on", () => {
    const text = `${astral}!`;
    const parsed = parseClientFrame(
      JSON.stringify({
        type: "message",
        room_id: "3f0c3c55-7c3f-4d43-9a8e-1f1e3e4f5a61",
        client_msg_id: "c1",
        msg_type: "text",
        content: { text },
      }),
    );
    assert.ok(parsed.ok);
    assert.equal(
      parsed.ok && parsed.frame.type === "message" ? parsed.frame.content.text : "",
      text,
    );
  });
});
