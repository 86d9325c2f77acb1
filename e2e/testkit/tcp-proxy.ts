// A TCP proxy a test can break: cut every connection (the client sees the network drop, 1006),
// go silent (bytes from the server are swallowed: a connection that stops answering), or point
// new connections at another server. Clients reach the gateway through it to prove reconnects.
import { connect, createServer, type Server, type Socket } from "node:net";

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket }>();
  #target: URL;
  #silent = false;
  /** connections accepted so far */
  accepted = 0;
  /** bytes clients sent through the proxy so far */
  bytesUp = 0;

  private constructor(server: Server, target: URL) {
    this.#server = server;
    this.#target = target;
  }

  /** Listens on a free port of 127.0.0.1 in front of `target` (an http:// address). */
  static async start(target: string): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, new URL(target));
    server.on("connection", (client) => proxy.#accept(client));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** the proxy's http:// address */
  get url(): string {
    const addr = this.#server.address();
    if (addr === null || typeof addr === "string") throw new Error("proxy not listening");
    return `http://127.0.0.1:${addr.port}`;
  }

  /** new connections go to this server from now on */
  retarget(target: string): void {
    this.#target = new URL(target);
  }

  /** Destroys every open connection (both sides see a reset). */
  cut(): void {
    for (const p of this.#pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** While silent, what servers send is dropped; new connections are cut at once. */
  silence(on: boolean): void {
    this.#silent = on;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.accepted++;
    if (this.#silent) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(this.#target.port), this.#target.hostname);
    const pair = { client, upstream };
    this.#pairs.add(pair);
    client.on("data", (b: Buffer) => {
      this.bytesUp += b.length;
      upstream.write(b);
    });
    upstream.on("data", (b) => {
      if (!this.#silent) client.write(b);
    });
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  }
}
