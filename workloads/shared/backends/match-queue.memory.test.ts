import { matchQueueContract } from "./match-queue.contract.ts";
import { MemoryMatchQueue } from "./match-queue.memory.ts";

matchQueueContract("memory", async () => ({
  queue: new MemoryMatchQueue(),
  cleanup: async () => {},
}));
