import { MemoryBus } from "./bus.memory.ts";
import { BusDelivery } from "./delivery.bus.ts";
import { deliveryContract } from "./delivery.contract.ts";

deliveryContract(
  "bus (memory)",
  async (hooks) => {
    const bus = new MemoryBus();
    const subject = new BusDelivery(bus, { topic: "t.deliveries", ...hooks });
    return {
      subject,
      cleanup: async () => {
        await subject.close();
        await bus.close();
      },
    };
  },
  { countsListeners: false },
);
