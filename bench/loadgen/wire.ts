// What the load generator speaks on a socket, per system: Switchboard's own protocol, and the
// minimal client side of the peers bench/peers measures against — Centrifugo's JSON protocol
// (connect with a token, subscribe, publish) and Socket.IO's (Engine.IO 4 packets over a raw
// WebSocket: open, connect with auth, events, acks). Each keeps to one JSON.parse per frame
// and builds what it sends as one template string, so the generator costs the same per
// message whatever it drives.
import type WebSocket from "ws";
import type { SocketSpec, WireName } from "./protocol.ts";

/** What a server frame meant to the load generator. */
export interface WireSink {
  /** a message some other socket sent reached this one */
  delivered(cmid: string, text: string): void;
  /** the server answered one of this socket's sends */
  acked(cmid: string): void;
  /** an error frame; `answered`: it answers a send (that send is no longer in flight) */
  failed(code: string, answered: boolean): void;
}

/** One socket's side of a protocol. */
export interface WireSession {
  /** called on the socket's open event */
  start(): void;
  /** a frame before the session is ready: true once it is; throws when refused */
  handshake(data: string): boolean;
  frame(data: string, sink: WireSink): void;
  send(roomId: string, cmid: string, text: string): void;
}

export interface Wire {
  /** the URL the socket upgrades on */
  url(spec: SocketSpec): string;
  /** `roomId`: the room the socket receives in (undefined for a sender or an idle socket) */
  session(ws: WebSocket, spec: SocketSpec, roomId: string | undefined): WireSession;
}

/** Switchboard: the token on the upgrade, hello → welcome; members receive without subscribing. */
const switchboard: Wire = {
  url: (spec) => `${spec.url}?access_token=${spec.token}`,
  session: (ws) => ({
    start: () => ws.send('{"type":"hello","id":"h"}'),
    handshake: (data) => JSON.parse(data).type === "welcome",
    frame(data, sink) {
      const f = JSON.parse(data);
      switch (f.type) {
        case "message":
          sink.delivered(f.client_msg_id, f.content.text);
          return;
        case "ack":
          sink.acked(f.client_msg_id);
          return;
        case "error":
          sink.failed(String(f.code), f.id === undefined);
          return;
        default:
          return;
      }
    },
    send: (roomId, cmid, text) =>
      ws.send(
        `{"type":"message","room_id":"${roomId}","client_msg_id":"${cmid}","msg_type":"text","content":{"text":"${text}"}}`,
      ),
  }),
};

/**
 * Centrifugo (protocol v2, JSON): commands and replies carry an id; a frame may hold several,
 * one per line. The server's ping is an empty object, answered with one. Publications come as
 * pushes. A receiver subscribes to its room's channel after connecting; a sender publishes
 * without subscribing (the namespace allows publishing for clients).
 */
const centrifugo: Wire = {
  url: (spec) => spec.url,
  session(ws, spec, roomId) {
    let nextId = 1;
    let phase: "connect" | "subscribe" = "connect";
    /** command id → client_msg_id of each publish in flight */
    const publishes = new Map<number, string>();
    const handle = (line: string, sink: WireSink) => {
      if (line === "{}") {
        ws.send("{}");
        return;
      }
      const r = JSON.parse(line);
      if (r.push !== undefined) {
        const d = r.push.pub?.data;
        if (d !== undefined) sink.delivered(d.c, d.t);
        return;
      }
      const cmid = publishes.get(r.id);
      if (cmid === undefined) return;
      publishes.delete(r.id);
      if (r.error !== undefined) sink.failed(`centrifugo ${r.error.code}`, true);
      else sink.acked(cmid);
    };
    return {
      start: () => ws.send(`{"id":${nextId++},"connect":{"token":"${spec.token}"}}`),
      handshake(data) {
        for (const line of data.split("\n")) {
          if (line === "" || line === "{}") continue;
          const r = JSON.parse(line);
          if (r.error !== undefined) throw new Error(`centrifugo ${phase}: ${r.error.message}`);
          if (phase === "connect" && r.connect !== undefined) {
            if (roomId === undefined) return true;
            phase = "subscribe";
            ws.send(`{"id":${nextId++},"subscribe":{"channel":"${roomId}"}}`);
          } else if (phase === "subscribe" && r.subscribe !== undefined) {
            return true;
          }
        }
        return false;
      },
      frame(data, sink) {
        if (data.indexOf("\n") < 0) handle(data, sink);
        else for (const line of data.split("\n")) if (line !== "") handle(line, sink);
      },
      send(room, cmid, text) {
        const id = nextId++;
        publishes.set(id, cmid);
        ws.send(
          `{"id":${id},"publish":{"channel":"${room}","data":{"c":"${cmid}","t":"${text}"}}}`,
        );
      },
    };
  },
};

/**
 * Socket.IO 4 over the websocket transport alone: the server opens with an Engine.IO open
 * packet ("0{...}"), the client connects to the main namespace with its auth ("40{...}", the
 * room it receives in; the node joins it there) and is ready at the server's "40". Events are
 * "42[...]", a send carries an ack id ("42<id>[...]") answered by "43<id>[...]"; Engine.IO
 * pings ("2") are answered with pongs ("3").
 */
const socketio: Wire = {
  url: (spec) => `${spec.url}/socket.io/?EIO=4&transport=websocket`,
  session(ws, _spec, roomId) {
    let nextId = 0;
    /** ack id → client_msg_id of each send in flight */
    const sends = new Map<number, string>();
    return {
      start() {},
      handshake(data) {
        if (data.startsWith("0{")) {
          ws.send(roomId === undefined ? "40" : `40{"room":"${roomId}"}`);
          return false;
        }
        if (data.startsWith("44")) throw new Error(`socket.io connect refused: ${data.slice(2)}`);
        return data.startsWith("40");
      },
      frame(data, sink) {
        const c = data.charCodeAt(0);
        if (c === 50 /* "2": ping */) {
          ws.send("3");
          return;
        }
        if (c !== 52 /* "4": message */) return;
        if (data.charCodeAt(1) === 50 /* "2": event */) {
          const [, cmid, text] = JSON.parse(data.slice(2));
          sink.delivered(cmid, text);
        } else if (data.charCodeAt(1) === 51 /* "3": ack */) {
          const id = Number(data.slice(2, data.indexOf("[")));
          const cmid = sends.get(id);
          if (cmid === undefined) return;
          sends.delete(id);
          sink.acked(cmid);
        }
      },
      send(room, cmid, text) {
        const id = nextId++;
        sends.set(id, cmid);
        ws.send(`42${id}["send","${room}","${cmid}","${text}"]`);
      },
    };
  },
};

export const wires: Record<WireName, Wire> = { switchboard, centrifugo, socketio };
