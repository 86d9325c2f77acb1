// OpenTelemetry traces that follow one message gateway → Kafka → forwarder → gateway.
// Context crosses the bus in record headers and the delivery channel in a `traceparent` field,
// both in W3C Trace Context format.
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";

export const SpanNames = {
  send: "switchboard.message.send",
  forward: "switchboard.message.forward",
  deliver: "switchboard.message.deliver",
  /** notifier: who of the message's addressed members to notify, and recording it */
  notify: "switchboard.message.notify",
  /** matcher: one atomic pairing step over the queue */
  matchPair: "switchboard.match.pair",
  /** matcher: one pair handed over (room created, both told); its context rides the bus */
  matchHandover: "switchboard.match.handover",
  /** forwarder: a matched event routed to the user's gateways */
  matchRoute: "switchboard.match.route",
} as const;

export interface TracingOptions {
  readonly serviceName: string;
  /** OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; none = no export */
  readonly otlpEndpoint?: string | undefined;
  readonly sampleRatio?: number;
  /** extra processors, e.g. an in-memory exporter in tests */
  readonly spanProcessors?: SpanProcessor[];
}

/** Starts the SDK once per process; returns its shutdown (which flushes spans). */
export function startTracing(opts: TracingOptions): () => Promise<void> {
  const processors = [...(opts.spanProcessors ?? [])];
  if (opts.otlpEndpoint !== undefined) {
    processors.push(
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: opts.otlpEndpoint }) }),
    );
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ "service.name": opts.serviceName }),
    spanProcessors: processors,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
    textMapPropagator: new W3CTraceContextPropagator(),
    instrumentations: [],
  });
  sdk.start();
  return () => sdk.shutdown();
}

export const tracer = () => trace.getTracer("switchboard");

/** W3C headers for the active context (or `ctx`), to put on a bus record. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function contextFrom(headers: Readonly<Record<string, string | undefined>>): Context {
  return propagation.extract(context.active(), headers);
}

/** Runs `fn` in a span; records an exception and error status if it throws. */
export async function inSpan<T>(
  name: string,
  kind: SpanKind,
  parent: Context,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
