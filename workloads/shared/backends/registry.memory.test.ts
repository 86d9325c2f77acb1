import { registryContract } from "./registry.contract.ts";
import { MemoryRegistry } from "./registry.memory.ts";

registryContract("memory", async () => {
  let now = 1_700_000_000_000;
  const subject = new MemoryRegistry({ now: () => now });
  return {
    subject,
    clock: {
      advance: (ms) => {
        now += ms;
      },
    },
    loseData: async () => subject.forget(),
    cleanup: () => subject.close(),
  };
});
