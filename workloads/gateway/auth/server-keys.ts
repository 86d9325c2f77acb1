// The server API's keys (SERVER_API_KEYS): what a backend presents as `Authorization: Bearer
// <key>` on /v1/server/... Several keys may be valid at once, so a key is rotated by adding the
// new one, moving the backends to it, then removing the old one. A presented key is compared
// with every configured key in constant time (SHA-256 digests of equal length through
// timingSafeEqual, never an early exit), and no key is ever logged: a key is known by its
// fingerprint, the first 12 hex digits of its SHA-256, which names its rate-limit bucket.
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

export class ServerKeys {
  readonly #digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  /** false: no key is configured and the server API is off */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** The fingerprint of the configured key equal to `presented`, or undefined. */
  match(presented: string): string | undefined {
    const d = digest(presented);
    let found: Buffer | undefined;
    for (const k of this.#digests) if (timingSafeEqual(d, k)) found = k;
    return found?.toString("hex").slice(0, 12);
  }
}
