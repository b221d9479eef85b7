import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import { gqlData, newItem, startTestServer, storesWithBalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";
import { eventually, liveClient, setQuantity, sleep, stockUpdates, untilLive } from "./support/live.ts";
import { alertsOf, setStoreThreshold } from "./support/low-stock.ts";
import { countsOf, hold, placeWithHold, release, reserve, runOut, statusOf, type Ref } from "./support/reservations.ts";

/**
 * Cart holds ending on time and exactly once (SPEC section 9): the expiry sweep of every process,
 * checkouts and holds that need an expired hold's units before the sweep, and conversion, release
 * and expiry racing. Holds are run out by moving their expiresAt into the past; the proof with real
 * one-minute holds over two processes is test/reservations-proof.test.ts.
 */

let server: TestServer;
/** a second process's worth of service on the same database, with no sweep: what a checkout does alone */
let unswept: TestServer;
beforeAll(async () => {
  // behind a trusted proxy, so that a test can hold for many shoppers (at most 5 holds each)
  [server, unswept] = await Promise.all([
    startTestServer({ config: { reservationExpiryIntervalMs: 1_000, trustProxy: 1 } }),
    startTestServer({ config: { reservationExpiryIntervalMs: 0, trustProxy: 1 } }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.close(), unswept?.close()]);
});
const newStore = storesWithBalancedLedgers(() => server);

describe("RESERVATION_EXPIRY_INTERVAL_MS", () => {
  it("is 1 s by default, 100 ms to 3 s, or 0 for a process that does not sweep", () => {
    expect(loadConfig({}).reservationExpiryIntervalMs).toBe(1_000);
    for (const ms of [0, 100, 3_000]) expect(loadConfig({ RESERVATION_EXPIRY_INTERVAL_MS: String(ms) }).reservationExpiryIntervalMs).toBe(ms);
    for (const ms of [1, 99, 3_001, -1]) expect(() => loadConfig({ RESERVATION_EXPIRY_INTERVAL_MS: String(ms) })).toThrow(/RESERVATION_EXPIRY_INTERVAL_MS/);
  });
});

describe("expiry", () => {
  it("a hold past its expiresAt ends EXPIRED within 5 s by the sweep, its units back and pushed live", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 2 });
    const client = liveClient(server.url);
    try {
      const live = stockUpdates(client, store.slug, [bag.id]);
      let n = 0;
      await untilLive(live, () => setQuantity(server, store, bag.id, n++ % 2 === 0 ? 3 : 2));
      await setQuantity(server, store, bag.id, 2);
      await live.until((updates) => updates.at(-1)?.availableQuantity === 2, "the count");
      const held = await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
      await live.until((updates) => updates.at(-1)?.availability === "SOLD_OUT", "the hold");
      await runOut(server.db, store.id, held.id);
      const ranOut = Date.now();
      await eventually(async () => (await statusOf(server.db, store.id, held.id))?.status === "EXPIRED", "the hold to expire", 5_000, 50);
      expect(Date.now() - ranOut).toBeLessThan(5_000);
      await live.until((updates) => updates.at(-1)?.availableQuantity === 2 && updates.at(-1)?.availability === "IN_STOCK", "the units back, live");
      expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ reservedQuantity: 0, available: 2 });
      const read = await gqlData(server.url, `query($id: ID!, $token: String) { reservation(id: $id, token: $token) { status } }`, held.ref);
      expect(read.reservation.status).toBe("EXPIRED");
      live.close();
    } finally {
      await client.dispose();
    }
  });

  it("before any sweep, a checkout takes an expired hold's units: the hold ends EXPIRED in the checkout's transaction", async () => {
    const store = await newStore();
    const bag = await newItem(unswept, store, { quantity: 1 });
    const hat = await newItem(unswept, store, { quantity: 1 });
    // the hold keeps units of two items; the order asks for one of them
    const held = await hold(unswept, store, [{ itemId: bag.id, quantity: 1 }, { itemId: hat.id, quantity: 1 }]);
    expect((await placeWithHold(unswept, store, [{ itemId: bag.id, quantity: 1 }], null)).__typename).toBe("InsufficientStockError");
    await runOut(unswept.db, store.id, held.id);
    expect((await placeWithHold(unswept, store, [{ itemId: bag.id, quantity: 1 }], null)).__typename).toBe("Order");
    expect(await statusOf(unswept.db, store.id, held.id)).toMatchObject({ status: "EXPIRED", orderId: null });
    expect(await countsOf(unswept.db, store.id, hat.id)).toMatchObject({ reservedQuantity: 0, available: 1 });
  });

  it("before any sweep, a new hold takes an expired hold's units, and the expired one converts to nothing: its order is an ordinary one", async () => {
    const store = await newStore();
    const bag = await newItem(unswept, store, { quantity: 1 });
    const first = await hold(unswept, store, [{ itemId: bag.id, quantity: 1 }]);
    await runOut(unswept.db, store.id, first.id);
    const second = await hold(unswept, store, [{ itemId: bag.id, quantity: 1 }]);
    expect(await statusOf(unswept.db, store.id, first.id)).toMatchObject({ status: "EXPIRED" });
    expect((await placeWithHold(unswept, store, [{ itemId: bag.id, quantity: 1 }], first.ref)).__typename).toBe("InsufficientStockError");
    expect((await placeWithHold(unswept, store, [{ itemId: bag.id, quantity: 1 }], second.ref)).__typename).toBe("Order");
    expect(await statusOf(unswept.db, store.id, second.id)).toMatchObject({ status: "CONVERTED" });
  });

  it("an expired hold placed with, whose units are still free, gives an ordinary order; released after its time, it ends EXPIRED", async () => {
    const store = await newStore();
    const bag = await newItem(unswept, store, { quantity: 3 });
    const converting = await hold(unswept, store, [{ itemId: bag.id, quantity: 1 }]);
    const releasing = await hold(unswept, store, [{ itemId: bag.id, quantity: 1 }]);
    await runOut(unswept.db, store.id, converting.id);
    await runOut(unswept.db, store.id, releasing.id);
    const order = await placeWithHold(unswept, store, [{ itemId: bag.id, quantity: 1 }], converting.ref);
    expect(order.__typename).toBe("Order");
    expect(await statusOf(unswept.db, store.id, converting.id)).toMatchObject({ status: "EXPIRED", orderId: null });
    expect(await release(unswept, releasing.ref)).toMatchObject({ status: "EXPIRED" });
    expect(await countsOf(unswept.db, store.id, bag.id)).toMatchObject({ quantity: 2, reservedQuantity: 0, available: 2 });
  });
});

describe("conversion, release and expiry racing", () => {
  it("60 holds each raced by its order, its release and its expiry on two servers: each ends once, the answers agree with it, no unit held or sold twice", async () => {
    const store = await newStore();
    const items = await Promise.all([0, 1, 2].map(() => newItem(server, store, { quantity: 100 })));
    const holds: { id: string; ref: Ref; lines: { itemId: string; quantity: number }[] }[] = [];
    for (let i = 0; i < 60; i++) {
      const lines = [{ itemId: items[i % 3]!.id, quantity: 1 + (i % 2) }, { itemId: items[(i + 1) % 3]!.id, quantity: 1 }];
      const held = await hold(server, store, lines, {}, { "x-forwarded-for": `10.0.${i}.1` });
      holds.push({ id: held.id, ref: held.ref, lines });
    }
    const outcomes = await Promise.all(
      holds.map(async (held, i) => {
        const [a, b] = i % 2 === 0 ? [server, unswept] : [unswept, server];
        // staggered, so that each of the three wins some of the races
        const [order, released] = await Promise.all([
          placeWithHold(a, store, held.lines, held.ref),
          sleep((i % 4) * 4).then(() => release(b, held.ref)),
          i % 3 === 0 ? runOut(server.db, store.id, held.id) : Promise.resolve(),
        ]);
        return { held, order, released };
      }),
    );
    await eventually(
      async () => (await server.db.pool.query(`SELECT count(*)::int AS n FROM reservations WHERE store_id = $1 AND status = 'HELD'`, [store.id])).rows[0].n === 0,
      "every hold ended",
      10_000,
    );
    const { rows } = await server.db.pool.query(`SELECT id, status, order_id AS "orderId" FROM reservations WHERE store_id = $1`, [store.id]);
    const stored = new Map(rows.map((row) => [row.id, row]));
    const seen = new Set<string>();
    for (const { held, order, released } of outcomes) {
      const end = stored.get(held.id)!;
      seen.add(end.status);
      // the release answers the hold as it ended, whoever ended it
      expect(released.__typename).toBe("Reservation");
      expect(["CONVERTED", "RELEASED", "EXPIRED"]).toContain(end.status);
      if (end.status === "CONVERTED") {
        expect(order.__typename).toBe("Order");
        expect(end.orderId).toBe(order.id);
        expect(released.status).toBe("CONVERTED");
      } else {
        expect(end.orderId).toBeNull();
        expect(released.status).toBe(end.status);
      }
    }
    expect(seen.size).toBeGreaterThan(1);
    // every unit an order took came off the count once; nothing is held any more
    const { rows: taken } = await server.db.pool.query(
      `SELECT l.item_id AS "itemId", sum(l.quantity)::int AS units FROM order_lines l WHERE l.store_id = $1 GROUP BY l.item_id`,
      [store.id],
    );
    for (const item of items) {
      const units = taken.find((row) => row.itemId === item.id)?.units ?? 0;
      expect(await countsOf(server.db, store.id, item.id)).toMatchObject({ quantity: 100 - units, reservedQuantity: 0 });
    }
  });
});

describe("holds and low stock", () => {
  it("a hold that takes a variant to its threshold records the alert; its release re-arms it; the next hold alerts again", async () => {
    const store = await newStore();
    await setStoreThreshold(server, store, { lowStockThreshold: 2 });
    const bag = await newItem(server, store, { quantity: 5 });
    const first = await hold(server, store, [{ itemId: bag.id, quantity: 3 }]);
    expect((await alertsOf(server, store)).map((alert) => alert.availableQuantity)).toEqual([2]);
    await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    expect(await alertsOf(server, store)).toHaveLength(1);
    await release(server, first.ref);
    expect(await alertsOf(server, store)).toHaveLength(1);
    await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
    expect((await alertsOf(server, store)).map((alert) => alert.availableQuantity)).toEqual([2, 2]);
  });
});

describe("holds with accounting sync on", () => {
  let emulator: AccountingEmulator;
  beforeAll(async () => (emulator = await AccountingEmulator.start()));
  afterAll(async () => emulator?.close());

  it("work the same: a conversion commits the held units; an invoice and a sync leave reservedQuantity alone", async () => {
    const store: TestStore = await newStore();
    const mug = emulator.addItem({ reference: "HOLD-MUG", counts: { "1": 10 } });
    const other = emulator.addItem({ reference: "HOLD-CUP", counts: { "1": 6 } });
    const [item, cup] = await Promise.all(["HOLD-MUG", "HOLD-CUP"].map((sku) => newItem(server, store, { name: sku, sku, quantity: 0 })));
    const connected = await gqlData(
      server.url,
      `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { __typename } }`,
      { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } },
      store.token,
    );
    expect(connected.connectAccounting.__typename).toBe("InventorySettings");
    expect((await gqlData(server.url, `mutation { updateInventorySettings(input: { accountingSync: true }) { __typename } }`, {}, store.token)).updateInventorySettings.__typename).toBe(
      "InventorySettings",
    );
    const converted = await hold(server, store, [{ itemId: item!.id, quantity: 4 }]);
    await hold(server, store, [{ itemId: item!.id, quantity: 3 }, { itemId: cup!.id, quantity: 2 }]);
    const order = await placeWithHold(server, store, [{ itemId: item!.id, quantity: 4 }], converted.ref);
    expect(order.__typename).toBe("Order");
    expect(await countsOf(server.db, store.id, item!.id)).toMatchObject({ quantity: 10, committedQuantity: 4, reservedQuantity: 3, available: 3 });

    const invoiced = await gqlData(server.url, `mutation($orderId: ID!) { invoiceOrder(orderId: $orderId) { __typename } }`, { orderId: order.id }, store.token);
    expect(invoiced.invoiceOrder.__typename).toBe("Order");
    expect(await countsOf(server.db, store.id, item!.id)).toMatchObject({ quantity: 6, committedQuantity: 0, reservedQuantity: 3, available: 3 });
    emulator.autoNotify = false;
    await emulator.setCount(other.id, "1", 1);
    await emulator.setCount(mug.id, "1", 6);
    await gqlData(server.url, `mutation { syncInventoryNow { __typename } }`, {}, store.token);
    // the accounting count is taken as it is; the hold keeps its units (the cup's level: 1 on hand, 2 held)
    expect(await countsOf(server.db, store.id, cup!.id)).toMatchObject({ quantity: 1, reservedQuantity: 2, available: -1, availability: "SOLD_OUT" });
    expect(await countsOf(server.db, store.id, item!.id)).toMatchObject({ quantity: 6, reservedQuantity: 3 });
    expect((await reserve(server, store, [{ itemId: cup!.id, quantity: 1 }])).__typename).toBe("InsufficientStockError");
  });
});
