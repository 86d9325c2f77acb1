// Parses one WebSocket text frame into a typed ClientFrame, or says exactly what is wrong.
import { FormatRegistry } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ChatError } from "../errors.ts";
import { type ClientFrame, ClientFrameSchemas } from "./frames.ts";

/** RFC 3986 pchar: what a path segment, query or fragment may hold, escapes included */
const PCHAR = "(?:[a-z0-9\\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})";
/**
 * An http(s) URI by RFC 3986 (userinfo, reg-name or IPv4 host, port, path, query, fragment; no
 * IP literals): a subset of what the published schema's `uri` format accepts, so a frame the
 * parser takes the schema takes too. URL.canParse alone took `{` and other characters RFC 3986
 * does not allow (found by parse.fuzz.test.ts; fixtures/invalid/message.url-with-brace.json).
 */
const HTTP_URI = new RegExp(
  `^https?://(?:(?:[a-z0-9\\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?` +
    `(?:[a-z0-9\\-._~!$&'()*+,;=]|%[0-9a-f]{2})*(?::\\d*)?(?:/${PCHAR}*)*` +
    `(?:\\?(?:${PCHAR}|[/?])*)?(?:#(?:${PCHAR}|[/?])*)?$`,
  "i",
);

if (!FormatRegistry.Has("uri")) {
  FormatRegistry.Set("uri", (v) => HTTP_URI.test(v) && URL.canParse(v));
}
if (!FormatRegistry.Has("date-time")) {
  FormatRegistry.Set("date-time", (v) => !Number.isNaN(Date.parse(v)));
}

const checkers = new Map(
  ClientFrameSchemas.map((s) => [s.properties.type.const as string, TypeCompiler.Compile(s)]),
);

export type ParseResult =
  | { readonly ok: true; readonly frame: ClientFrame }
  | { readonly ok: false; readonly error: ChatError; readonly id: string | undefined };

export function parseClientFrame(data: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return fail("frame is not valid JSON", undefined);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return fail("frame must be a JSON object", undefined);
  }
  const obj = raw as Record<string, unknown>;
  // echoed on the error only when it is a valid id, so the error frame itself stays valid
  const id =
    typeof obj.id === "string" && obj.id.length >= 1 && obj.id.length <= 64 ? obj.id : undefined;
  const type = obj.type;
  if (typeof type !== "string") return fail("frame has no string 'type'", id);
  const checker = checkers.get(type);
  if (checker === undefined) return fail(`unknown frame type '${type.slice(0, 32)}'`, id);
  // lengths count code points, as the published schema (JSON Schema) does; TypeBox counts
  // UTF-16 units, so a character beyond the BMP is checked as one unit
  const checked = ASTRAL.test(data) ? codePointView(raw) : raw;
  if (!checker.Check(checked)) {
    const first = checker.Errors(checked).First();
    const where = first?.path === "" || first === undefined ? "frame" : first.path;
    return fail(`${type}: ${where} ${first?.message ?? "is invalid"}`, id);
  }
  const frame = raw as ClientFrame;
  if (
    frame.type === "message" &&
    (frame.room_id === undefined) === (frame.to_user_id === undefined)
  ) {
    return fail("message: give exactly one of room_id and to_user_id", id);
  }
  return { ok: true, frame };
}

/** a character beyond the BMP: a surrogate pair, two UTF-16 units */
const ASTRAL = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;
const ASTRAL_ALL = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/**
 * The value with every character beyond the BMP in its strings replaced by one BMP character
 * (U+FFFD), so that the checker's lengths are counts of code points. Nothing else the frame
 * schemas check changes: such a character is no more a comma, a digit or part of a uuid, uri or
 * date than U+FFFD is.
 */
function codePointView(v: unknown): unknown {
  if (typeof v === "string") return v.replace(ASTRAL_ALL, "\uFFFD");
  if (Array.isArray(v)) return v.map(codePointView);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, codePointView(x)]));
  }
  return v;
}

const fail = (message: string, id: string | undefined): ParseResult => ({
  ok: false,
  error: new ChatError("INVALID_FRAME", message),
  id,
});
