// Checks a live REST answer against the gateway's published OpenAPI document: the status is
// documented for the operation, the body matches that response's schema (JSON Schema 2020-12,
// as OpenAPI 3.1 has it), and an error's code is one the response lists ("Error: A, B").
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is JSON the checker walks
export type OpenApiDoc = any;

export class OpenApiChecker {
  readonly doc: OpenApiDoc;
  readonly #ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });

  constructor(doc: OpenApiDoc) {
    this.doc = doc;
    addFormats.default(this.#ajv);
    this.#ajv.addSchema(doc, "openapi.json");
  }

  /** Fetches the document a gateway serves at /openapi.json. */
  static async fetch(baseUrl: string): Promise<OpenApiChecker> {
    const res = await fetch(`${baseUrl.replace(/\/$/, "")}/openapi.json`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`GET /openapi.json → ${res.status}`);
    return new OpenApiChecker(await res.json());
  }

  /** Every operation, as "METHOD /template". */
  operations(): string[] {
    const out: string[] = [];
    for (const [path, ops] of Object.entries(this.doc.paths as Record<string, object>)) {
      for (const method of Object.keys(ops)) out.push(`${method.toUpperCase()} ${path}`);
    }
    return out;
  }

  operation(method: string, template: string): OpenApiDoc | undefined {
    return this.doc.paths[template]?.[method.toLowerCase()];
  }

  /** What is wrong with this answer to the operation, or undefined when it is as documented. */
  problem(method: string, template: string, status: number, body: unknown): string | undefined {
    const op = this.operation(method, template);
    if (op === undefined) return `${method} ${template} is not documented`;
    const documented = op.responses[String(status)];
    if (documented === undefined) return `status ${status} is not documented`;
    const schema = documented.content?.["application/json"]?.schema;
    if (schema === undefined) {
      return body === undefined ? undefined : "a body where none is documented";
    }
    const escaped = template.replaceAll("~", "~0").replaceAll("/", "~1");
    const pointer = `openapi.json#/paths/${escaped}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
    const validate = this.#ajv.getSchema(pointer);
    if (validate === undefined) return `the schema at ${pointer} does not compile`;
    if (!validate(body)) {
      return `body ${JSON.stringify(body).slice(0, 300)} does not match: ${this.#ajv.errorsText(validate.errors)}`;
    }
    if (status >= 400) {
      const codes = String(documented.description)
        .replace(/^Error: /, "")
        .split(", ");
      const code = (body as { error: { code: string } }).error.code;
      if (!codes.includes(code)) return `${code} is not among the documented ${codes.join(", ")}`;
    }
    return undefined;
  }
}
