// BusDelivery on the real Kafka: the Delivery contract over a deliveries topic of one partition,
// as the operator creates it.
import { Admin } from "@platformatic/kafka";
import { kafkaBrokers, uniqueName } from "../../../e2e/testkit/index.ts";
import { createTopicIfMissing, KafkaBus, type KafkaBusConfig } from "./bus.kafka.ts";
import { BusDelivery } from "./delivery.bus.ts";
import { deliveryContract } from "./delivery.contract.ts";

const config: KafkaBusConfig = { brokers: kafkaBrokers(), clientId: "delivery-bus-int" };
const consumer = { sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTime: 500 };

deliveryContract(
  "bus (kafka)",
  async (hooks) => {
    const topic = uniqueName("deliveries");
    await createTopicIfMissing(config, topic, 1);
    const bus = new KafkaBus(config, { consumer });
    const subject = new BusDelivery(bus, { topic, ...hooks });
    return {
      subject,
      cleanup: async () => {
        await subject.close();
        await bus.close();
        const admin = new Admin({
          clientId: "delivery-bus-int-admin",
          bootstrapBrokers: config.brokers,
          timeout: 10_000,
        });
        await admin.deleteTopics({ topics: [topic] }).finally(() => admin.close());
      },
    };
  },
  { countsListeners: false },
);
