// A load-generator process: a Generator (worker threads) driven over IPC by a benchmark that
// needs more sockets than one process may open (20,000 files per process on these machines).
import { Generator } from "./generator.ts";
import type { SocketSpec } from "./protocol.ts";

type ChildCommand =
  | { readonly op: "open"; readonly sockets: readonly SocketSpec[]; readonly concurrency: number }
  | { readonly op: "close" };

if (process.send === undefined) throw new Error("bench/loadgen/child.ts runs as a forked child");
const threads = Number(process.argv[2] ?? 2);
const gen = await Generator.start(threads);
const reply = (m: unknown) => process.send?.(m);

process.on("message", (cmd: ChildCommand) => {
  if (cmd.op === "open") {
    gen.open([], cmd.sockets, cmd.concurrency).then(reply, (err: unknown) => {
      console.error("load generator child: open failed", err);
      process.exit(1);
    });
  } else {
    gen.close().then(
      () => {
        reply({ op: "closed" });
        process.exit(0);
      },
      (err: unknown) => {
        console.error("load generator child: close failed", err);
        process.exit(1);
      },
    );
  }
});
reply({ op: "ready" });
