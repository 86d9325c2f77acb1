import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import specs from "@asyncapi/specs";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { ErrorCodes } from "../../shared/errors.ts";
import { CloseCodes } from "../../shared/protocol/close-codes.ts";
import { ClientFrameSchemas, ServerFrameSchemas } from "../../shared/protocol/frames.ts";
import {
  ASYNCAPI_FILE,
  asyncApiDocument,
  json,
  PROTOCOL_DOC_FILE,
  PROTOCOL_SCHEMA_FILE,
  protocolJsonSchema,
  renderProtocolDoc,
  typeOf,
} from "./protocol-docs.ts";

type Json = Record<string, unknown>;
const repo = new URL("../../../", import.meta.url);
const committed = (file: string) => readFile(new URL(file, repo), "utf8");

/** Every `$ref` in a document, as a JSON pointer into the same document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (typeof node === "object" && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function resolve(doc: unknown, ref: string): unknown {
  assert.ok(ref.startsWith("#/"), `${ref} is a local reference`);
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], doc);
}

describe("protocol documents", () => {
  it("docs/ holds exactly what the generator writes (run node hack/gen-protocol.ts)", async () => {
    assert.equal(await committed(PROTOCOL_SCHEMA_FILE), json(protocolJsonSchema()));
    assert.equal(await committed(ASYNCAPI_FILE), json(asyncApiDocument()));
    const doc = await committed(PROTOCOL_DOC_FILE);
    assert.equal(doc, renderProtocolDoc(doc));
  });

  it("every frame, close code and error code is in every document", async () => {
    const schema = protocolJsonSchema() as { $defs: Record<string, unknown> };
    const asyncapi = asyncApiDocument() as { components: { messages: Record<string, unknown> } };
    const doc = await committed(PROTOCOL_DOC_FILE);
    const frames = [
      ...ClientFrameSchemas.map((s) => `client.${s.properties.type.const}`),
      ...ServerFrameSchemas.map((s) => `server.${s.properties.type.const}`),
    ];
    for (const key of frames) {
      assert.ok(schema.$defs[key], `${key} in the JSON Schema`);
      assert.ok(asyncapi.components.messages[key], `${key} in the AsyncAPI document`);
      assert.ok(doc.includes(`### \`${key.split(".")[1]}\``), `${key} in docs/protocol.md`);
    }
    for (const code of Object.keys(ErrorCodes)) assert.ok(doc.includes(`| \`${code}\` |`), code);
    for (const c of Object.values(CloseCodes))
      assert.ok(doc.includes(`| ${c.code} |`), String(c.code));
  });

  it("the AsyncAPI document is valid AsyncAPI 3.0.0 (the official schema, @asyncapi/specs)", () => {
    // the official schema uses keywords ajv's strict mode does not know
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(specs.schemasWithoutId["3.0.0"] as Json);
    assert.ok(validate(asyncApiDocument()), JSON.stringify(validate.errors));
    const broken = structuredClone(asyncApiDocument()) as { operations: Record<string, Json> };
    (broken.operations.sendServerFrames as Json).action = "emit";
    assert.equal(validate(broken), false, "the official schema does check operations");
  });

  it("every $ref resolves inside its document", () => {
    for (const doc of [protocolJsonSchema(), asyncApiDocument()]) {
      const all = refs(doc);
      assert.ok(all.length > 0);
      for (const ref of all) assert.notEqual(resolve(doc, ref), undefined, ref);
    }
  });

  it("keeps the prose around the markers and refuses a document without them", () => {
    const doc = [
      "intro",
      "<!-- generated:limits (node hack/gen-protocol.ts) -->",
      "stale",
      "<!-- /generated:limits -->",
      "outro",
    ].join("\n");
    const out = renderProtocolDoc(doc, { limits: "| fresh |" });
    assert.equal(
      out,
      [
        "intro",
        "<!-- generated:limits (node hack/gen-protocol.ts) -->",
        "",
        "| fresh |",
        "",
        "<!-- /generated:limits -->",
        "outro",
      ].join("\n"),
    );
    assert.equal(renderProtocolDoc(out, { limits: "| fresh |" }), out, "idempotent");
    assert.throws(() => renderProtocolDoc("no markers", { limits: "x" }), /markers for 'limits'/);
  });

  it("writes readable types", () => {
    const uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
    assert.equal(typeOf({ type: "string", pattern: uuid }), "uuid");
    assert.equal(typeOf({ type: "string", maxLength: 10 }), "string (at most 10 chars)");
    assert.equal(typeOf({ type: "integer", minimum: 0, maximum: 5 }), "integer 0-5");
    assert.equal(typeOf({ anyOf: [{ const: "a" }, { const: "b" }] }), '"a" | "b"');
    assert.equal(
      typeOf({ type: "array", items: { type: "string", pattern: uuid }, maxItems: 3 }),
      "array of uuid (at most 3)",
    );
    assert.equal(
      typeOf({ type: "object", patternProperties: { [uuid]: { type: "integer", minimum: 0 } } }),
      "object: uuid → integer ≥ 0",
    );
  });
});
