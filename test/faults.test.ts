import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inTransaction, MAX_ATTEMPTS } from "../src/db/transaction.ts";
import { createLogger } from "../src/logger.ts";
import { createOrderRateLimiter } from "../src/orders/order-rate-limit.ts";
import type { StockEvent } from "../src/realtime/stock-events.ts";
import { changeStock } from "../src/stock/stock-ledger.ts";
import {
  gqlData,
  mainLevelOf,
  newItem,
  newStore,
  PLACE_ORDER,
  startTestServer,
  stockOf,
  unbalancedLedgers,
  type TestServer,
  type TestStore,
} from "./support/harness.ts";
import { eventually } from "./support/live.ts";
import { startOwnPostgres, startOwnRedis, type OwnPostgres } from "./support/own-services.ts";

/**
 * Database and Redis faults, on servers of this file's own: while PostgreSQL is away the service
 * answers clearly and quickly (SERVICE_UNAVAILABLE, 503), nothing half-done remains, and it
 * serves fully again afterwards without being restarted.
 */

let postgres: OwnPostgres;
let server: TestServer;
let store: TestStore;
let item: { id: string };
beforeAll(async () => {
  postgres = await startOwnPostgres("faults");
  server = await startTestServer({ databaseUrl: postgres.url });
  store = await newStore(server.db);
  item = await newItem(server, store, { quantity: 10 });
});
afterAll(async () => {
  await server?.close();
  await postgres?.destroy();
});

/** POSTs one operation; returns the status, the Retry-After header, the raw text and the answer. */
async function request(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const started = Date.now();
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get("retry-after"), text, json: JSON.parse(text), ms: Date.now() - started };
}

const order = (quantity = 1) => request(PLACE_ORDER, { store: store.slug, input: { lines: [{ itemId: item.id, quantity }] } });
const SET_QUANTITY = `mutation($id: ID!, $q: Int!) { setItemQuantity(input: { itemId: $id, quantity: $q }) { __typename ... on Item { quantity } } }`;

async function orderCount() {
  const { rows } = await server.db.pool.query("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [store.id]);
  return rows[0].n as number;
}

function expectServiceUnavailable(answer: Awaited<ReturnType<typeof request>>) {
  expect(answer.status).toBe(503);
  expect(answer.retryAfter).toBe("5");
  expect(answer.json.errors[0].extensions).toEqual({ code: "SERVICE_UNAVAILABLE" });
  expect(answer.json.errors[0].message).toMatch(/unavailable/);
  expect(answer.text).not.toMatch(/ECONNREFUSED|prisma|terminat|\.ts:\d+|stack/i);
  expect(answer.ms).toBeLessThan(6_000);
}

describe("PostgreSQL stopped, then started again", () => {
  it("answers 503 on /health and SERVICE_UNAVAILABLE to GraphQL at once, and serves again afterwards without a restart", async () => {
    await postgres.stop();
    try {
      const started = Date.now();
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(6_000);
      expectServiceUnavailable(await request(`query($slug: String!) { store(slug: $slug) { name items { edges { node { id } } } } }`, { slug: store.slug })); // Prisma
      expectServiceUnavailable(await order()); // raw SQL
      expectServiceUnavailable(await request(SET_QUANTITY, { id: item.id, q: 3 }, store.token)); // the token check
    } finally {
      await postgres.start();
    }
    await eventually(async () => (await fetch(`${server.url}/health`)).status === 200, "the database back", 10_000);
    const storefront = await request(`query($slug: String!) { store(slug: $slug) { items { edges { node { id quantity } } } } }`, { slug: store.slug });
    expect(storefront.json.data.store.items.edges).toEqual([{ node: { id: item.id, quantity: 10 } }]);
    expect((await order()).json.data.placeOrder.__typename).toBe("Order");
    expect(await stockOf(server.db, store.id, item.id)).toMatchObject({ quantity: 9 });
    expect(await orderCount()).toBe(1);
    expect(await unbalancedLedgers(server.db, store.id)).toEqual([]);
  });
});

describe("connections cut while requests run (pg_terminate_backend)", () => {
  it("the order whose connection was cut answers SERVICE_UNAVAILABLE and leaves nothing behind; the next ones are served", async () => {
    const before = await stockOf(server.db, store.id, item.id);
    const orders = await orderCount();
    // Another session holds the item's row lock, so the order is caught inside its transaction.
    const locker = new pg.Client({ connectionString: postgres.url });
    await locker.connect();
    locker.on("error", () => {}); // it is cut too
    await locker.query("BEGIN");
    await locker.query("SELECT 1 FROM items WHERE store_id = $1 AND id = $2 FOR UPDATE", [store.id, item.id]);
    const cut = order();
    await eventually(async () => {
      const { rows } = await server.db.pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'store-inventory' AND wait_event_type = 'Lock'",
      );
      return rows[0].n > 0;
    }, "the order waiting for the row lock");
    expect(await postgres.terminateConnections()).toBeGreaterThan(1);
    expectServiceUnavailable(await cut);
    await locker.end().catch(() => {});

    // The pool drops the broken connections and opens new ones: full service within moments.
    await eventually(async () => (await order()).json.data?.placeOrder?.__typename === "Order", "an order placed again", 3_000);
    const storefront = await request(`query($slug: String!) { store(slug: $slug) { name } }`, { slug: store.slug });
    expect(storefront.json).toEqual({ data: { store: { name: "Ejemplar" } } });
    expect(await orderCount()).toBe(orders + 1);
    expect(await stockOf(server.db, store.id, item.id)).toMatchObject({ quantity: before.quantity - 1 });
    expect(await unbalancedLedgers(server.db, store.id)).toEqual([]);
  });
});

describe("serialization failures and deadlocks inside a stock transaction", () => {
  const noEvents = { publish() {} };
  const guard = { keepAvailableNonNegative: false, refuseWhenSynced: false };

  it("a deadlock between two stock changes is retried, and both commit exactly once", async () => {
    const [first, second] = [await newItem(server, store, { quantity: 0 }), await newItem(server, store, { quantity: 0 })];
    const published: StockEvent[] = [];
    const publisher = { publish: (events: readonly StockEvent[]) => void published.push(...events) };
    let attempts = 0;
    const levels = new Map([first, second].map((item) => [item.id, null as unknown as Awaited<ReturnType<typeof mainLevelOf>>]));
    for (const id of levels.keys()) levels.set(id, await mainLevelOf(server.db, store.id, id));
    const bothHoldTheirFirstLock = barrier(2);
    // Each takes one item, waits for the other to take the other, then asks for the other's item.
    const crossing = (a: string, b: string) => {
      let attempt = 0;
      return inTransaction(server.db.pool, publisher, async (tx) => {
        attempts++;
        attempt++;
        await changeStock(tx, store.id, [{ ...levels.get(a)!, addQuantity: 1 }], guard, { reason: "MANUAL_ADJUSTMENT" });
        if (attempt === 1) await bothHoldTheirFirstLock();
        await changeStock(tx, store.id, [{ ...levels.get(b)!, addQuantity: 1 }], guard, { reason: "MANUAL_ADJUSTMENT" });
        return attempt;
      });
    };
    const tries = await Promise.all([crossing(first.id, second.id), crossing(second.id, first.id)]);

    expect(tries.sort()).toEqual([1, 2]); // PostgreSQL picked one victim, which ran again
    expect(attempts).toBe(3);
    for (const { id } of [first, second]) expect(await stockOf(server.db, store.id, id)).toMatchObject({ quantity: 2 });
    expect(published).toHaveLength(4); // nothing from the attempt that rolled back
    expect(await unbalancedLedgers(server.db, store.id)).toEqual([]);
  });

  it(`a serialization failure that keeps coming back is tried ${MAX_ATTEMPTS} times, then answered SERVICE_UNAVAILABLE, changing nothing`, async () => {
    const target = await newItem(server, store, { quantity: 5 });
    const before = await stockOf(server.db, store.id, target.id);
    const trigger = `always_conflicting_${target.id.replaceAll("-", "")}`;
    // The attempts are counted with a sequence: nextval survives the rollback of each attempt.
    await server.db.pool.query(`CREATE SEQUENCE ${trigger}_attempts`);
    await server.db.pool.query(
      `CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         PERFORM nextval('${trigger}_attempts');
         RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure';
       END $$`,
    );
    await server.db.pool.query(
      `CREATE TRIGGER ${trigger} BEFORE UPDATE ON items FOR EACH ROW WHEN (NEW.id = '${target.id}') EXECUTE FUNCTION ${trigger}()`,
    );
    const level = await mainLevelOf(server.db, store.id, target.id);
    try {
      const direct = inTransaction(server.db.pool, noEvents, (tx) =>
        changeStock(tx, store.id, [{ ...level, addQuantity: 1 }], guard, { reason: "MANUAL_ADJUSTMENT" }),
      );
      await expect(direct).rejects.toMatchObject({ code: "40001" });
      expectServiceUnavailable(await request(SET_QUANTITY, { id: target.id, q: 7 }, store.token));
      const { rows } = await server.db.pool.query(`SELECT last_value::int AS n FROM ${trigger}_attempts`);
      expect(rows[0].n).toBe(2 * MAX_ATTEMPTS);
    } finally {
      await server.db.pool.query(`DROP TRIGGER ${trigger} ON items`);
      await server.db.pool.query(`DROP FUNCTION ${trigger}()`);
      await server.db.pool.query(`DROP SEQUENCE ${trigger}_attempts`);
    }
    expect(await stockOf(server.db, store.id, target.id)).toEqual(before);
    expect(await unbalancedLedgers(server.db, store.id)).toEqual([]);
  });
});

describe("Redis away: the order rate limit fails open", () => {
  it("counts across processes through Redis; while Redis is down each process counts alone and orders go on", async () => {
    const redis = await startOwnRedis();
    const logger = createLogger("silent");
    const minute = Date.UTC(2026, 10, 28, 12, 0, 30);
    const limiter = () => createOrderRateLimiter({ perMinute: 2, redisUrl: redis.url, logger, now: () => minute });
    const [one, two] = await Promise.all([
      startTestServer({ databaseUrl: postgres.url, orderRateLimiter: limiter() }),
      startTestServer({ databaseUrl: postgres.url, orderRateLimiter: limiter() }),
    ]);
    const shop = await newStore(server.db);
    const bag = await newItem(server, shop, { quantity: 100 });
    const orderAt = async (at: TestServer) => {
      const response = await fetch(`${at.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: PLACE_ORDER, variables: { store: shop.slug, input: { lines: [{ itemId: bag.id, quantity: 1 }] } } }),
      });
      return response.status;
    };
    const limitersConnected = () => eventually(async () => (await redis.clients()) >= 2, "both limiters connected to Redis");
    try {
      await limitersConnected();
      expect(await orderAt(one)).toBe(200);
      expect(await orderAt(two)).toBe(200);
      expect(await orderAt(one)).toBe(429); // the third in the minute, whichever process counts it

      await redis.stop();
      expect(await orderAt(one)).toBe(200); // this process now counts alone: its first
      expect(await orderAt(two)).toBe(200);
      expect(await orderAt(two)).toBe(200);
      expect(await orderAt(two)).toBe(429); // still limited, per process

      await redis.start(); // empty again: it kept nothing
      await limitersConnected();
      expect(await orderAt(one)).toBe(200);
      expect(await orderAt(two)).toBe(200);
      expect(await orderAt(two)).toBe(429);
      expect(await gqlData(server.url, `query($s: String!) { store(slug: $s) { name } }`, { s: shop.slug })).toEqual({ store: { name: "Ejemplar" } });
      expect(await stockOf(server.db, shop.id, bag.id)).toMatchObject({ quantity: 100 - 7 });
    } finally {
      await Promise.all([one.close(), two.close()]);
      await redis.stop();
    }
  });
});

/** Resolves every waiting call once `parties` calls wait. */
function barrier(parties: number) {
  let arrived = 0;
  let release!: () => void;
  const allThere = new Promise<void>((resolve) => (release = resolve));
  return () => {
    if (++arrived === parties) release();
    return allThere;
  };
}
