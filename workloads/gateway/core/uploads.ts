// Uploads (docs/decisions/0021): presigned URLs for a room's members, object keys per cluster and
// room, and the check a message that names an object passes at send. The store enforces the
// upload's limits through the presigned policy; this module refuses what it can tell early and
// asks the store (HeadObject) what was really stored before a message may refer to it.
import { randomUUID } from "node:crypto";
import type { ObjectStore } from "../../shared/backends/object-store.ts";
import type { BucketSpec } from "../../shared/backends/rate-limiter.ts";
import type { MessageContent, MsgType } from "../../shared/domain.ts";
import { ChatError, UNAVAILABLE_RETRY_AFTER_MS } from "../../shared/errors.ts";
import type { GatewayContext } from "./context.ts";
import { takeToken } from "./rate.ts";
import type { Rooms } from "./rooms.ts";

export interface UploadLimits {
  /** the largest object, in bytes (UPLOAD_MAX_BYTES) */
  readonly maxBytes: number;
  /** allowed media types: exact (image/png) or a whole type (image/*) */
  readonly contentTypes: readonly string[];
  readonly uploadUrlTtlSeconds: number;
  readonly downloadUrlTtlSeconds: number;
  /** the per-user bucket every upload URL takes a token from (shared through the rate limiter) */
  readonly rate: BucketSpec;
}

export interface UploadConfig {
  readonly objects: ObjectStore;
  /** the ChatCluster's name: the first segment of every key */
  readonly cluster: string;
  readonly limits: UploadLimits;
}

export interface UploadRequest {
  readonly name: string;
  readonly size: number;
  readonly contentType: string;
}

export interface UploadGrant {
  readonly key: string;
  readonly objectId: string;
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
  readonly maxBytes: number;
}

export interface DownloadGrant {
  readonly key: string;
  readonly url: string;
  readonly expiresAt: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/;

export const objectKeyOf = (cluster: string, roomId: string, objectId: string): string =>
  `${cluster}/${roomId}/${objectId}`;

/** A media type as compared: lower case, without parameters ("Image/PNG; q=1" → "image/png"). */
export const mediaTypeOf = (raw: string): string => (raw.split(";")[0] ?? "").trim().toLowerCase();

/** Whether `type` (a media type as mediaTypeOf gives it) is one of `allowed`. */
export function mediaTypeAllowed(allowed: readonly string[], type: string): boolean {
  if (!MEDIA_TYPE.test(type)) return false;
  const whole = `${type.slice(0, type.indexOf("/"))}/*`;
  return allowed.includes(type) || allowed.includes(whole);
}

/** Parses UPLOAD_CONTENT_TYPES; a malformed entry is a configuration error. */
export function parseContentTypes(raw: string): string[] {
  const types = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  for (const t of types) {
    if (!MEDIA_TYPE.test(t) && !/^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/\*$/.test(t)) {
      throw new RangeError(`'${t}' is not a media type (type/subtype or type/*)`);
    }
  }
  if (types.length === 0) throw new RangeError("no media type is allowed");
  return types;
}

/**
 * The object id of `key` when it is one of this room's uploads in this cluster; otherwise
 * OBJECT_NOT_IN_ROOM (another room's or cluster's key, or no key the gateway makes).
 */
export function objectIdOf(cluster: string, roomId: string, key: string): string {
  const prefix = `${cluster}/${roomId}/`;
  const id = key.startsWith(prefix) ? key.slice(prefix.length) : "";
  if (!UUID.test(id)) {
    throw new ChatError(
      "OBJECT_NOT_IN_ROOM",
      `content.key ${JSON.stringify(key.slice(0, 200))} is not an upload of this room (keys are ${prefix}<object id>)`,
    );
  }
  return id;
}

export class Uploads {
  readonly #ctx: GatewayContext;
  readonly #rooms: Rooms;

  constructor(ctx: GatewayContext, rooms: Rooms) {
    this.#ctx = ctx;
    this.#rooms = rooms;
  }

  #config(): UploadConfig {
    const u = this.#ctx.uploads;
    if (u === undefined) {
      throw new ChatError("UPLOADS_DISABLED", "this cluster has no object store: uploads are off");
    }
    return u;
  }

  /** A presigned POST for one new object of the room, within the limits; members only. */
  async presignUpload(userId: string, roomId: string, req: UploadRequest): Promise<UploadGrant> {
    const u = this.#config();
    const type = mediaTypeOf(req.contentType);
    if (req.size > u.limits.maxBytes) {
      throw new ChatError(
        "UPLOAD_TOO_LARGE",
        `${req.size} bytes is more than the ${u.limits.maxBytes} an upload may have`,
      );
    }
    if (!mediaTypeAllowed(u.limits.contentTypes, type)) {
      throw new ChatError(
        "UPLOAD_TYPE_NOT_ALLOWED",
        `${JSON.stringify(req.contentType.slice(0, 127))} is not an allowed media type (allowed: ${u.limits.contentTypes.join(", ")})`,
      );
    }
    await this.#rooms.requireMember(userId, roomId);
    await takeToken(this.#ctx, `upload:${userId}`, u.limits.rate);
    const objectId = randomUUID();
    const key = objectKeyOf(u.cluster, roomId, objectId);
    const p = await this.#store("presign an upload", () =>
      u.objects.presignUpload({
        key,
        contentType: type,
        maxBytes: req.size,
        expiresInSeconds: u.limits.uploadUrlTtlSeconds,
      }),
    );
    this.#ctx.metrics.uploadUrls.inc({ kind: "upload" });
    return {
      key,
      objectId,
      url: p.url,
      fields: p.fields,
      expiresAt: p.expiresAt,
      maxBytes: req.size,
    };
  }

  /** A presigned GET of one of the room's objects; members only. */
  async presignDownload(userId: string, roomId: string, objectId: string): Promise<DownloadGrant> {
    const u = this.#config();
    await this.#rooms.requireMember(userId, roomId);
    const key = objectKeyOf(u.cluster, roomId, objectId);
    const p = await this.#store("presign a download", () =>
      u.objects.presignDownload(key, u.limits.downloadUrlTtlSeconds),
    );
    this.#ctx.metrics.uploadUrls.inc({ kind: "download" });
    return { key, url: p.url, expiresAt: p.expiresAt };
  }

  /**
   * The content an image or file message (its fields checked by checkContent) is stored with:
   * for an uploaded object, checked against the store (this room's key, stored, within the
   * limits) and carrying the size and media type the store reports; an external url passes.
   */
  async checkAttachment(
    roomId: string,
    msgType: MsgType,
    content: MessageContent,
  ): Promise<MessageContent> {
    if (content.key === undefined) return content;
    const u = this.#config();
    const objectId = objectIdOf(u.cluster, roomId, content.key);
    const info = await this.#store("read an object", () => u.objects.head(content.key as string));
    if (info === undefined) {
      throw new ChatError(
        "OBJECT_NOT_FOUND",
        `no object is stored under content.key (${objectId})`,
      );
    }
    const type = mediaTypeOf(info.contentType);
    if (info.size > u.limits.maxBytes) {
      throw new ChatError(
        "UPLOAD_TOO_LARGE",
        `the stored object has ${info.size} bytes, more than the ${u.limits.maxBytes} an upload may have`,
      );
    }
    if (!mediaTypeAllowed(u.limits.contentTypes, type)) {
      throw new ChatError(
        "UPLOAD_TYPE_NOT_ALLOWED",
        `the stored object's type ${type} is not allowed`,
      );
    }
    if (msgType === "image" && !type.startsWith("image/")) {
      throw new ChatError("BAD_REQUEST", `an image message needs an image, not ${type}`);
    }
    return { ...content, name: content.name ?? objectId, size: info.size, mime: type };
  }

  async #store<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.#ctx.log.warn({ err }, `object store: could not ${what}`);
      throw new ChatError("UNAVAILABLE", `the object store did not answer; retry`, {
        retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
      });
    }
  }
}
