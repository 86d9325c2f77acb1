// The parser and the published JSON Schema on the recorded frames of fixtures/.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ErrorCodes } from "../errors.ts";
import {
  invalidExpectations,
  invalidFrames,
  protocolValidator,
  typeOfFixture,
  validClientFrames,
  validServerFrames,
} from "./fixtures.ts";
import { ClientFrameSchemas, ServerFrameSchemas } from "./frames.ts";
import { parseClientFrame } from "./parse.ts";

const validator = protocolValidator();
const typesOf = (schemas: readonly { properties: { type: { const: string } } }[]) =>
  schemas.map((s) => s.properties.type.const).sort();
const errorsOf = (v: { errors?: unknown }) => JSON.stringify(v.errors);

describe("recorded frames: valid client frames", () => {
  for (const f of validClientFrames()) {
    it(`${f.name} parses to a '${typeOfFixture(f.name)}' frame, unchanged`, () => {
      const parsed = parseClientFrame(f.text);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
      assert.equal(parsed.frame.type, typeOfFixture(f.name));
      assert.deepEqual(parsed.frame, JSON.parse(f.text));
    });
    it(`${f.name} agrees with docs/protocol.schema.json`, () => {
      assert.ok(validator.client(JSON.parse(f.text)), errorsOf(validator.client));
      assert.ok(validator.any(JSON.parse(f.text)), errorsOf(validator.any));
    });
  }

  it("every client frame type has a recorded frame", () => {
    const recorded = new Set(validClientFrames().map((f) => typeOfFixture(f.name)));
    assert.deepEqual(
      typesOf(ClientFrameSchemas).filter((t) => !recorded.has(t)),
      [],
      "add fixtures/valid/client/<type>.<case>.json",
    );
  });
});

describe("recorded frames: valid server frames", () => {
  for (const f of validServerFrames()) {
    it(`${f.name} is a '${typeOfFixture(f.name)}' frame by docs/protocol.schema.json`, () => {
      const frame = JSON.parse(f.text) as { type: string };
      assert.equal(frame.type, typeOfFixture(f.name));
      assert.ok(validator.server(frame), errorsOf(validator.server));
      assert.equal(validator.client(frame), false, "a server frame is not a client frame");
    });
  }

  it("every server frame type has a recorded frame", () => {
    const recorded = new Set(validServerFrames().map((f) => typeOfFixture(f.name)));
    assert.deepEqual(
      typesOf(ServerFrameSchemas).filter((t) => !recorded.has(t)),
      [],
      "add fixtures/valid/server/<type>.<case>.json",
    );
  });
});

describe("recorded frames: invalid client frames", () => {
  const expected = invalidExpectations();

  it("every invalid frame has its expectation in invalid.expected.json, and no other", () => {
    assert.deepEqual(
      invalidFrames().map((f) => f.name),
      Object.keys(expected).sort(),
    );
  });

  for (const f of invalidFrames()) {
    const want = expected[f.name];
    if (want === undefined) continue;
    it(`${f.name} is refused with ${want.code} (${want.message})`, () => {
      assert.ok(want.code in ErrorCodes, `${want.code} is a documented error code`);
      const parsed = parseClientFrame(f.text);
      assert.equal(parsed.ok, false, "the parser accepted it");
      if (parsed.ok) return;
      assert.equal(parsed.error.code, want.code);
      assert.ok(
        parsed.error.message.includes(want.message),
        `"${parsed.error.message}" should mention "${want.message}"`,
      );
      assert.equal(parsed.id, want.id);
    });

    it(`${f.name} is ${want.schema_accepts === undefined ? "refused" : "accepted"} by docs/protocol.schema.json`, () => {
      let value: unknown;
      try {
        value = JSON.parse(f.text);
      } catch {
        return; // not JSON: nothing for a schema to say
      }
      assert.equal(
        validator.client(value),
        want.schema_accepts !== undefined,
        want.schema_accepts ?? "the schema should refuse what the parser refuses",
      );
    });
  }
});

describe("recorded frames, mutated", () => {
  /** the parser's one rule the schema does not state: a message has exactly one destination */
  const destinationRule = (v: unknown) => {
    const m = v as { type?: unknown; room_id?: unknown; to_user_id?: unknown };
    return m.type === "message" && (m.room_id === undefined) === (m.to_user_id === undefined);
  };
  const agree = (label: string, value: unknown) => {
    const parsed = parseClientFrame(JSON.stringify(value));
    if (!parsed.ok) assert.equal(parsed.error.code, "INVALID_FRAME", label);
    const bySchema = validator.client(value) && !destinationRule(value);
    assert.equal(parsed.ok, bySchema, `${label}: parser ${parsed.ok}, schema ${bySchema}`);
  };

  it("truncated at any byte, a recorded frame is refused as INVALID_FRAME or parses; nothing throws", () => {
    for (const f of validClientFrames()) {
      for (let i = 0; i < f.text.length; i++) {
        const parsed = parseClientFrame(f.text.slice(0, i));
        if (!parsed.ok) assert.equal(parsed.error.code, "INVALID_FRAME", `${f.name} cut at ${i}`);
      }
    }
  });

  it("without any one field, the parser and the schema agree on each recorded frame", () => {
    for (const f of validClientFrames()) {
      const frame = JSON.parse(f.text) as Record<string, unknown>;
      for (const key of Object.keys(frame)) {
        const { [key]: _dropped, ...rest } = frame;
        agree(`${f.name} without ${key}`, rest);
      }
    }
  });

  it("with any one field replaced by a value of another kind, the parser and the schema agree", () => {
    const wrong: unknown[] = [null, 0, -1, 1.5, "", "x", [], {}, true];
    for (const f of validClientFrames()) {
      const frame = JSON.parse(f.text) as Record<string, unknown>;
      for (const key of Object.keys(frame)) {
        for (const value of wrong)
          agree(`${f.name} with ${key}=${JSON.stringify(value)}`, { ...frame, [key]: value });
      }
      agree(`${f.name} with an extra field`, { ...frame, extra: 1 });
    }
  });
});
