// Generated frames (fast-check) through the frame parser: mutations of the recorded frames in
// fixtures/, arbitrary JSON, objects of every frame type with fields of the wrong kind, oversized
// text, and bytes that are not UTF-8 (as the gateway reads them). The parser never throws; what
// it accepts, the published docs/protocol.schema.json accepts too; what it refuses is
// INVALID_FRAME with the request id echoed exactly when the frame carried a valid one. A bounded
// sample runs with the unit tests (FRAME_FUZZ_RUNS, 3,000 by default); raise it for a long run.
// With FUZZ_REPORT=<file>, the counts are written there as JSON (npm run fuzz reads them).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { protocolValidator } from "./fixtures.ts";
import { frameInputs, textOf } from "./fuzz-frames.ts";
import { parseClientFrame } from "./parse.ts";

const RUNS = Number(process.env.FRAME_FUZZ_RUNS ?? 3_000);
if (!(Number.isInteger(RUNS) && RUNS > 0)) {
  throw new RangeError(`FRAME_FUZZ_RUNS must be a positive integer, not ${RUNS}`);
}

const validator = protocolValidator();

/**
 * The two rules the parser checks beyond the published schema (fixtures/invalid.expected.json,
 * `schema_accepts`): exactly one destination per message, and an http(s) url.
 */
const BEYOND_SCHEMA = ["exactly one of room_id and to_user_id", "/content/url"];

/** The id the error must echo: a string id of 1..64 characters on a JSON object, else none. */
function expectedId(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const id = (v as { id?: unknown }).id;
  return typeof id === "string" && id.length >= 1 && id.length <= 64 ? id : undefined;
}

describe("frame parser fuzzing", () => {
  it(`answers ${RUNS} generated frames with a schema-valid frame or INVALID_FRAME, never a throw`, () => {
    const counts = {
      inputs: 0,
      accepted: 0,
      refused: 0,
      beyondSchema: 0,
      crashes: 0,
    };
    const messages = new Map<string, number>();
    fc.assert(
      fc.property(frameInputs, (input) => {
        const text = textOf(input);
        counts.inputs++;
        let parsed: ReturnType<typeof parseClientFrame>;
        try {
          parsed = parseClientFrame(text);
        } catch (err) {
          counts.crashes++;
          throw err;
        }
        let value: unknown;
        let json = true;
        try {
          value = JSON.parse(text);
        } catch {
          json = false;
        }
        if (parsed.ok) {
          counts.accepted++;
          assert.ok(json, `accepted text that is not JSON: ${text.slice(0, 200)}`);
          assert.ok(
            validator.client(value),
            `the parser accepted what the schema refuses: ${text.slice(0, 300)} ${JSON.stringify(validator.client.errors)}`,
          );
          return;
        }
        counts.refused++;
        assert.equal(parsed.error.code, "INVALID_FRAME");
        assert.ok(parsed.error.message.length > 0 && parsed.error.message.length <= 512);
        assert.equal(parsed.id, expectedId(text), `id echoed for ${text.slice(0, 200)}`);
        const kind = parsed.error.message
          .replace(/^unknown frame type '.*'$/s, "unknown frame type '…'")
          .replace(/^(\w+): \/.*$/, "$1: does not match its schema");
        messages.set(kind, (messages.get(kind) ?? 0) + 1);
        if (json && validator.client(value)) {
          // the schema accepts it: only for the documented rules beyond the schema
          counts.beyondSchema++;
          assert.ok(
            BEYOND_SCHEMA.some((m) => parsed.error.message.includes(m)),
            `the schema accepts what the parser refuses (${parsed.error.message}): ${text.slice(0, 300)}`,
          );
        }
      }),
      { numRuns: RUNS },
    );
    // the generators reach both sides
    assert.ok(counts.accepted > 0 && counts.refused > 0, JSON.stringify(counts));
    if (process.env.FUZZ_REPORT) {
      writeFileSync(
        process.env.FUZZ_REPORT,
        JSON.stringify({
          target: "frame parser",
          ...counts,
          errorsByCode: { INVALID_FRAME: counts.refused },
          refusals: Object.fromEntries([...messages].sort((a, b) => b[1] - a[1])),
        }),
      );
    }
  });
});
