import { notificationStoreContract } from "./notifications.contract.ts";
import { MemoryNotificationStore } from "./notifications.memory.ts";

notificationStoreContract("memory", async () => {
  const subject = new MemoryNotificationStore();
  return { subject, cleanup: () => subject.close() };
});
