// Component benchmark: the gateway's frame parser (workloads/shared/protocol/parse.ts), against
// a bare JSON.parse of the same text. Every client frame goes through it once.
// `node bench/parser.ts [--seconds 1] [--repeat 3]`.
import { parseArgs } from "node:util";
import { parseClientFrame } from "../workloads/shared/protocol/parse.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    seconds: { type: "string", default: "1" },
    repeat: { type: "string", default: "3" },
  },
});
const seconds = Number(a.seconds);
const repeat = Number(a.repeat);
const run = beginRun("parser");

const room = "0b8a4f7e-2d7c-4c61-9d0e-5b7f0f3f4a21";
const frames: Record<string, string> = {
  "message (text)": JSON.stringify({
    type: "message",
    id: "r42",
    room_id: room,
    client_msg_id: "c-000042",
    msg_type: "text",
    content: { text: "hello there, how is the benchmark going today?" },
  }),
  "hello (resume 3 rooms)": JSON.stringify({
    type: "hello",
    id: "h",
    resume: {
      [room]: 41,
      "1c9b5f8e-3e8d-4d72-8e1f-6c8f1f4f5b32": 7,
      "2dac6f9f-4f9e-4e83-9f2f-7d9f2f5f6c43": 0,
    },
  }),
  ping: '{"type":"ping","id":"p1"}',
  "invalid: not JSON": '{"type":"message",',
  "invalid: schema (no content)": JSON.stringify({
    type: "message",
    room_id: room,
    client_msg_id: "c1",
    msg_type: "text",
  }),
};

function measure(fn: () => unknown): number {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  let sink = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) if (fn() !== undefined) sink++;
    n += 1000;
  }
  if (sink < 0) console.log(sink);
  return (seconds * 1e9) / n; // ns per op
}

const rows: {
  frame: string;
  bytes: number;
  parseNs: number;
  jsonParseNs: number;
  ratio: number;
}[] = [];
for (const [name, text] of Object.entries(frames)) {
  measure(() => parseClientFrame(text)); // warm-up
  const p: number[] = [];
  const j: number[] = [];
  for (let r = 0; r < repeat; r++) {
    p.push(measure(() => parseClientFrame(text)));
    j.push(
      measure(() => {
        try {
          return JSON.parse(text);
        } catch {
          return null;
        }
      }),
    );
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
  const parseNs = Math.round(median(p));
  const jsonParseNs = Math.round(median(j));
  rows.push({
    frame: name,
    bytes: text.length,
    parseNs,
    jsonParseNs,
    ratio: Math.round((parseNs / jsonParseNs) * 10) / 10,
  });
  console.log(`${name}: parseClientFrame ${parseNs} ns, JSON.parse ${jsonParseNs} ns`);
}
const out = writeResults(run, { seconds, repeat, single: "one thread, in process" }, { rows }, [
  {
    title: "parseClientFrame vs JSON.parse (median ns per frame)",
    body: table(
      ["frame", "bytes", "parseClientFrame ns", "JSON.parse ns", "ratio", "frames/s on one core"],
      rows.map((r) => [
        r.frame,
        r.bytes,
        r.parseNs,
        r.jsonParseNs,
        r.ratio,
        Math.round(1e9 / r.parseNs),
      ]),
    ),
  },
]);
console.log(`wrote ${out.json} and ${out.md}`);
