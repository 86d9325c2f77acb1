// A parsed ChatCluster shaped like examples/chatcluster.yaml, for the builders' unit tests.
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { type ParsedChatCluster, parseChatCluster } from "../api/parse.ts";

const example = load(
  readFileSync(new URL("../../../examples/chatcluster.yaml", import.meta.url), "utf8"),
) as { metadata: object; spec: Record<string, unknown> };

/** The example, in namespace team-a, with `patch` merged into its spec (one level deep). */
export function exampleCluster(
  patch: Record<string, unknown> = {},
  status: Record<string, unknown> = {},
): ParsedChatCluster {
  const spec: Record<string, unknown> = { ...example.spec };
  for (const [k, v] of Object.entries(patch)) {
    spec[k] =
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? { ...(spec[k] as object), ...v }
        : v;
  }
  const parsed = parseChatCluster({
    ...example,
    metadata: { ...example.metadata, namespace: "team-a", uid: "uid-1", generation: 4 },
    spec,
    status,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}
