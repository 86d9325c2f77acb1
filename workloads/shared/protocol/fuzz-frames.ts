// Test support: generated client frames (fast-check) for the parser's fuzz test and the live
// gateway's: mutations of the recorded frames in fixtures/, objects of every frame type with
// fields of the wrong kind, arbitrary JSON, oversized text, cut or altered recorded frames, and
// bytes that are not UTF-8 (as the gateway decodes them). Not used by any workload.
import fc from "fast-check";
import { validClientFrames } from "./fixtures.ts";
import { ClientFrameSchemas } from "./frames.ts";

const recorded = validClientFrames().map((f) => JSON.parse(f.text) as Record<string, unknown>);
const types = ClientFrameSchemas.map((s) => s.properties.type.const as string);

const field = (frame: Record<string, unknown>) => fc.constantFrom(...Object.keys(frame));
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** values of the wrong kind, and edge values of the right one */
const oddValue = fc.oneof(
  anyJson,
  fc.constantFrom(
    null,
    0,
    -1,
    1.5,
    2 ** 53,
    -0,
    "",
    "x".repeat(65),
    [],
    {},
    true,
    "0B9A8C7D-6E5F-4A3B-9C2D-1E0F9A8B7C6D",
    "javascript:alert(1)",
    "__proto__",
  ),
  fc.string({ unit: "grapheme", maxLength: 80 }),
);

/** a recorded frame with one field (or one field of its content) changed, dropped or added */
const mutated: fc.Arbitrary<unknown> = fc.constantFrom(...recorded).chain((frame) =>
  fc.oneof(
    fc.tuple(field(frame), oddValue).map(([k, v]) => ({ ...frame, [k]: v })),
    field(frame).map((k) => {
      const { [k]: _dropped, ...rest } = frame;
      return rest;
    }),
    fc.tuple(fc.string({ maxLength: 12 }), oddValue).map(([k, v]) => ({ ...frame, [k]: v })),
    typeof frame.content === "object" && frame.content !== null
      ? fc.tuple(field(frame.content as Record<string, unknown>), oddValue).map(([k, v]) => ({
          ...frame,
          content: { ...(frame.content as Record<string, unknown>), [k]: v },
        }))
      : fc.constant(frame),
    fc.constantFrom(...types).map((type) => ({ ...frame, type })),
  ),
);

/** objects of a known frame type with arbitrary fields */
const typedObject = fc
  .tuple(fc.constantFrom(...types), fc.dictionary(fc.string({ maxLength: 12 }), oddValue))
  .map(([type, rest]) => ({ ...rest, type }));

/** frames beyond the size limits of their fields (the gateway's maxPayload sits above these) */
const oversized = fc
  .tuple(fc.constantFrom(...recorded), fc.integer({ min: 4_000, max: 70_000 }))
  .map(([frame, n]) => ({ ...frame, id: "big", content: { text: "é".repeat(n) } }));

export type FrameInput = { readonly value: unknown } | { readonly text: string };

export const frameInputs: fc.Arbitrary<FrameInput> = fc.oneof(
  { weight: 4, arbitrary: mutated.map((value) => ({ value })) },
  { weight: 2, arbitrary: typedObject.map((value) => ({ value })) },
  { weight: 1, arbitrary: anyJson.map((value) => ({ value })) },
  { weight: 1, arbitrary: oversized.map((value) => ({ value })) },
  // recorded frames cut, or with a byte changed: mostly not JSON any more
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...validClientFrames()), fc.nat(), fc.nat(255))
      .map(([f, at, byte]) => {
        const bytes = Buffer.from(f.bytes);
        const i = at % bytes.length;
        bytes[i] = byte;
        return { text: at % 2 === 0 ? f.text.slice(0, i) : bytes.toString() };
      }),
  },
  // bytes, invalid UTF-8 included, decoded as the gateway decodes a binary frame
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => ({ text: Buffer.from(b).toString() })),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 128 }).map((text) => ({ text })) },
);

/** the text of a generated frame, as a client would send it */
export const textOf = (input: FrameInput): string =>
  "text" in input ? input.text : JSON.stringify(input.value);
