// Process lifecycle shared by every workload: one shutdown path on SIGTERM/SIGINT, bounded in
// time, and a small HTTP server for probes and metrics where a workload has no HTTP of its own.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { PROBE_PATHS } from "./settings.ts";
import type { Logger } from "./telemetry/log.ts";

/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT (a second signal exits at once), and
 * exits 0 when it completes, 1 if it throws or exceeds `timeoutMs`.
 */
export function onShutdownSignal(
  log: Logger,
  timeoutMs: number,
  shutdown: () => Promise<void>,
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, "shutdown timed out");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    shutdown().then(
      () => {
        log.info("shut down cleanly");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
}

/** What /readyz answers: ready or not, and optionally each check by name with its state. */
export interface ReadyState {
  readonly ready: boolean;
  readonly checks?: Readonly<Record<string, unknown>>;
}

/** The JSON body of /readyz. */
export const readyBody = (s: ReadyState): string =>
  JSON.stringify({
    status: s.ready ? "ready" : "not ready",
    ...(s.checks !== undefined && { checks: s.checks }),
  });

/**
 * /healthz (alive: answers whenever the process does), /readyz (200 or 503 with a JSON body
 * naming each check), /metrics, on a port of its own.
 */
export function probeServer(
  metrics: { readonly registry: Registry },
  ready: () => boolean | ReadyState,
): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === PROBE_PATHS.live) {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    } else if (path === PROBE_PATHS.ready) {
      const r = ready();
      const state = typeof r === "boolean" ? { ready: r } : r;
      res
        .writeHead(state.ready ? 200 : 503, { "content-type": "application/json" })
        .end(readyBody(state));
    } else if (path === PROBE_PATHS.metrics) {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
}
