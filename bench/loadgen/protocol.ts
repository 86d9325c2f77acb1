// Messages between the load generator's coordinator and its worker threads (and child
// processes). Plain data only: they cross postMessage and process IPC.
import { type HistogramData, newHistogram } from "../lib/histogram.ts";

/** The protocol a socket speaks (bench/loadgen/wire.ts). */
export type WireName = "switchboard" | "centrifugo" | "socketio";

export interface SocketSpec {
  /** ws://host:port/v1/ws (Switchboard), the server's WebSocket endpoint (the others) */
  readonly url: string;
  /** default switchboard */
  readonly wire?: WireName;
  /** the credential: an access token (Switchboard), a connection JWT (Centrifugo), none */
  readonly token: string;
  /** which gateway the socket talks to (0, 1, ...): a delivery to another one is "cross" */
  readonly gw: number;
  /** source address to bind, e.g. 127.0.0.2, when one address runs out of ephemeral ports */
  readonly localAddress?: string;
  /** index into OpenCommand.rooms, for sockets that take part in the traffic */
  readonly room?: number;
  /**
   * Sends its room's messages and receives none of them. A room with senders has only those
   * send; in a room without, every member sends in turn and receives the others' messages.
   */
  readonly sender?: boolean;
}

export interface OpenCommand {
  readonly op: "open";
  readonly sockets: readonly SocketSpec[];
  readonly rooms: readonly string[];
  /** sockets being opened at once by one worker */
  readonly concurrency: number;
}

export interface StepCommand {
  readonly op: "step";
  readonly step: number;
  /** messages per second this worker sends */
  readonly rate: number;
  readonly durationMs: number;
  /** after sending, how long to wait for the deliveries still missing */
  readonly drainMs: number;
  /** at most this many unacknowledged messages per sending socket (the gateway queues 64) */
  readonly window: number;
}

export type Command = OpenCommand | StepCommand | { readonly op: "close" };

export interface OpenResult {
  readonly op: "opened";
  readonly ok: number;
  readonly failed: number;
  readonly failures: Record<string, number>;
  readonly ms: number;
}

export interface StepResult {
  readonly op: "stepped";
  readonly step: number;
  /** messages written to a socket */
  sent: number;
  /** messages not sent because the socket already had `window` unacknowledged */
  throttled: number;
  /** messages not sent because the generator itself fell more than 1 s behind */
  skipped: number;
  acked: number;
  /** message frames other members should receive: sent × the room's receivers */
  expected: number;
  received: number;
  /** frames of this step that arrived after its drain ended (counted by the next step) */
  late: number;
  /** ms from the first send to the last delivery */
  activeMs: number;
  readonly all: HistogramData;
  readonly cross: HistogramData;
  readonly ack: HistogramData;
  readonly errors: Record<string, number>;
  readonly closes: Record<string, number>;
}

/** A step's counters, all zero. */
export function emptyStep(step: number): StepResult {
  return {
    op: "stepped",
    step,
    sent: 0,
    throttled: 0,
    skipped: 0,
    acked: 0,
    expected: 0,
    received: 0,
    late: 0,
    activeMs: 0,
    all: newHistogram(),
    cross: newHistogram(),
    ack: newHistogram(),
    errors: {},
    closes: {},
  };
}

export type Reply = OpenResult | StepResult | { readonly op: "closed" };
