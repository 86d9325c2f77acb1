import { deliveryContract } from "./delivery.contract.ts";
import { MemoryDelivery } from "./delivery.memory.ts";

deliveryContract("memory", async (hooks) => {
  const subject = new MemoryDelivery(hooks);
  return { subject, cleanup: () => subject.close() };
});
