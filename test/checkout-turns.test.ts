import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckoutTurns } from "../src/orders/checkout-turns.ts";
import { newItem, placeOrder, startTestServer, stockOf, storesWithBalancedLedgers, type TestServer } from "./support/harness.ts";

/** A checkout that runs until the test ends it; `started` says whether its turn came. */
function heldCheckout(turns: CheckoutTurns, storeId: string, log: string[], name: string) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const checkout = { started: false, end: () => end(), done: undefined as unknown as Promise<string> };
  checkout.done = turns.run(storeId, async () => {
    checkout.started = true;
    log.push(name);
    await ended;
    return name;
  });
  return checkout;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("checkout turns", () => {
  it("run at most `perStore` checkouts of a store at once, the others in arrival order, without holding other stores", async () => {
    const turns = new CheckoutTurns(2);
    const log: string[] = [];
    const a = ["a1", "a2", "a3", "a4"].map((name) => heldCheckout(turns, "store-a", log, name));
    const b = heldCheckout(turns, "store-b", log, "b1");
    await settle();
    expect(a.map((c) => c.started)).toEqual([true, true, false, false]);
    expect(b.started).toBe(true);
    expect(turns.waiting).toBe(2);

    a[1]!.end();
    expect(await a[1]!.done).toBe("a2");
    await settle();
    expect(a.map((c) => c.started)).toEqual([true, true, true, false]);
    a[0]!.end();
    await settle();
    expect(log).toEqual(["a1", "a2", "b1", "a3", "a4"]);

    for (const checkout of [...a, b]) checkout.end();
    await Promise.all([...a, b].map((c) => c.done));
    expect(turns.waiting).toBe(0);
  });

  it("a checkout that fails gives its turn to the next", async () => {
    const turns = new CheckoutTurns(1);
    const failed = turns.run("s", async () => {
      throw new Error("refused");
    });
    const next = turns.run("s", async () => "placed");
    await expect(failed).rejects.toThrow("refused");
    expect(await next).toBe("placed");
  });
});

describe("placeOrder one checkout of a store at a time", () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer({ poolSize: 20, checkoutConcurrencyPerStore: 1 })));
  afterAll(async () => server.close());
  const store = storesWithBalancedLedgers(() => server);

  it("100 concurrent orders for 60 units: 60 placed, numbered 1..60, 40 refused, the count exact", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 60 });
    const results = await Promise.all(Array.from({ length: 100 }, () => placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])));
    const placed = results.filter((r) => r.__typename === "Order");
    expect(placed.map((r) => r.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(results.filter((r) => r.__typename === "InsufficientStockError")).toHaveLength(40);
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
  });
});
