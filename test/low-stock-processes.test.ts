import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { databaseUrl, gql, newItem, newStore, PLACE_ORDER, type TestStore } from "./support/harness.ts";
import { redisForTests, redisServerInstalled, setQuantity, sleep } from "./support/live.ts";
import { alertsOf, setStoreThreshold, subscribeToAlerts, untilAlertsLive, type AlertSubscriber } from "./support/low-stock.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { launchRedisCluster, type RedisCluster } from "./support/redis-cluster.ts";

/**
 * lowStockAlertsAdded across processes (SPEC section 9): an alert recorded by one service process
 * reaches the store's admin subscribed on another, once, over Redis pub/sub and over Redis
 * Cluster's sharded pub/sub; another store's subscriber, on either process, hears nothing.
 */

const redisUrl = inject("redisUrl");
const redisUp = await redisForTests(redisUrl, "the low-stock alerts across processes");
let db: Database;
beforeAll(() => void (db = openDatabase(databaseUrl(), { poolSize: 2, logger: createLogger("silent") })));
afterAll(async () => db?.close());

/** Orders on `one`, the store's admin and another store's admin subscribed on `two`: one alert, to the store's admin only. */
async function oneAlertAcross(one: ServerProcess, two: ServerProcess) {
  const s: TestStore = await newStore(db);
  const other: TestStore = await newStore(db, "Otra");
  await setStoreThreshold(one, s, { lowStockThreshold: 10 });
  await setStoreThreshold(one, other, { lowStockThreshold: 10 });
  const item = await newItem(one, s, { quantity: 25, sku: "A" });
  const probe = await newItem(one, s, { name: "Sonda", quantity: 20, sku: "PROBE" });
  const otherProbe = await newItem(one, other, { name: "Sonda", quantity: 20, sku: "PROBE" });
  const subscribers: AlertSubscriber[] = [subscribeToAlerts(two.url, s.slug, s.token), subscribeToAlerts(two.url, other.slug, other.token)];
  const [mine, theirs] = subscribers as [AlertSubscriber, AlertSubscriber];
  try {
    await untilAlertsLive(mine, async () => {
      await setQuantity(one, s, probe.id, 20);
      await setQuantity(one, s, probe.id, 0);
    });
    await untilAlertsLive(theirs, async () => {
      await setQuantity(one, other, otherProbe.id, 20);
      await setQuantity(one, other, otherProbe.id, 0);
    });
    // 20 orders across the threshold, sent to both processes
    const orders = await Promise.all(
      Array.from({ length: 20 }, (_, n) => gql(n % 2 ? one.url : two.url, PLACE_ORDER, { store: s.slug, input: { lines: [{ itemId: item.id, quantity: 1 }] } })),
    );
    expect(orders.map((order) => order.data?.placeOrder.__typename)).toEqual(Array(20).fill("Order"));
    await mine.until((alerts) => alerts.length >= 1, "the alert on the other process");
    await sleep(500);
    const recorded = (await alertsOf(one, s)).filter((alert) => alert.item.id === item.id);
    expect(recorded).toHaveLength(1);
    expect(mine.alerts).toEqual(recorded);
    expect(mine.alerts[0]).toMatchObject({ availableQuantity: 10, threshold: 10 });
    expect(theirs.alerts).toEqual([]);
  } finally {
    for (const subscriber of subscribers) await subscriber.close();
  }
}

describe.skipIf(!redisUp)("over Redis pub/sub", () => {
  let one: ServerProcess;
  let two: ServerProcess;
  beforeAll(async () => {
    [one, two] = await Promise.all([startServerProcess({ REDIS_URL: redisUrl }), startServerProcess({ REDIS_URL: redisUrl })]);
  });
  afterAll(async () => Promise.all([one?.stop(), two?.stop()]));

  it("20 orders over two processes: one alert, pushed once to the store's admin on the other process, none to another store's", async () => {
    await oneAlertAcross(one, two);
  });
});

// The cluster is started by the test itself; only a machine without redis-server skips it, never CI.
describe.skipIf(!redisServerInstalled() && process.env.CI !== "true")("over Redis Cluster's sharded pub/sub", () => {
  let cluster: RedisCluster;
  let one: ServerProcess;
  let two: ServerProcess;
  beforeAll(async () => {
    cluster = await launchRedisCluster({ masters: 3, replicasPerMaster: 0 });
    const env = { REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.seeds };
    [one, two] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await cluster?.stop();
  });

  it("the same on a cluster of 3 masters", async () => {
    await oneAlertAcross(one, two);
  });
});
