// /v1/rooms/{id}/uploads and /v1/rooms/{id}/objects/{object_id}: presigned URLs of the object
// store for a room's members (docs/decisions/0021). The bytes go straight to the store.
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import type { Uploads } from "../core/uploads.ts";
import { AUTH_ERRORS, authenticate, errorResponses } from "./http.ts";
import {
  DownloadGrantBody,
  ObjectParams,
  RoomParams,
  UploadGrantBody,
  UploadRequestBody,
} from "./schemas.ts";

export function uploadRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  tokens: Tokens,
  uploads: Uploads,
): void {
  const tags = ["uploads"];
  const security = [{ bearer: [] }];
  const preHandler = authenticate(ctx, tokens);

  app.post<{ Params: Static<typeof RoomParams>; Body: Static<typeof UploadRequestBody> }>(
    "/v1/rooms/:room_id/uploads",
    {
      schema: {
        tags,
        security,
        summary: "Get a presigned upload",
        description:
          "An HTML-form upload of one new object of the room, straight to the object store: POST multipart/form-data to `url` with `fields`, then the file as a part named `file`. The store refuses a body larger than `size`, another media type than `content_type`, and a form after `expires_at`. Then send an image or file message with `content.key`. Takes a token from the user's upload rate limit (UPLOAD_RATE_LIMIT_*) too. Members only.",
        params: RoomParams,
        body: UploadRequestBody,
        response: {
          201: UploadGrantBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "NOT_A_MEMBER",
            "UPLOAD_TOO_LARGE",
            "UPLOAD_TYPE_NOT_ALLOWED",
            "UPLOADS_DISABLED",
          ),
        },
      },
      preHandler,
    },
    async (req, reply) => {
      const g = await uploads.presignUpload(req.userId, req.params.room_id, {
        name: req.body.name,
        size: req.body.size,
        contentType: req.body.content_type,
      });
      return reply.status(201).send({
        key: g.key,
        object_id: g.objectId,
        url: g.url,
        fields: g.fields,
        expires_at: g.expiresAt.toISOString(),
        max_bytes: g.maxBytes,
      });
    },
  );

  app.get<{ Params: Static<typeof ObjectParams> }>(
    "/v1/rooms/:room_id/objects/:object_id",
    {
      schema: {
        tags,
        security,
        summary: "Get a presigned download",
        description:
          "A URL that reads one of the room's objects (the last segment of a message's `content.key`) from the object store until `expires_at`; after that the store refuses it. Members only.",
        params: ObjectParams,
        response: {
          200: DownloadGrantBody,
          ...errorResponses(
            "BAD_REQUEST",
            ...AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "NOT_A_MEMBER",
            "UPLOADS_DISABLED",
          ),
        },
      },
      preHandler,
    },
    async (req) => {
      const g = await uploads.presignDownload(req.userId, req.params.room_id, req.params.object_id);
      return { key: g.key, url: g.url, expires_at: g.expiresAt.toISOString() };
    },
  );
}
