// Environment configuration, parsed once at start-up into typed values. A bad value stops the
// process with a message naming the variable; secrets are never echoed.

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type Env = Readonly<Record<string, string | undefined>>;

export class EnvReader {
  readonly #env: Env;
  readonly #errors: string[] = [];
  readonly #read = new Set<string>();

  constructor(env: Env) {
    this.#env = env;
  }

  /** Every variable a reader asked for (the contract test compares it with what it was given). */
  get read(): ReadonlySet<string> {
    return this.#read;
  }

  #get(name: string): string | undefined {
    this.#read.add(name);
    return this.#env[name];
  }

  string(name: string, fallback?: string): string {
    const v = this.#get(name);
    if (v !== undefined && v !== "") return v;
    if (fallback !== undefined) return fallback;
    this.#errors.push(`${name} is required`);
    return "";
  }

  optional(name: string): string | undefined {
    const v = this.#get(name);
    return v === undefined || v === "" ? undefined : v;
  }

  /** a secret: required, at least minLength characters, never included in messages */
  secret(name: string, minLength: number): string {
    const v = this.#get(name);
    if (v === undefined || v.length < minLength) {
      this.#errors.push(`${name} must be set to a secret of at least ${minLength} characters`);
      return "";
    }
    return v;
  }

  /**
   * Secrets separated by commas or whitespace (one per line in a mounted file works too), each
   * at least minLength characters; none when unset. A short one is named by its position only.
   */
  secretList(name: string, minLength: number): string[] {
    const v = this.#get(name);
    if (v === undefined) return [];
    const secrets = v.split(/[\s,]+/).filter((s) => s !== "");
    secrets.forEach((s, i) => {
      if (s.length < minLength) {
        this.#errors.push(
          `${name}: secret ${i + 1} of ${secrets.length} is shorter than ${minLength} characters`,
        );
      }
    });
    return secrets;
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.#get(name);
    if (raw === undefined || raw === "") return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      this.#errors.push(
        `${name} must be an integer in [${min}, ${max}], got '${raw.slice(0, 40)}'`,
      );
      return fallback;
    }
    return v;
  }

  number(name: string, fallback: number, { min = 0, max = Number.MAX_VALUE } = {}): number {
    const raw = this.#get(name);
    if (raw === undefined || raw === "") return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) {
      this.#errors.push(`${name} must be a number in [${min}, ${max}], got '${raw.slice(0, 40)}'`);
      return fallback;
    }
    return v;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.#get(name);
    if (raw === undefined || raw === "") return fallback;
    if ((values as readonly string[]).includes(raw)) return raw as T;
    this.#errors.push(`${name} must be one of ${values.join(", ")}, got '${raw.slice(0, 40)}'`);
    return fallback;
  }

  list(name: string, fallback: readonly string[]): string[] {
    const raw = this.#get(name);
    if (raw === undefined || raw === "") return [...fallback];
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  }

  /** records a problem a reader found in values it read (reported by done) */
  problem(message: string): void {
    this.#errors.push(message);
  }

  /** throws one ConfigError listing every problem found */
  done(): void {
    if (this.#errors.length > 0) {
      throw new ConfigError(`invalid configuration:\n  - ${this.#errors.join("\n  - ")}`);
    }
  }
}
