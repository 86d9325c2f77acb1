// The gateway: REST + WebSocket (and the web client at /) on one HTTP server, over the backends
// it is given.

import { randomUUID } from "node:crypto";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { type ReadyState, readyBody } from "#contract/process";
import { PROBE_PATHS } from "#contract/settings";
import type { KdfParams } from "./auth/passwords.ts";
import { ServerKeys } from "./auth/server-keys.ts";
import { Sessions } from "./auth/sessions.ts";
import { FlowSealer, ProviderSessionSealer, SignOn, type SignOnSettings } from "./auth/sign-on.ts";
import { type TokenConfig, Tokens } from "./auth/tokens.ts";
import type { GatewayContext } from "./core/context.ts";
import { LiveSeqs } from "./core/live-seqs.ts";
import { Matching } from "./core/matching.ts";
import { Messages } from "./core/messages.ts";
import { Notifications } from "./core/notifications.ts";
import { Rooms } from "./core/rooms.ts";
import { Uploads } from "./core/uploads.ts";
import { authRoutes } from "./rest/auth-routes.ts";
import { installErrorHandler } from "./rest/http.ts";
import { matchRoutes } from "./rest/match-routes.ts";
import { notificationRoutes } from "./rest/notification-routes.ts";
import { roomRoutes } from "./rest/room-routes.ts";
import { ErrorBody } from "./rest/schemas.ts";
import { serverRoutes } from "./rest/server-routes.ts";
import { signOnRoutes } from "./rest/sign-on-routes.ts";
import { uploadRoutes } from "./rest/upload-routes.ts";
import { strictValidatorCompiler } from "./rest/validation.ts";
import { webRoutes } from "./web.ts";
import { Hub } from "./ws/hub.ts";
import { asyncApiDocument } from "./ws/protocol-docs.ts";
import { SocketServer, WS_PATH } from "./ws/server.ts";

export interface GatewayOptions {
  readonly tokens: TokenConfig;
  readonly kdf: KdfParams;
  /** extra routes on the same server (the embedded default adds the web client) */
  readonly extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
  /** max REST body size in bytes */
  readonly bodyLimit?: number;
  /** the server API's keys (none: the server API answers FORBIDDEN) */
  readonly serverKeys?: readonly string[];
  /** the backends' readiness checks (none: ready once listening, as on the memory backends) */
  readonly readiness?: () => ReadyState;
  /** the built web client served at / (default: workloads/web/dist) */
  readonly webDir?: string;
  /** single sign-on with an OpenID Connect provider (none: /v1/auth/oidc/* answer SSO_NOT_CONFIGURED) */
  readonly signOn?: SignOnSettings;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly hub: Hub;
  readonly rooms: Rooms;
  readonly messages: Messages;
  readonly matching: Matching;
  listen(port: number, host: string): Promise<string>;
  /** stop accepting, close sockets with the resumable SHUTDOWN code, finish requests in flight */
  stop(): Promise<void>;
}

export async function createGateway(ctx: GatewayContext, opts: GatewayOptions): Promise<Gateway> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    return503OnClosing: true,
  });
  const sessions = new Sessions(ctx);
  const tokens = new Tokens(opts.tokens, ctx.store, sessions);
  const rooms = new Rooms(ctx);
  const uploads = new Uploads(ctx, rooms);
  const live = new LiveSeqs();
  const messages = new Messages(ctx, uploads, live);
  const matching = new Matching(ctx);
  const notifications = new Notifications(ctx, rooms);
  const hub = new Hub(ctx, matching, sessions, live);
  const sockets = new SocketServer(
    { ctx, hub, rooms, messages, matching, notifications, sessionId: randomUUID() },
    tokens,
    sessions,
  );
  let ready = false;

  app.setValidatorCompiler(strictValidatorCompiler());
  app.addSchema(ErrorBody);
  await app.register(swagger, {
    // shared schemas keep their names (#/components/schemas/Error, not def-0)
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === "string" ? json.$id : `def-${i}`,
    },
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Switchboard gateway",
        version: "v1",
        description: `REST API of the Switchboard gateway. The WebSocket endpoint is ${WS_PATH} (see /asyncapi.json and docs/protocol.md).`,
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          serverKey: {
            type: "http",
            scheme: "bearer",
            description:
              "a server key from SERVER_API_KEYS, for /v1/server/... only (docs/server-api.md)",
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  installErrorHandler(app, ctx);
  authRoutes(app, ctx, tokens, opts.kdf);
  signOnRoutes(
    app,
    ctx,
    tokens,
    opts.signOn === undefined
      ? undefined
      : new SignOn(
          opts.signOn,
          new FlowSealer(opts.tokens.secret),
          new ProviderSessionSealer(opts.tokens.secret),
        ),
  );
  roomRoutes(app, ctx, tokens, rooms, messages);
  matchRoutes(app, ctx, tokens, matching);
  uploadRoutes(app, ctx, tokens, uploads);
  notificationRoutes(app, ctx, tokens, notifications);
  serverRoutes(app, ctx, new ServerKeys(opts.serverKeys ?? []), rooms, messages, sessions);

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  // built once from the frame schemas, like docs/asyncapi.json (nothing read from disk)
  const asyncApi = JSON.stringify(asyncApiDocument());
  app.get("/asyncapi.json", { schema: { hide: true } }, async (_req, reply) =>
    reply.type("application/json; charset=utf-8").send(asyncApi),
  );
  app.get(PROBE_PATHS.live, { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get(PROBE_PATHS.ready, { schema: { hide: true } }, async (_req, reply) => {
    const backends = opts.readiness?.();
    const state: ReadyState = {
      ready: ready && (backends?.ready ?? true),
      checks: { listening: { ok: ready }, ...backends?.checks },
    };
    return reply
      .status(state.ready ? 200 : 503)
      .type("application/json")
      .send(readyBody(state));
  });
  app.get(PROBE_PATHS.metrics, { schema: { hide: true } }, async (_req, reply) =>
    reply
      .header("content-type", ctx.metrics.registry.contentType)
      .send(await ctx.metrics.registry.metrics()),
  );
  await webRoutes(app, opts.webDir, ctx.uploads?.objects.origin);
  await opts.extraRoutes?.(app);

  app.server.on("upgrade", (req, socket, head) => sockets.handleUpgrade(req, socket, head));
  await hub.start();
  sockets.start();

  return {
    app,
    hub,
    rooms,
    messages,
    matching,
    async listen(port, host) {
      const address = await app.listen({ port, host });
      ready = true;
      ctx.log.info({ address, gatewayId: ctx.gatewayId }, "gateway listening");
      return address;
    },
    async stop() {
      ready = false;
      sockets.drain();
      await app.close();
      await hub.stop();
    },
  };
}
