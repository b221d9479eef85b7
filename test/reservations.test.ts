import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.ts";
import { createOrderRateLimiter } from "../src/orders/order-rate-limit.ts";
import { gql, gqlData, newItem, startTestServer, storesWithBalancedLedgers, uniqueKey, type TestServer } from "./support/harness.ts";
import { liveClient, stockUpdates, untilLive, setQuantity } from "./support/live.ts";
import {
  countsOf,
  hold,
  movementCount,
  PLACE_WITH_HOLD,
  placeWithHold,
  post,
  release,
  releaseAsAdmin,
  reserve,
  setReservationMinutes,
  statusOf,
} from "./support/reservations.ts";
import { countStock, deleteWarehouse, mainWarehouseOf, newWarehouse, readVariant, tshirt, updateWarehouse, variantOf } from "./support/variants.ts";

/**
 * Cart holds (SPEC section 9): reserveStock keeps a cart's units for its shopper, placeOrder with
 * the hold takes them, release gives them back; the rules at their limits. Expiry, races and the
 * proofs across processes are in test/reservations-expiry.test.ts.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});
const newStore = storesWithBalancedLedgers(() => server);

const ADMIN_COUNTS = `quantity committedQuantity reservedQuantity availableQuantity availability`;
async function adminItem(store: { token: string }, id: string) {
  return (await gqlData(server.url, `query($id: ID!) { item(id: $id) { ${ADMIN_COUNTS} variants { ${ADMIN_COUNTS} stockLevels { ${ADMIN_COUNTS.replace(" availability", "")} } } } }`, { id }, store.token)).item;
}
async function publicItem(store: { slug: string }, id: string) {
  return (await gqlData(server.url, `query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { availability availableQuantity } } }`, { slug: store.slug, id })).store.item;
}

describe("reserveStock", () => {
  it("holds the units for the shopper: others see them gone (the last one held: sold out), the merchant sees them reserved, no movement, versions bumped", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { name: "Bolso", quantity: 3 });
    const started = Date.now();
    const held = await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
    expect(held.status).toBe("HELD");
    expect(held.orderId).toBeNull();
    expect(held.ref.token).toMatch(/^rs_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    // the store's default: 10 minutes
    expect(new Date(held.expiresAt).getTime() - started).toBeGreaterThan(10 * 60_000 - 5_000);
    expect(new Date(held.expiresAt).getTime() - started).toBeLessThan(10 * 60_000 + 5_000);
    expect(held.lines).toEqual([{ quantity: 2, item: { id: bag.id }, variant: { id: expect.any(String) } }]);

    expect(await publicItem(store, bag.id)).toEqual({ availability: "IN_STOCK", availableQuantity: 1 });
    const admin = await adminItem(store, bag.id);
    expect(admin).toMatchObject({ quantity: 3, committedQuantity: 0, reservedQuantity: 2, availableQuantity: 1 });
    expect(admin.variants[0]).toMatchObject({ quantity: 3, reservedQuantity: 2, availableQuantity: 1 });
    expect(admin.variants[0].stockLevels[0]).toMatchObject({ quantity: 3, reservedQuantity: 2, availableQuantity: 1 });
    expect(await movementCount(server.db, store.id, bag.id)).toBe(1); // the first count only
    expect((await countsOf(server.db, store.id, bag.id)).version).toBeGreaterThan(bag.version);

    await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    expect(await publicItem(store, bag.id)).toEqual({ availability: "SOLD_OUT", availableQuantity: 0 });
    const other = await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], null);
    expect(other.__typename).toBe("InsufficientStockError");
    expect(other.shortages).toEqual([{ itemId: bag.id, variantId: expect.any(String), requested: 1, available: 0 }]);
  });

  it("reservedQuantity is the merchant's: the public asking for it is refused, the shopper's hold answer too", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 3 });
    const asked = await gql(server.url, `query($slug: String!) { store(slug: $slug) { items { edges { node { reservedQuantity } } } } }`, { slug: store.slug });
    expect(asked.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const reserving = await gql(
      server.url,
      `mutation($store: String!, $input: ReserveStockInput!) { reserveStock(store: $store, input: $input) { ... on ReservationGrant { reservation { lines { item { reservedQuantity } } } } } }`,
      { store: store.slug, input: { lines: [{ itemId: bag.id, quantity: 1 }] } },
    );
    expect(reserving.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    // refused whole, before it ran: nothing is held
    expect((await countsOf(server.db, store.id, bag.id)).reservedQuantity).toBe(0);
  });

  it("all lines or nothing, as an order: a short line, a sold-out item, an unknown item each refuse the hold and hold nothing", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 2 });
    const hat = await newItem(server, store, { quantity: 0 });
    const short = await reserve(server, store, [{ itemId: bag.id, quantity: 1 }, { itemId: bag.id, quantity: 2 }]);
    expect(short.__typename).toBe("InsufficientStockError");
    expect(short.shortages).toEqual([{ itemId: bag.id, variantId: expect.any(String), requested: 3, available: 2 }]);
    const soldOut = await reserve(server, store, [{ itemId: bag.id, quantity: 1 }, { itemId: hat.id, quantity: 1 }]);
    expect(soldOut.__typename).toBe("InsufficientStockError");
    expect(soldOut.shortages.map((s: { itemId: string }) => s.itemId)).toEqual([hat.id]);
    const unknown = await reserve(server, store, [{ itemId: bag.id, quantity: 1 }, { itemId: randomUUID(), quantity: 1 }]);
    expect(unknown).toMatchObject({ __typename: "OperationError", code: "NOT_FOUND", field: "lines.1.itemId" });
    expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ reservedQuantity: 0, available: 2 });
    const { rows } = await server.db.pool.query(`SELECT count(*)::int AS n FROM reservations WHERE store_id = $1`, [store.id]);
    expect(rows[0].n).toBe(0);
  });

  it("services and untracked items are held without units; 'Vender sin Stock' holds past the count (BACKORDER for the others)", async () => {
    const store = await newStore();
    const service = await newItem(server, store, { type: "SERVICE" });
    const untracked = await newItem(server, store, { trackInventory: false });
    const backorder = await newItem(server, store, { quantity: 1, sellWithoutStock: true });
    const held = await hold(server, store, [
      { itemId: service.id, quantity: 3 },
      { itemId: untracked.id, quantity: 2 },
      { itemId: backorder.id, quantity: 4 },
    ]);
    expect(held.lines.map((line: { quantity: number }) => line.quantity).sort()).toEqual([2, 3, 4]);
    expect(await countsOf(server.db, store.id, service.id)).toMatchObject({ reservedQuantity: 0 });
    expect(await countsOf(server.db, store.id, untracked.id)).toMatchObject({ reservedQuantity: 0 });
    expect(await countsOf(server.db, store.id, backorder.id)).toMatchObject({ quantity: 1, reservedQuantity: 4, available: -3, availability: "BACKORDER" });
    const order = await placeWithHold(server, store, held.lines.map((line: any) => ({ itemId: line.item.id, quantity: line.quantity })), held.ref);
    expect(order.__typename).toBe("Order");
    expect(await countsOf(server.db, store.id, backorder.id)).toMatchObject({ quantity: -3, reservedQuantity: 0, available: -3 });
  });

  it("allocates across the fulfilling warehouses in ascending priority, as an order would; their levels hold the units", async () => {
    const store = await newStore();
    const main = await mainWarehouseOf(server, store);
    const north = await newWarehouse(server, store, { fulfilsOnlineOrders: true });
    const shirt = await tshirt(server, store, { "M/Negro": 2 });
    const m = variantOf(shirt, "M/Negro");
    expect((await countStock(server, store, "setItemQuantity", { itemId: shirt.id, variantId: m.id, warehouseId: north.id, quantity: 5 })).__typename).toBe("Item");
    await hold(server, store, [{ itemId: shirt.id, variantId: m.id, quantity: 4 }]);
    const variant = await gqlData(
      server.url,
      `query($id: ID!) { variant(id: $id) { reservedQuantity availableQuantity stockLevels { warehouse { id } reservedQuantity availableQuantity } } }`,
      { id: m.id },
      store.token,
    );
    expect(variant.variant.reservedQuantity).toBe(4);
    expect(variant.variant.availableQuantity).toBe(3);
    const levels = Object.fromEntries(variant.variant.stockLevels.map((l: any) => [l.warehouse.id, [l.reservedQuantity, l.availableQuantity]]));
    expect(levels).toEqual({ [main]: [2, 0], [north.id]: [2, 3] });
    // units held in a warehouse keep it from being deleted
    expect((await updateWarehouse(server, store, { id: north.id, fulfilsOnlineOrders: false })).__typename).toBe("Warehouse");
    expect(await deleteWarehouse(server, store, north.id)).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT" });
  });

  it("at most 100 lines, counted as sent (101 repeats of one item too); at most 10,000 units of a variant", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 20_000 });
    const lines = (n: number, quantity = 1) => Array.from({ length: n }, () => ({ itemId: bag.id, quantity }));
    expect((await reserve(server, store, lines(100))).__typename).toBe("ReservationGrant");
    expect(await reserve(server, store, lines(101))).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "lines" });
    expect((await reserve(server, store, lines(1, 10_000))).__typename).toBe("ReservationGrant");
    expect(await reserve(server, store, lines(1, 10_001))).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT" });
    expect(await reserve(server, store, lines(2, 5_001))).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "lines" });
    expect(await reserve(server, store, [])).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "lines" });
    expect((await countsOf(server.db, store.id, bag.id)).reservedQuantity).toBe(10_100);
  });

  it("an idempotency key answers the same hold, each answer's token opening it; other lines under it are IDEMPOTENCY_CONFLICT; racing retries make one hold", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 10 });
    const key = uniqueKey();
    const first = await hold(server, store, [{ itemId: bag.id, quantity: 2 }], { idempotencyKey: key });
    const again = await hold(server, store, [{ itemId: bag.id, quantity: 2 }], { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    expect(again.ref.token).not.toBe(first.ref.token);
    expect(await reserve(server, store, [{ itemId: bag.id, quantity: 3 }], { idempotencyKey: key })).toMatchObject({
      __typename: "OperationError",
      code: "IDEMPOTENCY_CONFLICT",
      field: "idempotencyKey",
    });
    expect((await countsOf(server.db, store.id, bag.id)).reservedQuantity).toBe(2);
    for (const ref of [first.ref, again.ref]) {
      const read = await gqlData(server.url, `query($id: ID!, $token: String) { reservation(id: $id, token: $token) { id status } }`, ref);
      expect(read.reservation).toEqual({ id: first.id, status: "HELD" });
    }

    const raceKey = uniqueKey();
    const racing = await Promise.all(Array.from({ length: 8 }, () => hold(server, store, [{ itemId: bag.id, quantity: 1 }], { idempotencyKey: raceKey })));
    expect(new Set(racing.map((held) => held.id)).size).toBe(1);
    expect((await countsOf(server.db, store.id, bag.id)).reservedQuantity).toBe(3);
    // a retry after the hold ended answers it as it is now
    await release(server, first.ref);
    expect((await hold(server, store, [{ itemId: bag.id, quantity: 2 }], { idempotencyKey: key })).status).toBe("RELEASED");
  });

  it("RESERVATIONS_OFF when the store's reservationMinutes is 0; 0 to 120 minutes; holds already HELD keep their expiry", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 5 });
    const before = await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    for (const wrong of [-1, 121]) {
      expect(await setReservationMinutes(server, store, wrong)).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "reservationMinutes" });
    }
    expect(await setReservationMinutes(server, store, 120)).toEqual({ __typename: "InventorySettings", reservationMinutes: 120 });
    const long = await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    expect(new Date(long.expiresAt).getTime() - Date.now()).toBeGreaterThan(119 * 60_000);
    expect(await setReservationMinutes(server, store, 0)).toEqual({ __typename: "InventorySettings", reservationMinutes: 0 });
    expect(await reserve(server, store, [{ itemId: bag.id, quantity: 1 }])).toMatchObject({ __typename: "OperationError", code: "RESERVATIONS_OFF" });
    const read = await gqlData(server.url, `query($id: ID!, $token: String) { reservation(id: $id, token: $token) { status expiresAt } }`, before.ref);
    expect(read.reservation).toEqual({ status: "HELD", expiresAt: before.expiresAt });
    // a hold still HELD still converts
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], before.ref)).__typename).toBe("Order");
  });
});

describe("the cap of active holds per client and store", () => {
  let limited: TestServer;
  beforeAll(async () => {
    // behind one trusted proxy, so that each test names its clients; the order rate limit is off
    limited = await startTestServer({ config: { trustProxy: 1 } });
  });
  afterAll(async () => limited?.close());
  const as = (client: string) => ({ "x-forwarded-for": client });

  it("a sixth active hold is INVALID_INPUT naming the limit, with the rate limit off; another client or store is not held back; a hold ended frees its place", async () => {
    const store = await newStore();
    const other = await newStore();
    const bag = await newItem(limited, store, { quantity: 100 });
    const bag2 = await newItem(limited, other, { quantity: 100 });
    const line = [{ itemId: bag.id, quantity: 1 }];
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await hold(limited, store, line, {}, as("203.0.113.7")));
    const sixth = await reserve(limited, store, line, {}, as("203.0.113.7"));
    expect(sixth).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT" });
    expect(sixth.message).toContain("at most 5");
    expect((await reserve(limited, store, line, {}, as("203.0.113.8"))).__typename).toBe("ReservationGrant");
    expect((await reserve(limited, other, [{ itemId: bag2.id, quantity: 1 }], {}, as("203.0.113.7"))).__typename).toBe("ReservationGrant");
    await release(limited, held[0]!.ref);
    expect((await reserve(limited, store, line, {}, as("203.0.113.7"))).__typename).toBe("ReservationGrant");
    // a converted one frees its place too
    expect((await placeWithHold(limited, store, line, held[1]!.ref)).__typename).toBe("Order");
    expect((await reserve(limited, store, line, {}, as("203.0.113.7"))).__typename).toBe("ReservationGrant");
    expect((await reserve(limited, store, line, {}, as("203.0.113.7"))).__typename).toBe("OperationError");
    expect((await countsOf(limited.db, store.id, bag.id)).reservedQuantity).toBe(6);
  });

  it("twelve holds racing from one client: exactly five are made", async () => {
    const store = await newStore();
    const bag = await newItem(limited, store, { quantity: 100 });
    const answers = await Promise.all(Array.from({ length: 12 }, () => reserve(limited, store, [{ itemId: bag.id, quantity: 1 }], {}, as("198.51.100.4"))));
    expect(answers.filter((answer) => answer.__typename === "ReservationGrant")).toHaveLength(5);
    expect(answers.filter((answer) => answer.__typename === "OperationError" && answer.code === "INVALID_INPUT")).toHaveLength(7);
    expect((await countsOf(limited.db, store.id, bag.id)).reservedQuantity).toBe(5);
  });

  it("reserveStock counts a request of the placeOrder budget of its client", async () => {
    const orderRateLimiter = createOrderRateLimiter({ perMinute: 2, logger: createLogger("silent"), now: () => 30_000 });
    const rated = await startTestServer({ orderRateLimiter, config: { trustProxy: 1 } });
    try {
      const store = await newStore();
      const bag = await newItem(rated, store, { quantity: 10 });
      const line = [{ itemId: bag.id, quantity: 1 }];
      expect((await reserve(rated, store, line, {}, as("192.0.2.9"))).__typename).toBe("ReservationGrant");
      const order = await post(rated, PLACE_WITH_HOLD, { store: store.slug, input: { lines: line } }, as("192.0.2.9"));
      expect(order.data.placeOrder.__typename).toBe("Order");
      const third = await post(rated, `mutation($store: String!, $input: ReserveStockInput!) { reserveStock(store: $store, input: $input) { __typename } }`, { store: store.slug, input: { lines: line } }, as("192.0.2.9"));
      expect(third.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
      // another client's budget is its own
      expect((await reserve(rated, store, line, {}, as("192.0.2.10"))).__typename).toBe("ReservationGrant");
      expect((await countsOf(rated.db, store.id, bag.id)).reservedQuantity).toBe(2);
    } finally {
      await rated.close();
    }
  });
});

describe("placeOrder with a hold", () => {
  it("takes the held units first, even when no one else could have them; ends the hold CONVERTED with its order", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 2 });
    const held = await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], null)).__typename).toBe("InsufficientStockError");
    const order = await placeWithHold(server, store, [{ itemId: bag.id, quantity: 2 }], held.ref);
    expect(order.__typename).toBe("Order");
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "CONVERTED", orderId: order.id });
    const read = await gqlData(server.url, `query($id: ID!, $token: String) { reservation(id: $id, token: $token) { status orderId } }`, held.ref);
    expect(read.reservation).toEqual({ status: "CONVERTED", orderId: order.id });
    expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 0, reservedQuantity: 0, available: 0, availability: "SOLD_OUT" });
  });

  it("what the hold kept that the order does not take goes back in the same transaction; units beyond the hold come from the free stock", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 10 });
    const hat = await newItem(server, store, { quantity: 4 });
    const held = await hold(server, store, [{ itemId: bag.id, quantity: 3 }, { itemId: hat.id, quantity: 2 }]);
    const order = await placeWithHold(server, store, [{ itemId: bag.id, quantity: 5 }], held.ref);
    expect(order.__typename).toBe("Order");
    expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 5, reservedQuantity: 0, available: 5 });
    expect(await countsOf(server.db, store.id, hat.id)).toMatchObject({ quantity: 4, reservedQuantity: 0, available: 4 });
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "CONVERTED" });
  });

  it("a hold no longer HELD, a wrong token, another store's hold: the order is placed as one without a hold would be", async () => {
    const store = await newStore();
    const other = await newStore();
    const bag = await newItem(server, store, { quantity: 3 });
    const elsewhere = await newItem(server, other, { quantity: 3 });
    const released = await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    await release(server, released.ref);
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], released.ref)).__typename).toBe("Order");
    expect(await statusOf(server.db, store.id, released.id)).toMatchObject({ status: "RELEASED", orderId: null });

    const held = await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
    const wrong = { id: held.id, token: `${held.ref.token.slice(0, -4)}AAAA` };
    // the two units are held for someone else: without the hold there is none to take
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], wrong)).__typename).toBe("InsufficientStockError");
    const foreign = await hold(server, other, [{ itemId: elsewhere.id, quantity: 1 }]);
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], foreign.ref)).__typename).toBe("InsufficientStockError");
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "HELD" });
    expect(await statusOf(server.db, other.id, foreign.id)).toMatchObject({ status: "HELD" });

    // converted already: a second order with it is an ordinary one
    const first = await placeWithHold(server, store, [{ itemId: bag.id, quantity: 2 }], held.ref);
    expect(first.__typename).toBe("Order");
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], held.ref)).__typename).toBe("InsufficientStockError");
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "CONVERTED", orderId: first.id });
  });

  it("a recount below the held units keeps the hold HELD (the level's available negative, nobody else can order); its conversion is short as any order, and a refused one leaves it HELD", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 5 });
    const held = await hold(server, store, [{ itemId: bag.id, quantity: 4 }]);
    expect((await setQuantity(server, store, bag.id, 2)).__typename).toBe("Item");
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "HELD" });
    const admin = await adminItem(store, bag.id);
    expect(admin).toMatchObject({ quantity: 2, reservedQuantity: 4, availableQuantity: -2, availability: "SOLD_OUT" });
    expect(admin.variants[0].stockLevels[0]).toMatchObject({ quantity: 2, reservedQuantity: 4, availableQuantity: -2 });
    expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 1 }], null)).__typename).toBe("InsufficientStockError");

    const short = await placeWithHold(server, store, [{ itemId: bag.id, quantity: 4 }], held.ref);
    expect(short.__typename).toBe("InsufficientStockError");
    expect(short.shortages).toEqual([{ itemId: bag.id, variantId: expect.any(String), requested: 4, available: 2 }]);
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "HELD" });
    expect((await countsOf(server.db, store.id, bag.id)).reservedQuantity).toBe(4);

    const order = await placeWithHold(server, store, [{ itemId: bag.id, quantity: 2 }], held.ref);
    expect(order.__typename).toBe("Order");
    expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 0, reservedQuantity: 0, available: 0 });
  });

  it("a hold of a size takes that size's held units from the warehouses it holds them in, the others' free stock untouched", async () => {
    const store = await newStore();
    const north = await newWarehouse(server, store, { fulfilsOnlineOrders: true });
    const shirt = await tshirt(server, store, { "M/Negro": 1, "L/Negro": 2 });
    const m = variantOf(shirt, "M/Negro");
    const l = variantOf(shirt, "L/Negro");
    await countStock(server, store, "setItemQuantity", { itemId: shirt.id, variantId: m.id, warehouseId: north.id, quantity: 1 });
    const held = await hold(server, store, [{ itemId: shirt.id, variantId: m.id, quantity: 2 }]);
    expect((await readVariant(server, store, m.id)).availability).toBe("SOLD_OUT");
    const order = await placeWithHold(server, store, [{ itemId: shirt.id, variantId: m.id, quantity: 2 }, { itemId: shirt.id, variantId: l.id, quantity: 1 }], held.ref);
    expect(order.__typename).toBe("Order");
    const after = await adminItem(store, shirt.id);
    expect(after).toMatchObject({ quantity: 1, reservedQuantity: 0, availableQuantity: 1 });
  });
});

describe("releasing a hold", () => {
  it("with its token gives the units back at once; releasing again changes nothing and answers it as it is", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 1 });
    const held = await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    const released = await release(server, held.ref);
    expect(released).toMatchObject({ __typename: "Reservation", id: held.id, status: "RELEASED", orderId: null });
    expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ reservedQuantity: 0, available: 1, availability: "IN_STOCK" });
    const version = (await countsOf(server.db, store.id, bag.id)).version;
    expect(await release(server, held.ref)).toEqual(released);
    expect((await countsOf(server.db, store.id, bag.id)).version).toBe(version);
  });

  it("a wrong token answers exactly as an unknown id, RESERVATION_NOT_FOUND, and releases nothing; the query answers null for both", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 1 });
    const held = await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    const wrongToken = await release(server, { id: held.id, token: `${held.ref.token.slice(0, -4)}AAAA` });
    const unknownId = await release(server, { id: randomUUID(), token: held.ref.token });
    const notAToken = await release(server, { id: held.id, token: "nonsense" });
    const notAnId = await release(server, { id: "42", token: held.ref.token });
    expect(wrongToken).toEqual({ __typename: "OperationError", code: "RESERVATION_NOT_FOUND", message: expect.any(String), field: "id" });
    for (const answer of [unknownId, notAToken, notAnId]) expect(answer).toEqual(wrongToken);
    expect(await statusOf(server.db, store.id, held.id)).toMatchObject({ status: "HELD" });
    const read = (ref: { id: string; token: string }) =>
      gqlData(server.url, `query($id: ID!, $token: String) { reservation(id: $id, token: $token) { id } }`, ref);
    expect((await read({ id: held.id, token: `${held.ref.token.slice(0, -4)}AAAA` })).reservation).toBeNull();
    expect((await read({ id: randomUUID(), token: held.ref.token })).reservation).toBeNull();
    expect((await read(held.ref)).reservation).toEqual({ id: held.id });
  });

  it("by the merchant: releaseReservationAsAdmin and the store's list; another store's admin gets NOT_FOUND and null", async () => {
    const store = await newStore();
    const other = await newStore();
    const bag = await newItem(server, store, { quantity: 5 });
    const first = await hold(server, store, [{ itemId: bag.id, quantity: 1 }]);
    const second = await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
    const list = async (token: string, status?: string) =>
      (await gqlData(server.url, `query($status: ReservationStatus) { reservations(status: $status) { edges { node { id status lines { quantity } } } } }`, { status }, token))
        .reservations.edges.map((edge: any) => edge.node);
    expect((await list(store.token)).map((node: any) => node.id)).toEqual([second.id, first.id]);
    expect(await list(other.token)).toEqual([]);
    expect(await releaseAsAdmin(server, other, first.id)).toMatchObject({ __typename: "OperationError", code: "NOT_FOUND" });
    const byAdmin = await gqlData(server.url, `query($id: ID!) { reservation(id: $id) { id status } }`, { id: first.id }, store.token);
    expect(byAdmin.reservation).toEqual({ id: first.id, status: "HELD" });
    const byOther = await gqlData(server.url, `query($id: ID!) { reservation(id: $id) { id } }`, { id: first.id }, other.token);
    expect(byOther.reservation).toBeNull();
    expect(await statusOf(server.db, store.id, first.id)).toMatchObject({ status: "HELD" });

    expect(await releaseAsAdmin(server, store, first.id)).toMatchObject({ __typename: "Reservation", status: "RELEASED" });
    expect((await list(store.token, "HELD")).map((node: any) => node.id)).toEqual([second.id]);
    expect((await list(store.token, "RELEASED")).map((node: any) => node.id)).toEqual([first.id]);
    expect(await countsOf(server.db, store.id, bag.id)).toMatchObject({ reservedQuantity: 2, available: 3 });
    const unauthenticated = await gql(server.url, `mutation($id: ID!) { releaseReservationAsAdmin(id: $id) { __typename } }`, { id: second.id });
    expect(unauthenticated.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("the export's reservada column is each level's held units", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 5, sku: `RES-${uniqueKey()}` });
    await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
    const csv = await (await fetch(`${server.url}/admin/inventory.csv`, { headers: { authorization: `Bearer ${store.token}` } })).text();
    const [header, row] = csv.trim().split(/\r\n/);
    expect(header).toBe("sku,producto,variante,bodega,bodega_id,cantidad,comprometida,reservada,disponible");
    expect(row!.split(",").slice(-4)).toEqual(["5", "0", "2", "3"]);
  });
});

describe("live updates of holds", () => {
  it("a hold, a release and a conversion each push a StockUpdate after COMMIT with the available units", async () => {
    const store = await newStore();
    const bag = await newItem(server, store, { quantity: 3 });
    const client = liveClient(server.url);
    try {
      const live = stockUpdates(client, store.slug, [bag.id]);
      let probe = 3;
      await untilLive(live, () => setQuantity(server, store, bag.id, probe++ % 2 === 0 ? 3 : 4));
      await setQuantity(server, store, bag.id, 3);
      await live.until((updates) => updates.at(-1)?.availableQuantity === 3, "the count of 3");
      live.updates.splice(0);

      const held = await hold(server, store, [{ itemId: bag.id, quantity: 3 }]);
      await live.until((updates) => updates.some((u) => u.availableQuantity === 0 && u.availability === "SOLD_OUT"), "the hold: sold out");
      await release(server, held.ref);
      await live.until((updates) => updates.at(-1)?.availableQuantity === 3, "the release: 3 back");
      const again = await hold(server, store, [{ itemId: bag.id, quantity: 2 }]);
      await live.until((updates) => updates.at(-1)?.availableQuantity === 1, "the second hold");
      expect((await placeWithHold(server, store, [{ itemId: bag.id, quantity: 2 }], again.ref)).__typename).toBe("Order");
      await live.until((updates) => updates.at(-1)?.availableQuantity === 1 && updates.at(-1)!.version > updates.at(-2)!.version, "the conversion");
      const versions = live.updates.map((update) => update.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      live.close();
    } finally {
      await client.dispose();
    }
  });
});
