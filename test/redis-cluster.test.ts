import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { stockChannel } from "../src/realtime/redis-events.ts";
import { storeHashTag } from "../src/redis.ts";
import { databaseUrl, gql, newItem, newStore, PLACE_ORDER, stockOf, unbalancedLedgers, type TestStore } from "./support/harness.ts";
import { adjustQuantity, eventually, liveClient, redisServerInstalled, sleep, stockUpdates, untilLive, type LiveSubscription } from "./support/live.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { launchRedisCluster, type ClusterNode, type RedisCluster } from "./support/redis-cluster.ts";

/**
 * SPEC sections 5 and 7 on a Redis Cluster of the test's own (3 masters, 3 replicas): stock
 * events go by sharded pub/sub on each store's shard, and survive the death of a master.
 */

const logger = createLogger("silent");
let db: Database;
let cluster: RedisCluster;
let one: ServerProcess;
let two: ServerProcess;
const cleanups: (() => unknown)[] = [];

describe("REDIS_CLUSTER_NODES", () => {
  it("names the seeds of a cluster, instead of REDIS_URL and never with it", () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-2:7001" }).redis).toEqual({
      clusterNodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "redis-2", port: 7001 },
      ],
    });
    expect(loadConfig({ REDIS_URL: "redis://r:6379" }).redis).toEqual({ url: "redis://r:6379" });
    // empty is unset, so that a compose override can switch from one to the other
    expect(loadConfig({ REDIS_URL: "", REDIS_CLUSTER_NODES: "r:7000" }).redis).toEqual({ clusterNodes: [{ host: "r", port: 7000 }] });
    expect(loadConfig({ REDIS_URL: "", REDIS_CLUSTER_NODES: "" }).redis).toBeUndefined();
    expect(() => loadConfig({ REDIS_URL: "redis://r:6379", REDIS_CLUSTER_NODES: "r:7000" })).toThrow(/not both/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: "r" })).toThrow(/REDIS_CLUSTER_NODES/);
  });
});

// The cluster is started by the test itself; only a machine without redis-server skips it, never CI.
describe.skipIf(!redisServerInstalled() && process.env.CI !== "true")("live updates on a Redis Cluster", () => {
  beforeAll(async () => {
    db = openDatabase(databaseUrl(), { poolSize: 2, logger });
    // a node timeout of 2 s: a replica takes over some 3 s after its master dies
    cluster = await launchRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2_000 });
    const env = {
      REDIS_URL: undefined,
      REDIS_CLUSTER_NODES: cluster.seeds,
      // counted on the cluster, never reached: the rate limiter's keys are exercised too
      ORDER_RATE_LIMIT_PER_MINUTE: "1000000",
    };
    [one, two] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await Promise.all([one?.stop(), two?.stop()]);
    await cluster?.stop();
    await db?.close();
  });

  function subscribe(server: ServerProcess, store: TestStore, itemIds?: string[]) {
    const client = liveClient(server.url);
    cleanups.push(() => client.dispose());
    return stockUpdates(client, store.slug, itemIds);
  }

  /** New stores until there is one whose channel is served by each of `count` different masters. */
  async function storesOnDifferentShards(count: number) {
    const byMaster = new Map<string, { store: TestStore; master: ClusterNode }>();
    while (byMaster.size < count) {
      const store = await newStore(db);
      const master = await cluster.masterOf(stockChannel(store.id));
      if (!byMaster.has(master.address)) byMaster.set(master.address, { store, master });
    }
    return [...byMaster.values()];
  }

  it("two processes deliver each other's updates, each store's on the shard that owns its slot", async () => {
    const shards = await storesOnDifferentShards(2);
    for (const { store, master } of shards) {
      const item = await newItem(one, store, { quantity: 100 });
      const live = subscribe(two, store, [item.id]);
      await untilLive(live, () => adjustQuantity(one, store, item.id, -1));
      // sharded: one SSUBSCRIBE (process two's) on the store's master, none anywhere else
      const subscribed = await cluster.shardSubscribers(stockChannel(store.id));
      expect(subscribed[master.address]).toBe(1);
      expect(Object.values(subscribed).reduce((sum, n) => sum + n)).toBe(1);

      const changed = await adjustQuantity(one, store, item.id, -2);
      await live.until((updates) => updates.some((update) => update.version === changed.version), `store ${store.slug}'s update on the other process`);
      expect(live.updates.at(-1)).toMatchObject({ itemId: item.id, availableQuantity: changed.availableQuantity, version: changed.version });

      // the order rate limit counts on the cluster, on the shard of the store's hash tag
      expect((await gql(two.url, PLACE_ORDER, { store: store.slug, input: { lines: [{ itemId: item.id, quantity: 1 }] } })).data?.placeOrder).toMatchObject({
        __typename: "Order",
      });
      const counters = await cluster.keysByMaster(`${storeHashTag(store.slug)}:order-rate:*`);
      expect(Object.keys(counters)).toEqual([(await cluster.masterOf(storeHashTag(store.slug))).address]);

      // the process stops listening to the store's shard channel when its last subscriber leaves
      live.close();
      await eventually(async () => (await cluster.shardSubscribers(stockChannel(store.id)))[master.address] === 0, "no more SSUBSCRIBE of the store's channel");
    }
  });

  it("when the master of a busy store's shard dies, orders go on, and updates resume after its replica takes over, a gap in versions showing what was missed", async () => {
    const [busy, calm] = await storesOnDifferentShards(2);
    const stock = 100_000;
    const item = await newItem(one, busy!.store, { quantity: stock });
    const scarce = await newItem(one, busy!.store, { quantity: 5 });
    // changed only to see that a subscription is in place, so that orders alone change the others
    const probe = await newItem(one, busy!.store, { quantity: 1_000 });
    const calmItem = await newItem(one, calm!.store, { quantity: 100 });
    const subscribers = [subscribe(one, busy!.store), subscribe(two, busy!.store)];
    for (const live of subscribers) await untilLive(live, () => adjustQuantity(one, busy!.store, probe.id, -1));
    const calmLive = subscribe(two, calm!.store, [calmItem.id]);
    await untilLive(calmLive, () => adjustQuantity(one, calm!.store, calmItem.id, -1));

    // four shoppers order one unit at a time through both processes until told to stop; every
    // tenth order is for the scarce item, which runs out
    const answers: { typename?: string; itemId: string; number?: number; error?: unknown }[] = [];
    let ordering = true;
    const shoppers = [0, 1, 2, 3].map(async (shopper) => {
      for (let n = 0; ordering; n++) {
        const itemId = n % 10 === 9 ? scarce.id : item.id;
        const server = (shopper + n) % 2 ? one : two;
        const response = await gql(server.url, PLACE_ORDER, { store: busy!.store.slug, input: { lines: [{ itemId, quantity: 1 }] } }).catch((error) => ({
          errors: [error],
          data: undefined,
        }));
        const result = response.data?.placeOrder;
        answers.push({ typename: result?.__typename, itemId, number: result?.number, error: response.errors?.[0] });
      }
    });
    const ordersPlaced = () => answers.filter((answer) => answer.typename === "Order").length;
    const itemUpdates = (live: LiveSubscription) => live.updates.filter((update) => update.itemId === item.id);
    try {
      await eventually(() => subscribers.every((live) => itemUpdates(live).length >= 5), "updates streaming to both processes' subscribers", 20_000);

      const ordersBeforeKill = ordersPlaced();
      await busy!.master.stop(); // SIGKILL
      await cluster.untilHealthy(30_000);
      const ordersDuringFailover = ordersPlaced() - ordersBeforeKill;
      expect(await cluster.masterOf(stockChannel(busy!.store.id))).not.toBe(busy!.master);

      // changes committed from now on reach the subscribers again, on both processes
      const afterFailover = (await stockOf(db, busy!.store.id, item.id)).version;
      for (const live of subscribers) {
        await live.until((updates) => updates.some((update) => update.itemId === item.id && update.version > afterFailover), "an update after the failover", 20_000);
      }
      expect(ordersDuringFailover).toBeGreaterThan(0); // the checkout never waited for Redis
    } finally {
      ordering = false;
      await Promise.all(shoppers);
    }

    // Updates are delivered at most once per publish, and two processes' may cross: a storefront
    // shows an update only when its version is above the one shown, and a jump of more than one
    // tells it that it missed some (README, "Noticing missed updates"). Here, it ends on the
    // item's current state, having noticed the updates published while the shard had no master.
    const final = await stockOf(db, busy!.store.id, item.id);
    for (const live of subscribers) {
      await live.until(
        (updates) => updates.some((update) => update.itemId === item.id && update.version === final.version),
        "the last order's update",
      );
      let shown = item.version;
      let noticedGaps = 0;
      for (const update of itemUpdates(live)) {
        if (update.version <= shown) continue;
        if (update.version > shown + 1) noticedGaps++;
        shown = update.version;
      }
      expect(shown).toBe(final.version);
      expect(noticedGaps).toBeGreaterThan(0);
      expect(live.errors).toEqual([]);
    }
    // the store on the other shard delivers as before
    const calmChange = await adjustQuantity(one, calm!.store, calmItem.id, -1);
    await calmLive.until((updates) => updates.some((update) => update.version === calmChange.version), "the calm store's update");

    // no order lost, none twice, no oversell: every answer was an order or "insufficient stock",
    // each order got its own number, and the database holds exactly the orders answered
    expect(answers.filter((answer) => answer.typename !== "Order" && answer.typename !== "InsufficientStockError")).toEqual([]);
    const orders = answers.filter((answer) => answer.typename === "Order");
    const numbers = orders.map((order) => order.number!).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: orders.length }, (_, n) => n + 1));
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [busy!.store.id]);
    expect(rows[0]!.n).toBe(orders.length);
    const sold = (itemId: string) => orders.filter((order) => order.itemId === itemId).length;
    expect(sold(scarce.id)).toBeLessThanOrEqual(5);
    expect(await stockOf(db, busy!.store.id, item.id)).toMatchObject({ quantity: stock - sold(item.id) });
    expect(await stockOf(db, busy!.store.id, scarce.id)).toMatchObject({ quantity: 5 - sold(scarce.id) });
    expect(await unbalancedLedgers(db, busy!.store.id)).toEqual([]);
    console.info(
      `cluster failover: ${orders.length} orders (${answers.length - orders.length} refused for stock); ` +
        `the subscribers received ${subscribers.map((live) => itemUpdates(live).length).join(" and ")} updates of the ${final.version - 1} changes of the busy item`,
    );
  });

  it("while the whole cluster is away orders and mutations go on at once; when it is back, subscribers resume", async () => {
    const store = await newStore(db);
    const item = await newItem(one, store, { quantity: 1_000 });
    const live = subscribe(two, store, [item.id]);
    await untilLive(live, () => adjustQuantity(one, store, item.id, -1));
    const seenBefore = (await stockOf(db, store.id, item.id)).version;
    const receivedBefore = live.updates.length;

    await Promise.all(cluster.nodes.map((node) => node.stop()));
    for (let n = 0; n < 3; n++) {
      const started = Date.now();
      expect(await adjustQuantity(one, store, item.id, -1)).toMatchObject({ __typename: "Item" });
      const order = await gql(two.url, PLACE_ORDER, { store: store.slug, input: { lines: [{ itemId: item.id, quantity: 1 }] } });
      expect(order.data?.placeOrder).toMatchObject({ __typename: "Order" });
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    const whileAway = (await stockOf(db, store.id, item.id)).version;
    // nothing arrived while the cluster was away
    expect(live.updates.length).toBe(receivedBefore);

    // the same nodes on the same ports and cluster configuration: the cluster forms again
    await Promise.all(cluster.nodes.map((node) => node.start()));
    await cluster.untilHealthy(30_000);
    // process one's connections come back on their own schedule: change until an update gets through
    await eventually(
      async () => {
        await adjustQuantity(one, store, item.id, -1);
        await sleep(200);
        return live.updates.some((update) => update.version > whileAway);
      },
      "an update after the cluster came back",
      30_000,
    );
    // (A publication of a change made as the cluster went may still arrive once it is back: the
    // cluster client retries a command whose node just went, and the retry can outlive the outage;
    // seen once, for the first change. Subscribers apply updates by version.)
    expect(whileAway).toBe(seenBefore + 6);
  });
});
