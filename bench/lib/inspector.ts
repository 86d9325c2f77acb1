// Forces a full garbage collection in another Node process through its inspector (started
// with --inspect=127.0.0.1:<port>), so a heap or RSS reading counts live objects only.
import WebSocket from "ws";

export async function forceGc(inspectPort: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${inspectPort}/json/list`, {
    signal: AbortSignal.timeout(5000),
  });
  const [target] = (await res.json()) as { webSocketDebuggerUrl: string }[];
  if (target === undefined) throw new Error(`no inspector target on port ${inspectPort}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("collectGarbage timed out")), 30_000);
      ws.on("message", (d) => {
        if (JSON.parse(d.toString()).id === 1) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
    });
  } finally {
    ws.close();
  }
}
