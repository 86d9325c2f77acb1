// The workloads image's one entry point: `node workloads/main.ts <command>`, where the command
// (the container's args) picks the process: gateway, forwarder, matcher, notifier or migrate. Each
// command's own main module reads its settings from the environment.

import { WORKLOAD_COMMANDS, type WorkloadCommand } from "#contract/settings";

export const workloadCommands = WORKLOAD_COMMANDS;

export function parseCommand(argv: readonly string[]): WorkloadCommand | undefined {
  const [command, ...rest] = argv;
  if (rest.length > 0) return undefined;
  return workloadCommands.find((c) => c === command);
}

async function run(command: WorkloadCommand): Promise<void> {
  switch (command) {
    case "gateway":
      await import("./gateway/main.ts");
      return;
    case "forwarder":
      await import("./forwarder/main.ts");
      return;
    case "matcher":
      await import("./matcher/main.ts");
      return;
    case "notifier":
      await import("./notifier/main.ts");
      return;
    case "migrate": {
      const { runMigrate } = await import("./migrate.ts");
      process.exit(await runMigrate());
    }
  }
}

if (import.meta.main) {
  const command = parseCommand(process.argv.slice(2));
  if (command === undefined) {
    console.error(
      `usage: node workloads/main.ts <${workloadCommands.join("|")}> (got ${JSON.stringify(process.argv.slice(2))})`,
    );
    process.exit(2);
  }
  await run(command);
}
