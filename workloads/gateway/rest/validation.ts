// Strict request parsing for the REST routes, as parse.ts does for WebSocket frames: no type is
// ever coerced (fastify's default Ajv turns true into 1, null into 0 and false into "false").
// A body must already have the schema's types. A query string or path parameter is text, so a
// field the schema types as integer accepts plain decimal digits only ("10", "-3"; not "1e1",
// "0x10", " 10", "10.0", "" or a repeated parameter) and is converted before the same strict
// validation. Defaults are filled in (a missing `limit` is 50).

import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchema, FastifySchemaCompiler } from "fastify";

const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]{0,15})$/;

type JsonSchema = { type?: unknown; properties?: Record<string, JsonSchema> };

function strictAjv(): Ajv {
  const ajv = new Ajv({
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

/** The names of the properties the schema types as integer. */
function integerFields(schema: JsonSchema): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([, p]) => p.type === "integer")
    .map(([name]) => name);
}

/** fastify's validator compiler for every route: strict bodies, decimal-only text integers. */
export function strictValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const ajv = strictAjv();
  return ({ schema, httpPart }) => {
    const validate: ValidateFunction = ajv.compile(schema as object);
    if (httpPart !== "querystring" && httpPart !== "params") return validate;
    const integers = integerFields(schema as JsonSchema);
    if (integers.length === 0) return validate;
    // like an Ajv function: false with `errors` set, which fastify formats ("querystring/limit
    // must be integer"); or the converted value, which replaces the request's
    const parse = (data: unknown) => {
      const value =
        typeof data === "object" && data !== null ? { ...(data as Record<string, unknown>) } : data;
      if (typeof value === "object" && value !== null) {
        const fields = value as Record<string, unknown>;
        for (const name of integers) {
          const raw = fields[name];
          if (typeof raw === "string" && DECIMAL_INTEGER.test(raw)) fields[name] = Number(raw);
        }
      }
      if (validate(value)) return { value };
      parse.errors = validate.errors ?? null;
      return false;
    };
    parse.errors = null as ErrorObject[] | null;
    return parse;
  };
}
