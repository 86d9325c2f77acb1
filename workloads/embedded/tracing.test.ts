// One trace follows a message gateway → bus → forwarder → gateway.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { SpanNames, startTracing } from "#contract/telemetry/tracing";
import { ChatSocket, Rest, waitFor } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("tracing", () => {
  const exporter = new InMemorySpanExporter();
  let stopTracing: () => Promise<void>;
  let cluster: InProcessCluster;

  before(async () => {
    stopTracing = startTracing({
      serviceName: "test",
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    cluster = await startCluster({ gateways: 2 });
  });

  after(async () => {
    await cluster.stop();
    await stopTracing();
  });

  it("links the send, forward, deliver and notify spans of one message into one trace", async () => {
    const rest = new Rest(cluster.urls[0] as string);
    const [a, b] = await Promise.all([rest.register("tracer"), rest.register("traced")]);
    const sb = await ChatSocket.open(cluster.urls[1] as string, b.accessToken);
    const sa = await ChatSocket.open(cluster.urls[0] as string, a.accessToken);
    try {
      const ack = await sa.request({
        type: "message",
        to_user_id: b.userId,
        client_msg_id: "t1",
        msg_type: "text",
        content: { text: "x" },
      });
      await sb.waitFor((f) => f.type === "message" && f.message_id === ack.message_id);
      const spans = await waitFor("the four spans", () => {
        const mine = exporter
          .getFinishedSpans()
          .filter((s) => s.attributes["switchboard.message_id"] === ack.message_id);
        const byName = (n: string) => mine.filter((s) => s.name === n);
        const send = byName(SpanNames.send)[0];
        const forward = byName(SpanNames.forward)[0];
        const delivers = byName(SpanNames.deliver);
        const notify = byName(SpanNames.notify)[0];
        return send && forward && notify && delivers.length >= 2
          ? { send, forward, notify, delivers }
          : undefined;
      });
      // the notifier reads the message beside the forwarder: its span hangs off the send
      assert.equal(spans.notify.spanContext().traceId, spans.send.spanContext().traceId);
      assert.equal(spans.notify.parentSpanContext?.spanId, spans.send.spanContext().spanId);
      assert.equal(spans.notify.attributes["switchboard.notifications"], 0, "both were online");
      const traceId = spans.send.spanContext().traceId;
      assert.equal(spans.forward.spanContext().traceId, traceId);
      assert.equal(spans.forward.parentSpanContext?.spanId, spans.send.spanContext().spanId);
      for (const d of spans.delivers) {
        assert.equal(d.spanContext().traceId, traceId);
        assert.equal(d.parentSpanContext?.spanId, spans.forward.spanContext().spanId);
      }
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("traces a match: the pairing step, the handover, and the routing of both matched events under it", async () => {
    const rest = new Rest(cluster.urls[0] as string);
    const [a, b] = await Promise.all([rest.register("seeker1"), rest.register("seeker2")]);
    const sa = await ChatSocket.open(cluster.urls[0] as string, a.accessToken);
    const sb = await ChatSocket.open(cluster.urls[1] as string, b.accessToken);
    try {
      sa.send({ type: "match", request_id: "t", tags: ["tracing"] });
      sb.send({ type: "match", request_id: "t", tags: ["tracing"] });
      const m = await sa.waitFor((f) => f.type === "matched", "matched");
      await sb.waitFor((f) => f.type === "matched", "matched");
      const spans = await waitFor("the match spans", () => {
        const done = exporter.getFinishedSpans();
        const handover = done.find(
          (s) =>
            s.name === SpanNames.matchHandover && s.attributes["switchboard.room_id"] === m.room_id,
        );
        const routes = done.filter(
          (s) =>
            s.name === SpanNames.matchRoute && s.attributes["switchboard.room_id"] === m.room_id,
        );
        const pair = done.find((s) => s.name === SpanNames.matchPair);
        return handover && pair && routes.length === 2 ? { handover, routes, pair } : undefined;
      });
      assert.ok(Number(spans.pair.attributes["switchboard.pairs"]) >= 1);
      for (const r of spans.routes) {
        assert.equal(r.spanContext().traceId, spans.handover.spanContext().traceId);
        assert.equal(r.parentSpanContext?.spanId, spans.handover.spanContext().spanId);
      }
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });
});
