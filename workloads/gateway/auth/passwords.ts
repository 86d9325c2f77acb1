// Password hashing with argon2id (memory-hard), from Node's own crypto (Node >= 24.7), stored
// in PHC string format so parameters can change without invalidating stored hashes.
import { argon2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const argon2Async = promisify(argon2);

export interface KdfParams {
  /** memory in KiB */
  readonly memory: number;
  readonly passes: number;
  readonly parallelism: number;
}

/** OWASP's 2024 minimum for argon2id: 19 MiB, 2 passes, 1 lane. */
export const DEFAULT_KDF: KdfParams = { memory: 19_456, passes: 2, parallelism: 1 };

const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");

export async function hashPassword(
  password: string,
  params: KdfParams = DEFAULT_KDF,
): Promise<string> {
  const nonce = randomBytes(16);
  const hash = await argon2Async("argon2id", {
    message: password,
    nonce,
    parallelism: params.parallelism,
    tagLength: 32,
    memory: params.memory,
    passes: params.passes,
  });
  return `$argon2id$v=19$m=${params.memory},t=${params.passes},p=${params.parallelism}$${b64(nonce)}$${b64(hash)}`;
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (m === null) return false;
  const [, memory, passes, parallelism, nonce, expected] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const want = Buffer.from(expected, "base64");
  const got = await argon2Async("argon2id", {
    message: password,
    nonce: Buffer.from(nonce, "base64"),
    parallelism: Number(parallelism),
    tagLength: want.length,
    memory: Number(memory),
    passes: Number(passes),
  });
  return got.length === want.length && timingSafeEqual(got, want);
}
