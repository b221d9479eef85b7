import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { inTransaction } from "../src/db/transaction.ts";
import { createLogger } from "../src/logger.ts";
import { LocalStockEvents } from "../src/realtime/local-events.ts";
import { RedisStockEvents } from "../src/realtime/redis-events.ts";
import type { StockEventPublisher } from "../src/realtime/stock-events.ts";
import { changeStock } from "../src/stock/stock-ledger.ts";
import { databaseUrl, mainLevelOf, newItem, newStore, placeOrder, startTestServer, stockOf, type TestStore } from "./support/harness.ts";
import {
  adjustQuantity,
  availabilityChanges,
  channelSubscribers,
  eventually,
  launchRedisServer,
  liveClient,
  redisForTests,
  redisServerInstalled,
  setOutOfStockBehavior,
  setQuantity,
  sleep,
  stockUpdates,
  subscribe,
  untilLive,
  waitForChannelSubscribers,
} from "./support/live.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { countStock, tshirt, variantOf } from "./support/variants.ts";

/** SPEC section 5: live stock and sold-out updates over graphql-ws, across processes through Redis. */

const redisUrl = inject("redisUrl");
const redisUp = await redisForTests(redisUrl, "the live-update tests through Redis");

const logger = createLogger("silent");
let db: Database;
const cleanups: (() => unknown)[] = [];
beforeAll(() => {
  db = openDatabase(databaseUrl(), { poolSize: 2, logger });
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await db.close();
});

async function serverProcess(env: Record<string, string | undefined>) {
  const server = await startServerProcess(env);
  cleanups.push(() => server.stop());
  return server;
}

function client(server: { url: string }) {
  const live = liveClient(server.url);
  cleanups.push(() => live.dispose());
  return live;
}

function redisClient(url: string) {
  const redis = new Redis(url);
  redis.on("error", () => {});
  cleanups.push(() => redis.disconnect());
  return redis;
}

/** Commits (or rolls back) an adjustment the way every mutation does: through `inTransaction`. */
async function adjustThrough(publisher: StockEventPublisher, store: TestStore, itemId: string, delta: number, outcome: "commit" | "rollback") {
  return inTransaction(db.pool, publisher, async (tx) => {
    const level = await mainLevelOf(db, store.id, itemId);
    const { variants: [changed] } = await changeStock(tx, store.id, [{ ...level, addQuantity: delta }], { keepAvailableNonNegative: true, refuseWhenSynced: true }, { reason: "MANUAL_ADJUSTMENT" });
    if (outcome === "rollback") throw new Error("rolled back on purpose");
    return changed!;
  });
}

describe("live updates in one process, without Redis", () => {
  it("a subscriber sees every committed change of its item, and the SOLD_OUT, in version order", async () => {
    const server = await serverProcess({ REDIS_URL: undefined });
    const store = await newStore(db);
    const item = await newItem(server, store, { quantity: 10 });
    const live = stockUpdates(client(server), store.slug, [item.id]);
    await untilLive(live, () => adjustQuantity(server, store, item.id, -1));

    const { version } = await stockOf(db, store.id, item.id);
    await adjustQuantity(server, store, item.id, -2);
    const order = await placeOrder(server, store, [{ itemId: item.id, quantity: (await stockOf(db, store.id, item.id)).quantity }]);
    expect(order.__typename).toBe("Order");

    await live.until((updates) => updates.length >= 2, "two updates");
    expect(live.updates).toEqual([
      { itemId: item.id, availability: "IN_STOCK", availableQuantity: expect.any(Number), version: version + 1, at: expect.any(String) },
      { itemId: item.id, availability: "SOLD_OUT", availableQuantity: 0, version: version + 2, at: expect.any(String) },
    ]);
    expect(Date.parse(live.updates[1]!.at)).toBeGreaterThanOrEqual(Date.parse(live.updates[0]!.at));
  });

  it("nothing is pushed for a change that rolls back; the next committed one is", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const store = await newStore(db);
    const item = await newItem(server, store, { quantity: 5 });
    const live = stockUpdates(client(server), store.slug);
    const bus = server.deps.stockEvents as LocalStockEvents;
    await eventually(() => bus.hasListeners(store.id), "the subscription to be in place");

    await expect(adjustThrough(server.deps.publisher, store, item.id, -1, "rollback")).rejects.toThrow("rolled back on purpose");
    const committed = await adjustThrough(server.deps.publisher, store, item.id, -2, "commit");

    await live.until((updates) => updates.length >= 1, "the committed change");
    expect(live.updates).toEqual([expect.objectContaining({ itemId: item.id, availableQuantity: 3, version: committed.version })]);
  });

  it("availabilityChanges fires when one size sells out while the item still sells, and when the last one does; not for plain counts", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const store = await newStore(db);
    const shirt = await tshirt(server, store, { "S/Negro": 1, "M/Negro": 2 });
    const [small, medium] = [variantOf(shirt, "S/Negro").id, variantOf(shirt, "M/Negro").id];
    const live = subscribe(
      client(server),
      `subscription($store: String!) { availabilityChanges(store: $store) { itemId availability variantId variantAvailability } }`,
      { store: store.slug },
    );
    await eventually(() => (server.deps.stockEvents as LocalStockEvents).hasListeners(store.id), "the subscription to be in place");

    for (const [variantId, delta] of [[medium, -1], [small, -1], [medium, -1]] as const) {
      expect((await countStock(server, store, "adjustItemQuantity", { itemId: shirt.id, variantId, delta })).__typename).toBe("Item");
    }
    await live.until((updates) => updates.length >= 2, "two availability changes");
    await sleep(200);
    expect(live.updates).toEqual([
      { itemId: shirt.id, availability: "IN_STOCK", variantId: small, variantAvailability: "SOLD_OUT" },
      { itemId: shirt.id, availability: "SOLD_OUT", variantId: medium, variantAvailability: "SOLD_OUT" },
    ]);
  });

  it("a subscription to a store that does not exist is NOT_FOUND", async () => {
    const server = await serverProcess({ REDIS_URL: undefined });
    const live = stockUpdates(client(server), "no-such-store");
    await eventually(() => live.errors.length > 0 || live.completed, "an answer");
    expect(live.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: "NOT_FOUND" }) })]);
    expect(live.updates).toEqual([]);
  });
});

describe.skipIf(!redisUp)("live updates across processes through Redis", () => {
  let one: ServerProcess;
  let two: ServerProcess;
  let redis: Redis;
  beforeAll(async () => {
    [one, two] = await Promise.all([serverProcess({ REDIS_URL: redisUrl }), serverProcess({ REDIS_URL: redisUrl })]);
    redis = redisClient(redisUrl);
  });

  it("a subscriber on one process sees the changes and the SOLD_OUT made through another, in version order", async () => {
    const store = await newStore(db);
    const item = await newItem(one, store, { quantity: 3 });
    const live = stockUpdates(client(two), store.slug);
    await waitForChannelSubscribers(redis, store.id, 1);

    expect((await adjustQuantity(one, store, item.id, -1)).availableQuantity).toBe(2);
    expect((await placeOrder(one, store, [{ itemId: item.id, quantity: 2 }])).__typename).toBe("Order");

    await live.until((updates) => updates.length >= 2, "two updates");
    expect(live.updates).toEqual([
      { itemId: item.id, availability: "IN_STOCK", availableQuantity: 2, version: item.version + 1, at: expect.any(String) },
      { itemId: item.id, availability: "SOLD_OUT", availableQuantity: 0, version: item.version + 2, at: expect.any(String) },
    ]);
  });

  it("a subscriber gets only its own store's updates, and only the items it asked for", async () => {
    const [storeA, storeB] = [await newStore(db), await newStore(db)];
    const [a1, a2, b1] = [await newItem(one, storeA, { quantity: 5 }), await newItem(one, storeA, { quantity: 5 }), await newItem(one, storeB, { quantity: 5 })];
    const live = client(two);
    const onlyA2 = stockUpdates(live, storeA.slug, [a2.id]);
    const allOfB = stockUpdates(live, storeB.slug);
    await waitForChannelSubscribers(redis, storeA.id, 1);
    await waitForChannelSubscribers(redis, storeB.id, 1);

    // Changes reach process two in the order they were published: had a1's or store A's
    // updates leaked, they would arrive before the ones awaited here.
    await adjustQuantity(one, storeA, a1.id, -1);
    await adjustQuantity(one, storeA, a2.id, -1);
    await adjustQuantity(one, storeB, b1.id, -1);
    await onlyA2.until((updates) => updates.length >= 1, "store A's item a2");
    await allOfB.until((updates) => updates.length >= 1, "store B's item");
    expect(onlyA2.updates.map((update) => update.itemId)).toEqual([a2.id]);
    expect(allOfB.updates.map((update) => update.itemId)).toEqual([b1.id]);
  });

  it("availabilityChanges fires once per transition, HIDDEN included, and not for plain count changes", async () => {
    const store = await newStore(db);
    const item = await newItem(one, store, { quantity: 2 });
    const live = availabilityChanges(client(two), store.slug);
    await waitForChannelSubscribers(redis, store.id, 1);

    await adjustQuantity(one, store, item.id, -1); // 1 left: no transition
    await setQuantity(one, store, item.id, 0); // SOLD_OUT
    await setQuantity(one, store, item.id, 0); // still SOLD_OUT
    await adjustQuantity(one, store, item.id, 3); // IN_STOCK
    await adjustQuantity(one, store, item.id, 1); // more of it: no transition
    await setQuantity(one, store, item.id, 0); // SOLD_OUT
    await setOutOfStockBehavior(one, store, "HIDE"); // HIDDEN
    await adjustQuantity(one, store, item.id, 1); // IN_STOCK

    await live.until((updates) => updates.length >= 5, "five transitions");
    expect(live.updates.map((update) => update.availability)).toEqual(["SOLD_OUT", "IN_STOCK", "SOLD_OUT", "HIDDEN", "IN_STOCK"]);
    expect(live.updates.map((update) => update.version)).toEqual([2, 4, 6, 7, 8].map((n) => item.version + n));
  });

  it("nothing arrives for a refused order, a stale compare-and-set or a rolled-back change", async () => {
    const store = await newStore(db);
    const item = await newItem(one, store, { quantity: 1 });
    const live = stockUpdates(client(two), store.slug);
    await waitForChannelSubscribers(redis, store.id, 1);
    // this test process publishes through Redis as a third process would
    const bus = new RedisStockEvents(redisUrl, logger);
    cleanups.push(() => bus.close());

    expect((await placeOrder(one, store, [{ itemId: item.id, quantity: 2 }])).__typename).toBe("InsufficientStockError");
    expect(await setQuantity(one, store, item.id, 9, 7)).toMatchObject({ code: "STALE_QUANTITY" });
    await expect(adjustThrough(bus, store, item.id, 5, "rollback")).rejects.toThrow("rolled back on purpose");
    const committed = await adjustThrough(bus, store, item.id, 1, "commit");

    await live.until((updates) => updates.length >= 1, "the committed change");
    expect(live.updates).toEqual([expect.objectContaining({ itemId: item.id, availableQuantity: 2, version: committed.version })]);
    expect(committed.version).toBe(item.version + 1);
  });

  it("a process listens to a store's channel while it has subscribers of that store, and stops after the last leaves", async () => {
    const store = await newStore(db);
    const item = await newItem(one, store, { quantity: 100 });
    const [first, second] = [client(two), client(two)];
    stockUpdates(first, store.slug);
    await waitForChannelSubscribers(redis, store.id, 1);
    const late = stockUpdates(second, store.slug, [item.id]);
    await untilLive(late, () => adjustQuantity(one, store, item.id, -1));

    await first.dispose(); // its socket closes: its subscription ends, the other one keeps the channel
    await sleep(200);
    expect(await channelSubscribers(redis, store.id)).toBe(1);
    const { version } = await adjustQuantity(one, store, item.id, -1);
    await late.until((updates) => updates.some((update) => update.version === version), "the change after the first left");

    late.close();
    await waitForChannelSubscribers(redis, store.id, 0);
  });
});

describe.skipIf(!redisServerInstalled() && process.env.CI !== "true")("when Redis goes away and comes back", () => {
  it("mutations go on succeeding, and subscribers resume receiving, the version showing what they missed", async () => {
    const redisServer = await launchRedisServer();
    cleanups.push(() => redisServer.stop());
    const [one, two] = await Promise.all([serverProcess({ REDIS_URL: redisServer.url }), serverProcess({ REDIS_URL: redisServer.url })]);
    const store = await newStore(db);
    const item = await newItem(one, store, { quantity: 100 });
    const live = stockUpdates(client(two), store.slug, [item.id]);
    await waitForChannelSubscribers(redisClient(redisServer.url), store.id, 1);
    const before = await adjustQuantity(one, store, item.id, -1);
    await live.until((updates) => updates.length === 1, "an update while Redis is up");

    await redisServer.stop();
    for (let n = 0; n < 3; n++) {
      const started = Date.now();
      expect(await adjustQuantity(one, store, item.id, -1)).toMatchObject({ __typename: "Item" });
      expect((await placeOrder(one, store, [{ itemId: item.id, quantity: 1 }])).__typename).toBe("Order");
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    expect(await stockOf(db, store.id, item.id)).toMatchObject({ quantity: 93, version: before.version + 6 });

    await redisServer.start(); // on the same port
    await waitForChannelSubscribers(redisClient(redisServer.url), store.id, 1, 20_000);
    // process one's publisher reconnects on its own schedule: change until an update gets through
    await eventually(
      async () => {
        await adjustQuantity(one, store, item.id, -1);
        await sleep(200);
        return live.updates.length > 1;
      },
      "an update after Redis came back",
      20_000,
    );
    const resumed = live.updates[1]!;
    expect(resumed.version).toBeGreaterThan(before.version + 6); // a gap: re-query what was missed
  });
});
