import { randomUUID } from "node:crypto";
import { parse, subscribe, type ExecutionResult } from "graphql";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { schema } from "../src/graphql/schema.ts";
import { createLogger } from "../src/logger.ts";
import { RedisStockEvents } from "../src/realtime/redis-events.ts";
import type { StockEvent } from "../src/realtime/stock-events.ts";
import { databaseUrl, newStore, type TestStore } from "./support/harness.ts";
import { eventually, redisForTests } from "./support/live.ts";

/**
 * "Subscribe, then query" (README, Live updates) holds only if a subscription is live when it
 * starts: between processes, once Redis has confirmed its store's channel. Here a subscription
 * starts through the schema (as graphql-ws starts one), and at once another process's bus
 * publishes a change of the store through Redis: it arrives, every time, also on a process whose
 * Redis connection is brand new (one just started, or just reconnected).
 */
const redisUrl = inject("redisUrl");
const redisUp = await redisForTests(redisUrl, "the subscription-confirmation tests");
const logger = createLogger("silent");
const ROUNDS = 15;

let db: Database;
let store: TestStore;
let publisher: RedisStockEvents;
beforeAll(async () => {
  db = openDatabase(databaseUrl(), { poolSize: 2, logger });
  store = await newStore(db);
  publisher = new RedisStockEvents(redisUrl, logger);
});
afterAll(async () => {
  await publisher?.close();
  await db.close();
});

const SUBSCRIPTION = parse(`subscription($store: String!) { stockUpdates(store: $store) { itemId version } }`);

const change = (version: number): StockEvent => ({
  storeId: store.id,
  itemId: randomUUID(),
  variantId: randomUUID(),
  availability: "IN_STOCK",
  availableQuantity: version,
  version,
  variantAvailability: "IN_STOCK",
  variantAvailableQuantity: version,
  availabilityChanged: false,
  at: new Date().toISOString(),
});

/** Starts a stockUpdates subscription of the store on the process whose bus is `bus`. */
async function subscribeThrough(bus: RedisStockEvents, of = store) {
  const result = await subscribe({
    schema,
    document: SUBSCRIPTION,
    variableValues: { store: of.slug },
    contextValue: { deps: { db, stockEvents: bus } },
  });
  if (!(Symbol.asyncIterator in result)) throw new Error(`not subscribed: ${JSON.stringify(result)}`);
  return result as AsyncGenerator<ExecutionResult>;
}

/** The next update of the subscription, or "nothing" after `ms`. */
async function nextWithin(updates: AsyncGenerator<ExecutionResult>, ms = 1_000) {
  let timer: NodeJS.Timeout | undefined;
  const nothing = new Promise<"nothing">((resolve) => (timer = setTimeout(() => resolve("nothing"), ms)));
  const next = await Promise.race([updates.next().then((step) => step.value?.data?.stockUpdates), nothing]);
  clearTimeout(timer);
  return next;
}

describe.skipIf(!redisUp)("a subscription is live once it has started", () => {
  it("on a process whose Redis connection is new: a change published right after it started arrives", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const bus = new RedisStockEvents(redisUrl, logger);
      try {
        const updates = await subscribeThrough(bus);
        const event = change(round + 1);
        publisher.publish([event]);
        expect(await nextWithin(updates)).toEqual({ itemId: event.itemId, version: event.version });
        await updates.return(undefined);
      } finally {
        await bus.close();
      }
    }
  });

  it("on a process already listening to another store: every change published right after each start arrives", async () => {
    const bus = new RedisStockEvents(redisUrl, logger);
    const other = await newStore(db);
    const otherUpdates = await subscribeThrough(bus, other);
    try {
      // the connection is up and subscribed: a change of the other store gets through
      await eventually(async () => {
        publisher.publish([{ ...change(0), storeId: other.id }]);
        return (await nextWithin(otherUpdates, 100)) !== "nothing";
      }, "the other store's channel to be subscribed");
      for (let round = 0; round < ROUNDS; round++) {
        const updates = await subscribeThrough(bus);
        const event = change(round + 1);
        publisher.publish([event]);
        expect(await nextWithin(updates)).toEqual({ itemId: event.itemId, version: event.version });
        // the store's last subscriber leaves: the next round subscribes to its channel anew
        await updates.return(undefined);
      }
    } finally {
      await otherUpdates.return(undefined);
      await bus.close();
    }
  });
});
