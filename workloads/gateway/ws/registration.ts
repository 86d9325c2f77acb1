// What the gateway tells the registry, kept true: on a heartbeat it re-records its liveness,
// its rooms and its online users (so entries of a dead pod expire by themselves), and every
// REGISTRY_EPOCH_CHECK_MS it reads the registry's epoch. A changed epoch means the registry
// lost its data (a Redis restart, a failover, a flush): the gateway re-records everything at
// once and asks its sockets to catch up from the store, since whatever was routed while it was
// missing from the registry reached nobody (docs/decisions/0005). A registry write that failed
// (Redis down: sockets still open, decision 0019) marks the registration stale: the next epoch
// check that the registry answers re-records everything and catches the sockets up likewise.
import { REGISTRY_EPOCH_CHECK_MS } from "../../shared/backends/registry.ts";
import type { GatewayContext } from "../core/context.ts";

export interface Registered {
  /** the rooms and users held here now */
  rooms(): string[];
  users(): string[];
  /** the registry lost its data and has everything again: fill what may have been missed */
  onRegistryLost(): void;
  /** per room, the highest seq routed before this gateway's record (Registry.subscribeRooms) */
  routed(seqs: ReadonlyMap<string, number>): void;
}

export class Registration {
  readonly #ctx: GatewayContext;
  readonly #held: Registered;
  #epoch: string | undefined;
  #timers: NodeJS.Timeout[] = [];
  #checking = false;
  #stale = false;

  constructor(ctx: GatewayContext, held: Registered) {
    this.#ctx = ctx;
    this.#held = held;
  }

  async start(): Promise<void> {
    this.#epoch = (await this.#ctx.registry.epoch()).id;
    await this.refresh();
    const warn = (what: string) => (err: unknown) => this.#ctx.log.warn({ err }, what);
    this.#timers.push(
      setInterval(
        () => this.refresh().catch((err: unknown) => this.markStale(err)),
        Math.max(250, Math.floor(this.#ctx.limits.registryTtlMs / 3)),
      ).unref(),
      setInterval(
        () => this.#checkEpoch().catch(warn("registry epoch check failed")),
        REGISTRY_EPOCH_CHECK_MS,
      ).unref(),
    );
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  /** Records this gateway, its rooms and its users again, with a fresh expiry. */
  async refresh(): Promise<void> {
    const { registry, gatewayId, limits } = this.#ctx;
    const ttl = limits.registryTtlMs;
    const rooms = this.#held.rooms();
    const users = this.#held.users();
    await Promise.all([
      registry.markGatewayAlive(gatewayId, ttl),
      rooms.length > 0
        ? registry.subscribeRooms(gatewayId, rooms, ttl).then((seqs) => this.#held.routed(seqs))
        : undefined,
      users.length > 0 ? registry.markOnline(gatewayId, users, ttl) : undefined,
    ]);
  }

  /**
   * A write of this gateway's rooms or users failed: the registry may lack them, and the
   * forwarders may route past this gateway. Re-recorded at the next epoch check it answers.
   */
  markStale(err: unknown): void {
    if (this.#stale) return;
    this.#stale = true;
    this.#ctx.log.warn(
      { err },
      "a registry write failed: registering again and catching sockets up once it answers",
    );
  }

  async #checkEpoch(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const epoch = await this.#ctx.registry.epoch();
      const lost = epoch.id !== this.#epoch;
      if (!lost && !this.#stale) return;
      if (lost) {
        this.#ctx.log.warn(
          { previous: this.#epoch, epoch: epoch.id },
          "the registry lost its data: registering again and catching sockets up",
        );
      }
      this.#stale = false;
      try {
        await this.refresh();
      } catch (err) {
        this.#stale = true;
        throw err;
      }
      this.#epoch = epoch.id;
      if (lost) this.#ctx.metrics.registryLosses.inc();
      this.#held.onRegistryLost();
    } finally {
      this.#checking = false;
    }
  }
}
