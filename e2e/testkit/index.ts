export { ChatSocket, type Frame, Rest, type Session } from "./chat-client.ts";
export { ChatStack, type ChatStackOptions } from "./chat-stack.ts";
export { uniqueK8sName, uniqueName } from "./names.ts";
export { OwnRedis } from "./own-redis.ts";
export { freePort, Workload } from "./processes.ts";
export {
  cassandraContactPoints,
  cassandraLocalDc,
  kafkaBrokers,
  kubeconfigPath,
  kubectlPath,
  redisUrl,
} from "./stack.ts";
export { type WaitOptions, waitFor } from "./wait.ts";
