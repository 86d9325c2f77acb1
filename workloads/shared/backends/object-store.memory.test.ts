import { objectStoreContract } from "./object-store.contract.ts";
import { MemoryObjectStore } from "./object-store.memory.ts";

objectStoreContract("memory", async () => {
  const subject = await MemoryObjectStore.start();
  return { subject, cleanup: () => subject.close() };
});
