// The Delivery contract: every adapter passes this suite, handed a factory. Delivery is
// asynchronous in every adapter, so the suite waits for payloads with a deadline. To show that
// something did NOT arrive it sends a marker afterwards on the same path and waits for that:
// adapters deliver in send order across gateways too (one publisher, one subscriber); where
// one does not (the bus adapter orders per address), the test waits for both anyway.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../../../e2e/testkit/index.ts";
import { type Delivery, EVERY_GATEWAY } from "./delivery.ts";

export interface DeliveryHarness {
  readonly subject: Delivery;
  /** closes the subject (if the test did not) and removes what it stored */
  cleanup(): Promise<void>;
}

export interface DeliveryHooks {
  /** to be passed to the adapter as its listener-error handler */
  readonly onListenerError: (err: unknown, gatewayId: string) => void;
}

export type DeliveryFactory = (hooks: DeliveryHooks) => Promise<DeliveryHarness>;

export interface DeliveryTraits {
  /** send resolves how many listeners received the payload (false: the adapter cannot tell) */
  readonly countsListeners: boolean;
}

/** A listener that records what it receives. */
function recorder(): { readonly got: string[]; readonly onPayload: (p: string) => void } {
  const got: string[] = [];
  return { got, onPayload: (p) => got.push(p) };
}

const received = (what: string, got: readonly string[], count: number) =>
  waitFor(what, () => (got.length >= count ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 10,
  });

export function deliveryContract(
  name: string,
  factory: DeliveryFactory,
  traits: DeliveryTraits = { countsListeners: true },
): void {
  /** checks a count that send resolved, where the adapter can tell */
  const counted = (count: number, expected: number | "some") => {
    if (!traits.countsListeners) return;
    if (expected === "some") assert.ok(count >= 1, `${count} listeners received it`);
    else assert.equal(count, expected);
  };
  const test = (
    title: string,
    body: (h: DeliveryHarness, errors: [unknown, string][]) => Promise<void>,
  ) =>
    it(title, async () => {
      const errors: [unknown, string][] = [];
      const harness = await factory({ onListenerError: (err, gw) => errors.push([err, gw]) });
      try {
        await body(harness, errors);
      } finally {
        await harness.cleanup();
      }
    });

  describe(`Delivery contract: ${name}`, () => {
    test("answers ping while up, before and while listening", async ({ subject }) => {
      await subject.ping();
      await subject.listen("gw-ping", () => undefined);
      await subject.ping();
    });

    test("a payload reaches exactly the addressed gateway", async ({ subject }, errors) => {
      const a = recorder();
      const b = recorder();
      await subject.listen("gw-a", a.onPayload);
      await subject.listen("gw-b", b.onPayload);

      counted(await subject.send("gw-a", "for-a"), 1);
      counted(await subject.send("gw-nobody", "for-nobody"), 0);
      counted(await subject.send("gw-b", "marker"), 1);

      await received("the marker on gw-b", b.got, 1);
      await received("the payload on gw-a", a.got, 1);
      assert.deepEqual(b.got, ["marker"]);
      assert.deepEqual(a.got, ["for-a"]);
      assert.deepEqual(errors, []);
    });

    test("sendMany delivers 1,000 payloads in order per gateway", async ({ subject }) => {
      const a = recorder();
      const b = recorder();
      await subject.listen("gw-a", a.onPayload);
      await subject.listen("gw-b", b.onPayload);
      const items = Array.from({ length: 1_000 }, (_, i) => ({
        gatewayId: i % 3 === 0 ? "gw-b" : "gw-a",
        payload: `p-${i}`,
      }));

      await subject.sendMany(items);

      const expected = (gw: string) =>
        items.filter((item) => item.gatewayId === gw).map((item) => item.payload);
      await received("every payload on gw-a", a.got, expected("gw-a").length);
      await received("every payload on gw-b", b.got, expected("gw-b").length);
      assert.deepEqual(a.got, expected("gw-a"));
      assert.deepEqual(b.got, expected("gw-b"));
    });

    test("1,000 sends issued without waiting arrive in the order they were issued", async ({
      subject,
    }) => {
      const a = recorder();
      await subject.listen("gw-a", a.onPayload);
      const payloads = Array.from({ length: 1_000 }, (_, i) => `p-${i}`);

      const counts = await Promise.all(payloads.map((p) => subject.send("gw-a", p)));

      for (const c of counts) counted(c, 1);
      await received("every payload", a.got, payloads.length);
      assert.deepEqual(a.got, payloads);
    });

    test("stopping a listener ends its delivery", async ({ subject }) => {
      const first = recorder();
      const stop = await subject.listen("gw-a", first.onPayload);
      await subject.send("gw-a", "before-stop");
      await received("the payload before stop", first.got, 1);

      await stop();
      counted(await subject.send("gw-a", "while-nobody-listens"), 0);

      const second = recorder();
      await subject.listen("gw-a", second.onPayload);
      await subject.send("gw-a", "after-stop");
      await received("the payload to the new listener", second.got, 1);
      assert.deepEqual(second.got, ["after-stop"]);
      assert.deepEqual(first.got, ["before-stop"]);
      await stop();
    });

    test("two listeners on one gateway both receive, and stopping one leaves the other", async ({
      subject,
    }) => {
      const one = recorder();
      const two = recorder();
      const stopOne = await subject.listen("gw-a", one.onPayload);
      await subject.listen("gw-a", two.onPayload);
      counted(await subject.send("gw-a", "to-both"), "some");
      await received("the payload on listener one", one.got, 1);

      await stopOne();
      counted(await subject.send("gw-a", "to-two"), 1);
      await received("both payloads on listener two", two.got, 2);
      assert.deepEqual(two.got, ["to-both", "to-two"]);
      assert.deepEqual(one.got, ["to-both"]);
    });

    test("a listener that throws is reported and does not stop delivery", async ({
      subject,
    }, errors) => {
      const good = recorder();
      await subject.listen("gw-bad", () => {
        throw new Error("listener failed");
      });
      await subject.listen("gw-good", good.onPayload);

      await subject.sendMany([
        { gatewayId: "gw-bad", payload: "x" },
        { gatewayId: "gw-good", payload: "y" },
        { gatewayId: "gw-bad", payload: "z" },
        { gatewayId: "gw-good", payload: "w" },
      ]);

      await received("both payloads on the good listener", good.got, 2);
      assert.deepEqual(good.got, ["y", "w"]);
      assert.equal(errors.length, 2);
      assert.deepEqual(
        errors.map(([err, gw]) => [(err as Error).message, gw]),
        [
          ["listener failed", "gw-bad"],
          ["listener failed", "gw-bad"],
        ],
      );
    });

    test("a payload to EVERY_GATEWAY reaches each listening gateway once", async ({ subject }) => {
      const a = recorder();
      const b = recorder();
      await subject.listen("gw-a", a.onPayload);
      await subject.listen("gw-b", b.onPayload);

      counted(await subject.send(EVERY_GATEWAY, "to-all"), "some");
      await subject.sendMany([
        { gatewayId: EVERY_GATEWAY, payload: "to-all-again" },
        { gatewayId: "gw-a", payload: "marker-a" },
        { gatewayId: "gw-b", payload: "marker-b" },
      ]);

      await received("three payloads on gw-a", a.got, 3);
      await received("three payloads on gw-b", b.got, 3);
      assert.deepEqual([...a.got].sort(), ["marker-a", "to-all", "to-all-again"]);
      assert.deepEqual([...b.got].sort(), ["marker-b", "to-all", "to-all-again"]);
    });

    test("refuses to listen as EVERY_GATEWAY", async ({ subject }) => {
      await assert.rejects(
        subject.listen(EVERY_GATEWAY, () => undefined),
        RangeError,
      );
    });

    test("sendMany of nothing is accepted", async ({ subject }) => {
      await subject.sendMany([]);
    });

    test("after close, send and listen reject", async ({ subject }) => {
      await subject.listen("gw-a", () => undefined);
      await subject.close();
      await assert.rejects(subject.send("gw-a", "late"));
      await assert.rejects(subject.listen("gw-a", () => undefined));
    });
  });
}
