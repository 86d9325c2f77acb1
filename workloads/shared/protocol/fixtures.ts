// Test support: the recorded frames in fixtures/ and a JSON Schema validator over the published
// docs/protocol.schema.json. Used by the parser's tests and the gateway's; not by any workload.
import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { ErrorCode } from "../errors.ts";

const dir = new URL("./fixtures/", import.meta.url);
const repo = new URL("../../../", import.meta.url);

export interface Fixture {
  readonly name: string;
  /** the frame exactly as recorded */
  readonly bytes: Buffer;
  /** what the gateway reads from a text frame */
  readonly text: string;
}

/** What an invalid frame gets (fixtures/invalid.expected.json). */
export interface Expected {
  readonly code: ErrorCode;
  /** a piece of the error message (for a schema failure, the path of the offending field) */
  readonly message: string;
  /** the request id the error frame echoes; absent: none */
  readonly id?: string;
  /** the gateway closes the socket with this code instead (the WebSocket layer refuses it first) */
  readonly close?: number;
  /** why the published JSON Schema accepts a frame the parser refuses */
  readonly schema_accepts?: string;
}

const load = (sub: string): Fixture[] =>
  readdirSync(new URL(sub, dir))
    .sort()
    .map((name) => {
      const bytes = readFileSync(new URL(`${sub}${name}`, dir));
      return { name, bytes, text: bytes.toString() };
    });

export const validClientFrames = (): Fixture[] => load("valid/client/");
export const validServerFrames = (): Fixture[] => load("valid/server/");
export const invalidFrames = (): Fixture[] => load("invalid/");
export const invalidExpectations = (): Record<string, Expected> =>
  JSON.parse(readFileSync(new URL("invalid.expected.json", dir), "utf8")) as Record<
    string,
    Expected
  >;

/** The frame type a valid fixture is named after: `message.text-to-room.json` → `message`. */
export const typeOfFixture = (name: string): string => name.split(".")[0] as string;

export interface ProtocolValidator {
  readonly client: ValidateFunction;
  readonly server: ValidateFunction;
  readonly any: ValidateFunction;
}

/** ajv (strict, formats, discriminator) over the committed docs/protocol.schema.json. */
export function protocolValidator(): ProtocolValidator {
  const schema = JSON.parse(readFileSync(new URL("docs/protocol.schema.json", repo), "utf8")) as {
    $id: string;
  };
  const ajv = new Ajv2020({ strict: true, discriminator: true, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(schema);
  const get = (ref: string): ValidateFunction => {
    const v = ajv.getSchema(`${schema.$id}${ref}`);
    if (v === undefined) throw new Error(`no schema ${ref}`);
    return v;
  };
  return { client: get("#/$defs/ClientFrame"), server: get("#/$defs/ServerFrame"), any: get("") };
}
