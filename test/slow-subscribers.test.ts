import { insertBulkItems } from "./support/bulk-items.ts";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { OperationError } from "../src/errors.ts";
import { LocalStockEvents } from "../src/realtime/local-events.ts";
import type { StockEvent } from "../src/realtime/stock-events.ts";
import { MAX_WAITING_VARIANTS, streamStockUpdates, SubscriberTooSlowError } from "../src/realtime/stock-update-stream.ts";
import { adjustItemQuantity } from "../src/stock/counts.ts";
import { createItem } from "../src/stock/items.ts";
import { databaseUrl, newItem, newStore, startTestServer, type TestStore } from "./support/harness.ts";
import {
  adjustQuantity,
  eventually,
  liveClient,
  rawSubscription,
  redisForTests,
  residentBytes,
  setOutOfStockBehavior,
  sleep,
  stockUpdates,
  waitForChannelSubscribers,
  channelSubscribers,
} from "./support/live.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";

/** SPEC section 5: a slow subscriber must not slow others or grow memory without bound. */

const redisUrl = inject("redisUrl");
const redisUp = await redisForTests(redisUrl, "the slow-subscriber tests");

const logger = createLogger("silent");
let db: Database;
beforeAll(() => {
  db = openDatabase(databaseUrl(), { poolSize: 2, logger });
});
afterAll(() => db.close());

async function serverProcess(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess({ REDIS_URL: redisUrl, ...env });
  onTestFinished(async () => {
    await server.stop();
  });
  return server;
}

/** Many sold-out items at once (test/support/bulk-items.ts). */
async function addSoldOutItems(store: TestStore, count: number) {
  await insertBulkItems(db.pool, store.id, count, 0, { name: "Agotado" });
}

describe.skipIf(!redisUp)("a subscriber that stops reading", () => {
  const FAST_SUBSCRIBERS = 999;
  const SOCKETS = 20;
  const BULK_ITEMS = 2_000;
  const ROUNDS = 30;

  it("does not delay 999 other subscribers of the process, nor make its memory grow, and gets the newest per item when it reads again", async () => {
    const server = await serverProcess({
      // long enough for the stalled socket to stay through the test (the next test drops one)
      WS_KEEPALIVE_MS: "120000",
      // A heap limit makes V8 collect garbage promptly instead of letting it pile up to
      // whatever it likes, so that RSS shows what the process keeps; a leak would exhaust it.
      NODE_OPTIONS: "--max-old-space-size=160",
    });
    const store = await newStore(db);
    const watched = await newItem(server, store, { quantity: 1_000_000 });
    await addSoldOutItems(store, BULK_ITEMS);

    const stalled = await rawSubscription(
      server.url,
      `subscription($store: String!) { stockUpdates(store: $store) { itemId availability availableQuantity version at } }`,
      { store: store.slug },
    );
    const clients = Array.from({ length: SOCKETS }, () => liveClient(server.url));
    onTestFinished(async () => {
      await Promise.all(clients.map((client) => client.dispose()));
    });
    const fast = Array.from({ length: FAST_SUBSCRIBERS }, (_, n) => stockUpdates(clients[n % SOCKETS]!, store.slug, [watched.id]));
    let probe = 0;
    await eventually(
      async () => {
        probe = (await adjustQuantity(server, store, watched.id, -1)).version;
        await sleep(200);
        return stalled.updates.length > 0 && fast.every((subscription) => subscription.updates.length > 0);
      },
      "all 1,000 subscriptions to be in place",
      20_000,
    );
    await eventually(() => fast.every((subscription) => subscription.updates.at(-1)?.version === probe), "the last probing change");
    stalled.stopReading();
    for (const subscription of fast) subscription.updates.splice(0);
    const memoryBefore = residentBytes(server.child.pid!);

    // Each round changes every bulk item (which only the stalled subscriber asked for), then the watched one.
    const versions: number[] = [];
    const delays: number[] = [];
    const memory: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await setOutOfStockBehavior(server, store, round % 2 === 0 ? "HIDE" : "MARK_SOLD_OUT");
      const changed = Date.now();
      const { version } = await adjustQuantity(server, store, watched.id, -1);
      versions.push(version);
      await eventually(() => fast.every((subscription) => subscription.updates.at(-1)?.version === version), `round ${round} at every fast subscriber`);
      delays.push(Date.now() - changed);
      memory.push(residentBytes(server.child.pid!));
    }

    for (const subscription of fast) expect(subscription.updates.map((update) => update.version)).toEqual(versions);
    // the mutation's own round trip included; typically 100-300 ms, more on a loaded two-core machine
    expect(Math.max(...delays)).toBeLessThan(3_000);
    expect(Math.max(...memory) - memoryBefore).toBeLessThan(48 * 1024 * 1024);

    // Reading again, the stalled subscriber catches up on the newest version of every item,
    // sent far fewer messages than the ROUNDS x BULK_ITEMS changes.
    stalled.resumeReading();
    const newestVersion = new Map<string, number>();
    let sent = 0;
    await eventually(
      () => {
        for (const update of stalled.updates.splice(0)) {
          sent++;
          newestVersion.set(update.itemId as string, update.version as number);
        }
        return [...newestVersion.values()].filter((version) => version === 1 + ROUNDS).length === BULK_ITEMS;
      },
      "the stalled subscriber to catch up",
      20_000,
    );
    expect(newestVersion.get(watched.id)).toBe(versions.at(-1));
    expect(sent).toBeLessThan((ROUNDS * BULK_ITEMS) / 2);
    stalled.close();
  }, 120_000); // about 20 s on an idle two-core machine

  it("a socket that stops answering pings is dropped with its subscriptions; one that answers stays", async () => {
    const server = await serverProcess({ WS_KEEPALIVE_MS: "1000" });
    const redis = new Redis(redisUrl);
    onTestFinished(() => redis.disconnect());
    const [deadStore, liveStore] = [await newStore(db), await newStore(db)];
    const dead = await rawSubscription(server.url, `subscription($store: String!) { availabilityChanges(store: $store) { itemId } }`, { store: deadStore.slug });
    const client = liveClient(server.url);
    onTestFinished(() => client.dispose());
    const live = stockUpdates(client, liveStore.slug);
    await waitForChannelSubscribers(redis, deadStore.id, 1);
    await waitForChannelSubscribers(redis, liveStore.id, 1);

    dead.stopReading();
    await waitForChannelSubscribers(redis, deadStore.id, 0, 5_000);
    expect(await channelSubscribers(redis, liveStore.id)).toBe(1);
    expect(live.errors).toEqual([]);
    dead.close();
  });
});

describe("a subscriber further behind than its buffer holds", () => {
  it("is ended with SUBSCRIBER_TOO_SLOW, and its server stops listening for it", async () => {
    const server = await startTestServer();
    onTestFinished(() => server.close());
    const store = await newStore(db);
    await addSoldOutItems(store, MAX_WAITING_VARIANTS + 2);
    const client = liveClient(server.url);
    onTestFinished(() => client.dispose());
    const live = stockUpdates(client, store.slug);
    const bus = server.deps.stockEvents as LocalStockEvents;
    await eventually(() => bus.hasListeners(store.id), "the subscription to be in place");

    // one transaction changes more items than a subscription may have waiting
    await setOutOfStockBehavior(server, store, "HIDE");
    await eventually(() => live.errors.length > 0, "the subscription to end");
    expect(live.errors).toEqual([expect.objectContaining({ extensions: { code: "SUBSCRIBER_TOO_SLOW" } })]);
    expect(bus.hasListeners(store.id)).toBe(false);
  });
});

describe("a stalled subscriber of an item sold in sizes", () => {
  it("gets each size's own newest update when it reads again, not only the last size that changed", async () => {
    const server = await startTestServer();
    onTestFinished(() => server.close());
    const store = await newStore(db);
    const shirt = await createItem(server.deps, store.id, {
      name: "Camiseta",
      type: "PRODUCT",
      price: "45000",
      options: [{ name: "Talla", values: ["S", "M", "L"] }],
      variants: ["S", "M", "L"].map((size) => ({ options: [{ name: "Talla", value: size }], quantity: 3 })),
    });
    if (shirt instanceof OperationError) throw shirt;
    const variantOf = async (size: string) =>
      (await db.pool.query<{ id: string }>(`SELECT id FROM variants WHERE item_id = $1 AND options->0->>'value' = $2`, [shirt.id, size])).rows[0]!.id;
    const [m, l] = [await variantOf("M"), await variantOf("L")];
    const stalled = streamStockUpdates(server.deps.stockEvents, { storeId: store.id });
    onTestFinished(() => void stalled.return!());

    // it reads nothing while M sells out and L sells one unit
    for (const change of [
      { variantId: m, delta: -1 },
      { variantId: l, delta: -1 },
      { variantId: m, delta: -2 },
    ]) {
      expect(await adjustItemQuantity(server.deps, store.id, { itemId: shirt.id, ...change })).not.toBeInstanceOf(OperationError);
    }
    // the service's publisher hands a turn's events on at the end of the turn (inCommitOrder)
    await new Promise(setImmediate);

    const first = (await stalled.next()).value as StockEvent;
    const second = (await stalled.next()).value as StockEvent;
    expect([first, second].map(({ variantId, variantAvailability, variantAvailableQuantity }) => ({ variantId, variantAvailability, variantAvailableQuantity }))).toEqual([
      { variantId: m, variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 },
      { variantId: l, variantAvailability: "IN_STOCK", variantAvailableQuantity: 2 },
    ]);
    // both with the item as it is now: S and L still sell, 5 units in all
    for (const update of [first, second]) expect(update).toMatchObject({ availability: "IN_STOCK", availableQuantity: 5, version: shirt.version + 3 });
  });
});

describe("one subscription's buffer", () => {
  const storeId = "4f9d2c1e-0000-4000-8000-000000000001";
  const update = (itemId: string, version: number, variant: Partial<StockEvent> = {}): StockEvent => ({
    storeId,
    itemId,
    variantId: itemId,
    availability: "IN_STOCK",
    availableQuantity: version,
    version,
    variantAvailability: "IN_STOCK",
    variantAvailableQuantity: version,
    availabilityChanged: false,
    at: "2026-11-28T10:00:00.000Z",
    ...variant,
  });

  it("keeps only the newest waiting update per item, in the order the items first changed", async () => {
    const bus = new LocalStockEvents(logger);
    const stream = streamStockUpdates(bus, { storeId });
    bus.publish([update("a", 2), update("b", 2), update("a", 3), update("a", 1), update("b", 3)]);
    expect((await stream.next()).value).toEqual(update("a", 3));
    expect((await stream.next()).value).toEqual(update("b", 3));
    await stream.return!();
  });

  it("keeps the newest update of each variant: two variants of one item both reach a stalled subscriber", async () => {
    const bus = new LocalStockEvents(logger);
    const stream = streamStockUpdates(bus, { storeId });
    const soldOutM = update("shirt", 2, { variantId: "shirt-m", variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0, availableQuantity: 7 });
    const fewerL = update("shirt", 3, { variantId: "shirt-l", variantAvailableQuantity: 2, availableQuantity: 6 });
    bus.publish([update("shirt", 1, { variantId: "shirt-m", variantAvailableQuantity: 1 }), soldOutM, fewerL]);
    expect((await stream.next()).value).toMatchObject({ variantId: "shirt-m", variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 });
    expect((await stream.next()).value).toEqual(fewerL);
    await stream.return!();
  });

  it("hands out a waiting variant's update with its item's newest state, so the item never goes back in time", async () => {
    const bus = new LocalStockEvents(logger);
    const stream = streamStockUpdates(bus, { storeId });
    bus.publish([
      update("shirt", 4, { variantId: "shirt-m", variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0, availableQuantity: 3 }),
      update("shirt", 5, { variantId: "shirt-s", variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0, availableQuantity: 2 }),
      update("shirt", 6, { variantId: "shirt-l", variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0, availability: "SOLD_OUT", availableQuantity: 0 }),
    ]);
    const taken = [(await stream.next()).value, (await stream.next()).value, (await stream.next()).value];
    expect(taken.map((event) => [event.variantId, event.variantAvailability, event.availability, event.availableQuantity, event.version])).toEqual([
      ["shirt-m", "SOLD_OUT", "SOLD_OUT", 0, 6],
      ["shirt-s", "SOLD_OUT", "SOLD_OUT", 0, 6],
      ["shirt-l", "SOLD_OUT", "SOLD_OUT", 0, 6],
    ]);
    await stream.return!();
  });

  it("counts its limit in variants waiting, not in updates", async () => {
    const bus = new LocalStockEvents(logger);
    const stream = streamStockUpdates(bus, { storeId }, 2);
    bus.publish([update("shirt", 1, { variantId: "shirt-m" }), update("shirt", 2, { variantId: "shirt-l" }), update("shirt", 3, { variantId: "shirt-m" })]);
    expect((await stream.next()).value).toMatchObject({ variantId: "shirt-m", version: 3 });
    bus.publish([update("shirt", 4, { variantId: "shirt-s" }), update("shirt", 5, { variantId: "shirt-xl" })]);
    expect(await stream.next().catch((failure: unknown) => failure)).toBeInstanceOf(SubscriberTooSlowError);
  });

  it("ends with SUBSCRIBER_TOO_SLOW when more variants wait than it may hold, and stops listening", async () => {
    const bus = new LocalStockEvents(logger);
    const stream = streamStockUpdates(bus, { storeId }, 2);
    bus.publish([update("a", 1), update("b", 1), update("c", 1)]);
    const error = await stream.next().catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(SubscriberTooSlowError);
    expect((error as SubscriberTooSlowError).code).toBe("SUBSCRIBER_TOO_SLOW");
    expect(bus.hasListeners(storeId)).toBe(false);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it("stops listening at once when the subscriber leaves, even while it waits for an update", async () => {
    const bus = new LocalStockEvents(logger);
    const stream = streamStockUpdates(bus, { storeId });
    const waiting = stream.next();
    await stream.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(bus.hasListeners(storeId)).toBe(false);
  });
});
