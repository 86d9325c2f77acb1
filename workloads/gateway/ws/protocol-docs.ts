// The published forms of the WebSocket protocol, built from its one source of truth: the frame
// schemas (shared/protocol/frames.ts), the close codes, the error codes and the gateway's default
// limits. hack/gen-protocol.ts writes them to docs/; the gateway serves the AsyncAPI document.
// Every frame in ClientFrameSchemas / ServerFrameSchemas appears here without being named.
import type { TSchema } from "@sinclair/typebox";
import { ErrorCodes } from "../../shared/errors.ts";
import { CloseCodes } from "../../shared/protocol/close-codes.ts";
import { ClientFrameSchemas, ServerFrameSchemas } from "../../shared/protocol/frames.ts";
import { DEFAULT_LIMITS, LIMIT_ENV } from "../config.ts";
import { CLOSE_GRACE_MS } from "./connection.ts";
import { INVALID_FRAME_BUDGET, MAX_QUEUED_FRAMES, WS_PATH } from "./server.ts";

export const PROTOCOL_SCHEMA_FILE = "docs/protocol.schema.json";
export const ASYNCAPI_FILE = "docs/asyncapi.json";
export const PROTOCOL_DOC_FILE = "docs/protocol.md";
export const PROTOCOL_SCHEMA_ID = "urn:switchboard:protocol:v1";

type Json = { [key: string]: unknown };
type Direction = "client" | "server";

export interface FrameSpec {
  readonly direction: Direction;
  readonly type: string;
  /** `client.hello`, `server.message`: the key in $defs and in the AsyncAPI components */
  readonly key: string;
  readonly description: string;
  /** plain JSON Schema of the frame (TypeBox's $id and symbols dropped) */
  readonly schema: Json;
}

const plain = (s: TSchema): Json => {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(s)) as Json;
  return rest;
};

const specs = (direction: Direction, schemas: readonly TSchema[]): FrameSpec[] =>
  schemas.map((s) => {
    const type = (s.properties as { type: { const: string } }).type.const;
    return {
      direction,
      type,
      key: `${direction}.${type}`,
      description: String(s.description ?? ""),
      schema: plain(s),
    };
  });

export const clientFrames = (): FrameSpec[] => specs("client", ClientFrameSchemas);
export const serverFrames = (): FrameSpec[] => specs("server", ServerFrameSchemas);

const ref = (path: string) => ({ $ref: path });

/** JSON Schema 2020-12 of every frame: $defs/ClientFrame and $defs/ServerFrame, each a oneOf on `type`. */
export function protocolJsonSchema(): Json {
  const defs: Json = {};
  const union = (frames: FrameSpec[], description: string): Json => ({
    description,
    type: "object",
    required: ["type"],
    properties: { type: { enum: frames.map((f) => f.type) } },
    oneOf: frames.map((f) => ref(`#/$defs/${f.key}`)),
    discriminator: { propertyName: "type" },
  });
  const client = clientFrames();
  const server = serverFrames();
  for (const f of [...client, ...server]) defs[f.key] = { title: f.key, ...f.schema };
  defs.ClientFrame = union(client, "A frame a client sends (one JSON object per text frame).");
  defs.ServerFrame = union(server, "A frame the gateway sends.");
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: PROTOCOL_SCHEMA_ID,
    title: `Switchboard WebSocket protocol (${WS_PATH})`,
    description:
      "Generated from workloads/shared/protocol/frames.ts by hack/gen-protocol.ts; the contract is docs/protocol.md.",
    anyOf: [ref("#/$defs/ClientFrame"), ref("#/$defs/ServerFrame")],
    $defs: defs,
  };
}

/** AsyncAPI 3.0 document of the gateway's WebSocket channel, from the gateway's point of view. */
export function asyncApiDocument(): Json {
  const client = clientFrames();
  const server = serverFrames();
  const all = [...client, ...server];
  const schemas: Json = {};
  const messages: Json = {};
  const channelMessages: Json = {};
  for (const f of all) {
    schemas[f.key] = f.schema;
    messages[f.key] = {
      name: f.type,
      title: `${f.direction === "client" ? "client → gateway" : "gateway → client"}: ${f.type}`,
      summary: f.description,
      contentType: "application/json",
      payload: ref(`#/components/schemas/${f.key}`),
    };
    channelMessages[f.key] = ref(`#/components/messages/${f.key}`);
  }
  const security = [
    ref("#/components/securitySchemes/bearer"),
    ref("#/components/securitySchemes/accessTokenQuery"),
  ];
  const opMessages = (frames: FrameSpec[]) =>
    frames.map((f) => ref(`#/channels/gateway/messages/${f.key}`));
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Switchboard gateway WebSocket",
      version: "v1",
      description: [
        `JSON text frames on ${WS_PATH}, one object each, \`{"type": ..., "id"?: ...}\`.`,
        "The contract, with connection, resume, ordering, acknowledgement and limits, is docs/protocol.md.",
        "",
        "## Limits (defaults)",
        "",
        limitsTable(),
        "",
        "## Close codes",
        "",
        closeCodeTable(),
        "",
        "## Error codes (error frame `code`)",
        "",
        errorCodeTable(),
      ].join("\n"),
      license: { name: "Apache-2.0" },
    },
    defaultContentType: "application/json",
    channels: {
      gateway: {
        address: WS_PATH,
        title: "The gateway's WebSocket",
        description:
          "Authenticated at the upgrade (Authorization: Bearer, or ?access_token=); then hello / welcome.",
        messages: channelMessages,
        bindings: {
          ws: {
            method: "GET",
            query: {
              type: "object",
              properties: {
                access_token: {
                  type: "string",
                  description: "the JWT access token, for clients that cannot set headers",
                },
              },
            },
            headers: {
              type: "object",
              properties: {
                Authorization: { type: "string", description: "Bearer <JWT access token>" },
              },
            },
            bindingVersion: "0.1.0",
          },
        },
      },
    },
    operations: {
      receiveClientFrames: {
        action: "receive",
        channel: ref("#/channels/gateway"),
        summary: "Frames a client sends to the gateway.",
        security,
        messages: opMessages(client),
      },
      sendServerFrames: {
        action: "send",
        channel: ref("#/channels/gateway"),
        summary: "Frames the gateway sends to a client.",
        security,
        messages: opMessages(server),
      },
    },
    components: {
      schemas,
      messages,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "Access token from POST /v1/auth/login or /v1/auth/refresh.",
        },
        accessTokenQuery: {
          type: "httpApiKey",
          in: "query",
          name: "access_token",
          description: "The same access token as a query parameter.",
        },
      },
    },
    "x-close-codes": Object.entries(CloseCodes).map(([name, c]) => ({ name, ...c })),
    "x-error-codes": Object.entries(ErrorCodes).map(([code, e]) => ({ code, ...e })),
  };
}

// ---- markdown ----

const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
const table = (head: string[], rows: string[][]) =>
  [head, head.map(() => "---"), ...rows].map((r) => `| ${r.map(cell).join(" | ")} |`).join("\n");

const UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
const errorCodeNames = Object.keys(ErrorCodes).sort().join();

/** A short, readable type for a JSON Schema. */
export function typeOf(s: Json): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.anyOf)) {
    const consts = (s.anyOf as Json[]).map((a) => a.const);
    if (consts.every((c) => typeof c === "string")) {
      if ([...(consts as string[])].sort().join() === errorCodeNames) return "error code";
      return consts.map((c) => JSON.stringify(c)).join(" | ");
    }
    return (s.anyOf as Json[]).map(typeOf).join(" | ");
  }
  switch (s.type) {
    case "string": {
      if (s.pattern === UUID_PATTERN) return "uuid";
      const parts: string[] = [];
      if (typeof s.format === "string") parts.push(s.format);
      if (typeof s.pattern === "string") parts.push(`matching ${s.pattern}`);
      const min = s.minLength as number | undefined;
      const max = s.maxLength as number | undefined;
      if (max !== undefined) parts.push(min ? `${min}-${max} chars` : `at most ${max} chars`);
      else if (min !== undefined) parts.push(`at least ${min} chars`);
      return parts.length === 0 ? "string" : `string (${parts.join(", ")})`;
    }
    case "integer":
    case "number": {
      const min = s.minimum as number | undefined;
      const max = s.maximum as number | undefined;
      const bounded = max !== undefined && max < Number.MAX_SAFE_INTEGER;
      if (min !== undefined && bounded) return `${s.type} ${min}-${max}`;
      if (min !== undefined) return `${s.type} ≥ ${min}`;
      return String(s.type);
    }
    case "array": {
      const limits: string[] = [];
      if (s.maxItems !== undefined) limits.push(`at most ${s.maxItems}`);
      if (s.uniqueItems === true) limits.push("unique");
      const items = typeOf(s.items as Json);
      return `array of ${items}${limits.length > 0 ? ` (${limits.join(", ")})` : ""}`;
    }
    case "object": {
      const patterns = s.patternProperties as Record<string, Json> | undefined;
      if (patterns !== undefined) {
        const [key, value] = Object.entries(patterns)[0] ?? ["", {}];
        const k = key === UUID_PATTERN ? "uuid" : `key matching ${key}`;
        return `object: ${k} → ${typeOf(value)}`;
      }
      return "object";
    }
    default:
      return "any";
  }
}

/** One row per field; nested objects (and arrays of them) are flattened to `a.b` / `a[].b`. */
function fieldRows(s: Json, prefix: string): string[][] {
  const props = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set((s.required ?? []) as string[]);
  const rows: string[][] = [];
  for (const [name, p] of Object.entries(props)) {
    const path = `${prefix}${name}`;
    rows.push([
      `\`${path}\``,
      typeOf(p),
      required.has(name) ? "yes" : "no",
      String(p.description ?? ""),
    ]);
    if (p.type === "object" && p.properties !== undefined) rows.push(...fieldRows(p, `${path}.`));
    const items = p.items as Json | undefined;
    if (p.type === "array" && items?.type === "object" && items.properties !== undefined) {
      rows.push(...fieldRows(items, `${path}[].`));
    }
  }
  return rows;
}

export function frameTables(frames: readonly FrameSpec[]): string {
  return frames
    .map((f) =>
      [
        `### \`${f.type}\``,
        "",
        f.description,
        "",
        table(["field", "type", "required", "description"], fieldRows(f.schema, "")),
      ].join("\n"),
    )
    .join("\n\n");
}

export function errorCodeTable(): string {
  return table(
    ["code", "HTTP status", "retriable", "meaning"],
    Object.entries(ErrorCodes).map(([code, e]) => [
      `\`${code}\``,
      String(e.status),
      e.retriable ? "yes" : "no",
      e.description,
    ]),
  );
}

export function closeCodeTable(): string {
  return table(
    ["code", "name", "reconnect", "meaning"],
    Object.entries(CloseCodes).map(([name, c]) => [
      String(c.code),
      `\`${name}\``,
      c.reconnect ? "yes, then resume" : "no",
      c.description,
    ]),
  );
}

const bytes = (n: number) =>
  n % (1024 * 1024) === 0
    ? `${n / 1024 / 1024} MiB`
    : n % 1024 === 0
      ? `${n / 1024} KiB`
      : `${n} B`;

export function limitsTable(): string {
  const d = DEFAULT_LIMITS;
  const env = (...names: string[]) => names.map((n) => `\`${n}\``).join(", ");
  return table(
    ["limit", "default", "set by", "what happens"],
    [
      [
        "frame size",
        `${bytes(d.maxFrameBytes)} (${d.maxFrameBytes} bytes)`,
        env(LIMIT_ENV.maxFrameBytes),
        `a larger frame closes the socket with ${CloseCodes.FRAME_TOO_LARGE.code}; welcome.max_frame_bytes tells the value`,
      ],
      [
        "unsent bytes per socket",
        bytes(d.maxBufferedBytes),
        env(LIMIT_ENV.maxBufferedBytes),
        `a client reading slower than its frames arrive is closed with ${CloseCodes.SLOW_CONSUMER.code}`,
      ],
      [
        "close grace",
        `${CLOSE_GRACE_MS / 1000} s`,
        "fixed",
        `a socket the gateway closes (${CloseCodes.SLOW_CONSUMER.code}, ${CloseCodes.IDLE_TIMEOUT.code}, ${CloseCodes.INVALID_FRAMES.code}, ...) gets the close frame after its queued frames; if the close handshake has not completed by then, the connection is dropped (the client sees 1006)`,
      ],
      [
        "heartbeat",
        `${d.heartbeatMs / 1000} s`,
        env(LIMIT_ENV.heartbeatMs),
        `the server pings every interval; a socket that sent nothing (no frame, no pong) since the last ping is closed with ${CloseCodes.IDLE_TIMEOUT.code}; welcome.heartbeat_ms tells the value`,
      ],
      [
        "ack timeout",
        `${d.ackTimeoutMs / 1000} s`,
        env(LIMIT_ENV.ackTimeoutMs),
        "a message not acknowledged this long after it was sent is answered UNAVAILABLE with its id (the message may or may not be stored: resend it with the same client_msg_id); an ack that comes later reaches the socket as a message frame",
      ],
      [
        "rate per user",
        `burst ${d.userRate.capacity}, ${d.userRate.refillPerSecond} per second`,
        env(LIMIT_ENV.userRateCapacity, LIMIT_ENV.userRateRefill),
        "one token bucket per user in Redis, shared by every gateway pod and by WebSocket frames (all but hello and ping) and authenticated REST requests alike; empty: error RATE_LIMITED with retry_after_ms",
      ],
      [
        "rate per address, before login",
        `burst ${d.anonymousRate.capacity}, ${d.anonymousRate.refillPerSecond} per second`,
        env(LIMIT_ENV.anonymousRateCapacity, LIMIT_ENV.anonymousRateRefill),
        "register, login and refresh; empty: 429 RATE_LIMITED with Retry-After",
      ],
      [
        "rate per server key",
        `burst ${d.serverRate.capacity}, ${d.serverRate.refillPerSecond} per second`,
        env(LIMIT_ENV.serverRateCapacity, LIMIT_ENV.serverRateRefill),
        "every request of the server API (docs/server-api.md), in one bucket per key shared by every gateway pod; empty: 429 RATE_LIMITED with Retry-After",
      ],
      [
        "frames waiting per socket",
        String(MAX_QUEUED_FRAMES),
        "fixed",
        "frames are handled one at a time per socket; with this many waiting the gateway stops reading the socket until half of them are handled, and a frame it had read already beyond the limit is answered RATE_LIMITED (retry_after_ms 100, with its id) and not handled",
      ],
      [
        "invalid frames per socket",
        `burst ${INVALID_FRAME_BUDGET.capacity}, ${INVALID_FRAME_BUDGET.refillPerSecond} per second`,
        "fixed",
        `each is answered INVALID_FRAME (or RATE_LIMITED: it takes a token like any frame); the frame beyond the budget is answered too, then the socket is closed with ${CloseCodes.INVALID_FRAMES.code} and what it sent after that frame is ignored`,
      ],
      [
        "members per room",
        String(d.maxRoomMembers),
        env(LIMIT_ENV.maxRoomMembers),
        "adding more is refused with BAD_REQUEST",
      ],
    ],
  );
}

/** The generated sections of docs/protocol.md, by marker name. */
export function protocolDocSections(): Record<string, string> {
  return {
    limits: limitsTable(),
    "client-frames": frameTables(clientFrames()),
    "server-frames": frameTables(serverFrames()),
    "error-codes": errorCodeTable(),
    "close-codes": closeCodeTable(),
  };
}

const begin = (name: string) => `<!-- generated:${name} (node hack/gen-protocol.ts) -->`;
const end = (name: string) => `<!-- /generated:${name} -->`;

/**
 * docs/protocol.md with every generated section replaced; the prose around the markers is
 * kept as written. Throws when a section's markers are missing or out of order.
 */
export function renderProtocolDoc(doc: string, sections = protocolDocSections()): string {
  let out = doc;
  for (const [name, body] of Object.entries(sections)) {
    const a = out.indexOf(begin(name));
    const b = out.indexOf(end(name));
    if (a === -1 || b === -1 || b < a) {
      throw new Error(
        `${PROTOCOL_DOC_FILE}: markers for '${name}' missing: ${begin(name)} … ${end(name)}`,
      );
    }
    out = `${out.slice(0, a + begin(name).length)}\n\n${body}\n\n${out.slice(b)}`;
  }
  return out;
}

export const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
