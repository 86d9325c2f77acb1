import { storeContract } from "./store.contract.ts";
import { MemoryStore } from "./store.memory.ts";

storeContract("memory", async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
