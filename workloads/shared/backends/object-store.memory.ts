// ObjectStore in memory, for the embedded default and unit tests: objects in a Map, served by a
// small HTTP server of its own on loopback so that clients upload and download through URLs as
// they do with S3. It enforces what the S3 adapter's presigned POST policy makes S3 enforce (the
// key, the media type, the size range, the expiry; an HMAC of its own instead of SigV4) and
// refuses an expired or altered download URL, so it passes the same contract suite.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  ObjectInfo,
  ObjectStore,
  PresignedDownload,
  PresignedUpload,
  UploadPolicy,
} from "./object-store.ts";

export interface MemoryObjectStoreOptions {
  /** default 127.0.0.1 */
  readonly host?: string;
  /** default 0 (any free port) */
  readonly port?: number;
  /** the clock, in ms */
  readonly now?: () => number;
}

/** the largest request body the server reads at all, whatever a policy allows */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

interface StoredObject {
  readonly bytes: Buffer;
  readonly contentType: string;
}

interface SignedPolicy {
  readonly key: string;
  readonly contentType: string;
  readonly maxBytes: number;
  /** ms since the epoch */
  readonly expires: number;
}

export class MemoryObjectStore implements ObjectStore {
  readonly #objects = new Map<string, StoredObject>();
  readonly #secret = randomBytes(32);
  readonly #server: Server;
  readonly #now: () => number;
  readonly #base: string;
  readonly origin: string;

  private constructor(server: Server, base: string, now: () => number) {
    this.#server = server;
    this.#base = base;
    this.origin = base;
    this.#now = now;
  }

  /** Starts the store's HTTP server; its URLs point there. */
  static async start(o: MemoryObjectStoreOptions = {}): Promise<MemoryObjectStore> {
    const server = createServer();
    const host = o.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const store = new MemoryObjectStore(server, `http://${host}:${port}`, o.now ?? Date.now);
    server.on("request", (req, res) => {
      store.#serve(req, res).catch(() => answer(res, 500, "InternalError", "internal error"));
    });
    return store;
  }

  async presignUpload(p: UploadPolicy): Promise<PresignedUpload> {
    const expires = this.#now() + p.expiresInSeconds * 1000;
    const policy = Buffer.from(
      JSON.stringify({
        key: p.key,
        contentType: p.contentType,
        maxBytes: p.maxBytes,
        expires,
      } satisfies SignedPolicy),
    ).toString("base64");
    return {
      url: `${this.#base}/upload`,
      fields: {
        key: p.key,
        "Content-Type": p.contentType,
        policy,
        signature: this.#sign(policy),
      },
      expiresAt: new Date(expires),
    };
  }

  async presignDownload(key: string, expiresInSeconds: number): Promise<PresignedDownload> {
    const expires = this.#now() + expiresInSeconds * 1000;
    const sig = this.#sign(`${key}\n${expires}`);
    return {
      url: `${this.#base}/o/${encodeURIComponent(key)}?expires=${expires}&signature=${sig}`,
      expiresAt: new Date(expires),
    };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const o = this.#objects.get(key);
    return o === undefined ? undefined : { size: o.bytes.length, contentType: o.contentType };
  }

  async checkBucket(): Promise<void> {
    if (!this.#server.listening) throw new Error("the memory object store is closed");
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #sign(data: string): string {
    return createHmac("sha256", this.#secret).update(data).digest("base64url");
  }

  #verify(data: string, signature: string): boolean {
    const want = Buffer.from(this.#sign(data));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader("access-control-allow-origin", "*");
    const url = new URL(req.url ?? "/", this.#base);
    if (req.method === "OPTIONS") {
      res.setHeader("access-control-allow-methods", "GET, POST");
      res.setHeader("access-control-allow-headers", "*");
      res.writeHead(204).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/upload") return this.#upload(req, res);
    if (req.method === "GET" && url.pathname.startsWith("/o/")) {
      const key = decodeURIComponent(url.pathname.slice(3));
      const expires = Number(url.searchParams.get("expires"));
      const signature = url.searchParams.get("signature") ?? "";
      if (!this.#verify(`${key}\n${expires}`, signature)) {
        return answer(res, 403, "SignatureDoesNotMatch", "bad signature");
      }
      if (this.#now() > expires) return answer(res, 403, "AccessDenied", "Request has expired");
      const o = this.#objects.get(key);
      if (o === undefined) return answer(res, 404, "NoSuchKey", "no such key");
      res.writeHead(200, { "content-type": o.contentType, "content-length": o.bytes.length });
      res.end(o.bytes);
      return;
    }
    answer(res, 404, "NotFound", "no such route");
  }

  async #upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) return answer(res, 400, "EntityTooLarge", "body too large");
      chunks.push(chunk);
    }
    let form: FormData;
    try {
      form = await new Request(`${this.#base}/upload`, {
        method: "POST",
        headers: { "content-type": req.headers["content-type"] ?? "" },
        body: Buffer.concat(chunks),
      }).formData();
    } catch {
      return answer(res, 400, "MalformedPOSTRequest", "not a multipart/form-data body");
    }
    const field = (name: string): string | undefined => {
      const v = form.get(name);
      return typeof v === "string" ? v : undefined;
    };
    const policyField = field("policy");
    const signature = field("signature");
    const file = form.get("file");
    if (policyField === undefined || signature === undefined || !(file instanceof Blob)) {
      return answer(res, 400, "InvalidArgument", "policy, signature and file are required");
    }
    if (!this.#verify(policyField, signature)) {
      return answer(res, 403, "SignatureDoesNotMatch", "bad signature");
    }
    const policy = JSON.parse(Buffer.from(policyField, "base64").toString()) as SignedPolicy;
    if (this.#now() > policy.expires) {
      return answer(res, 403, "AccessDenied", "Invalid according to Policy: Policy expired");
    }
    if (field("key") !== policy.key) {
      return answer(res, 403, "AccessDenied", "Invalid according to Policy: key");
    }
    if (field("Content-Type") !== policy.contentType) {
      return answer(res, 403, "AccessDenied", "Invalid according to Policy: Content-Type");
    }
    if (file.size > policy.maxBytes) {
      return answer(res, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum size");
    }
    if (file.size < 1) return answer(res, 400, "EntityTooSmall", "empty upload");
    this.#objects.set(policy.key, {
      bytes: Buffer.from(await file.arrayBuffer()),
      contentType: policy.contentType,
    });
    res.writeHead(204).end();
  }
}

function answer(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}
