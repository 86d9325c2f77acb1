export { ChatSocket, type Frame, Rest, type Session } from "./chat-client.ts";
export { type Backends, ChatStack, type ChatStackOptions } from "./chat-stack.ts";
export { exactlyOnceInOrder, Member } from "./member.ts";
export { uniqueK8sName, uniqueName } from "./names.ts";
export { CookieJar, providerLogin, signOnEnv } from "./oidc.ts";
export { OpenApiChecker, type OpenApiDoc } from "./openapi.ts";
export { OwnPart } from "./own-part.ts";
export { freePort, Workload } from "./processes.ts";
export {
  cassandraContactPoints,
  cassandraLocalDc,
  kafkaBrokers,
  kubeconfigPath,
  kubectlPath,
  objectStore,
  oidcBackChannel,
  oidcProvider,
  oidcUsers,
  redisUrl,
} from "./stack.ts";
export { TcpProxy } from "./tcp-proxy.ts";
export { type WaitOptions, waitFor } from "./wait.ts";
