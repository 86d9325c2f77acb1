export { uniqueK8sName, uniqueName } from "./names.ts";
export {
  cassandraContactPoints,
  cassandraLocalDc,
  kafkaBrokers,
  kubeconfigPath,
  redisUrl,
} from "./stack.ts";
export { type WaitOptions, waitFor } from "./wait.ts";
export { ChatSocket, type Frame, Rest, type Session } from "./chat-client.ts";
