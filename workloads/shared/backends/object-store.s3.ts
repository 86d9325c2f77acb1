// ObjectStore on any S3-compatible store (AWS S3, S3Proxy in hack/stack, MinIO, ...): presigned
// POST for uploads (the policy carries the key, the media type and content-length-range, so the
// store refuses anything else), presigned GET for downloads, HeadObject and HeadBucket.
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type {
  ObjectInfo,
  ObjectStore,
  PresignedDownload,
  PresignedUpload,
  UploadPolicy,
} from "./object-store.ts";

export interface S3ObjectStoreOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** bucket in the path (http://host/bucket/key), as S3Proxy and MinIO want; default true */
  readonly forcePathStyle?: boolean;
  /** per request, connecting included; default 5 000 */
  readonly timeoutMs?: number;
}

/** tries per request (the first and one retry): a store that is away is reported, not waited on */
const MAX_ATTEMPTS = 2;

export class S3ObjectStore implements ObjectStore {
  readonly origin: string;
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(o: S3ObjectStoreOptions) {
    const timeoutMs = o.timeoutMs ?? 5_000;
    this.#bucket = o.bucket;
    const endpoint = new URL(o.endpoint);
    this.origin =
      (o.forcePathStyle ?? true)
        ? endpoint.origin
        : `${endpoint.protocol}//${o.bucket}.${endpoint.host}`;
    this.#client = new S3Client({
      endpoint: o.endpoint,
      region: o.region,
      forcePathStyle: o.forcePathStyle ?? true,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
    });
  }

  async presignUpload(p: UploadPolicy): Promise<PresignedUpload> {
    const expiresAt = new Date(Date.now() + p.expiresInSeconds * 1000);
    const { url, fields } = await createPresignedPost(this.#client, {
      Bucket: this.#bucket,
      Key: p.key,
      Conditions: [
        ["content-length-range", 1, p.maxBytes],
        ["eq", "$Content-Type", p.contentType],
      ],
      Fields: { "Content-Type": p.contentType },
      Expires: p.expiresInSeconds,
    });
    return { url, fields, expiresAt };
  }

  async presignDownload(key: string, expiresInSeconds: number): Promise<PresignedDownload> {
    const expiresAt = new Date(Date.now() + expiresInSeconds * 1000);
    const url = await getSignedUrl(
      this.#client,
      new GetObjectCommand({ Bucket: this.#bucket, Key: key }),
      { expiresIn: expiresInSeconds },
    );
    return { url, expiresAt };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const h = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return {
        size: h.ContentLength ?? 0,
        contentType: h.ContentType ?? "application/octet-stream",
      };
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async checkBucket(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      if (notFound(err)) throw new Error(`bucket ${this.#bucket} does not exist`);
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 403) {
        throw new Error(`bucket ${this.#bucket}: access denied (check the credentials)`);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

const notFound = (err: unknown): boolean =>
  err instanceof S3ServiceException &&
  (err.name === "NotFound" || err.name === "NoSuchKey" || err.$metadata.httpStatusCode === 404);
