import { randomBytes, randomInt } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { createStore } from "../src/stores/stores.ts";
import { brokenInvariants, runOperations, seededRandom, type ChaosItem, type World } from "./support/chaos.ts";
import { newItem, placeOrder } from "./support/harness.ts";
import { eventually } from "./support/live.ts";
import { startOwnPostgres, startOwnRedis, type OwnPostgres, type OwnRedis } from "./support/own-services.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { runOut } from "./support/reservations.ts";

/**
 * The randomized invariant run: thousands of mixed storefront and admin operations from many
 * clients at once, over two server processes sharing a PostgreSQL and a Redis of the test's own,
 * while connections are cut, Redis goes away and comes back, and PostgreSQL restarts. Errors
 * during a fault are expected; afterwards every invariant must hold and everything a client was
 * told must have happened. `npm test` runs a small fixed-seed run; `npm run test:chaos` a larger
 * one (CHAOS_SEED=<n> replays a run's mix of operations, CHAOS_OPERATIONS sets its size).
 */
const SEED = process.env.CHAOS_SEED === "random" ? randomInt(2 ** 31) : Number(process.env.CHAOS_SEED ?? 20261128);
const OPERATIONS = Number(process.env.CHAOS_OPERATIONS ?? 1_500);
const CLIENTS = Number(process.env.CHAOS_CLIENTS ?? 12);

let postgres: OwnPostgres;
let redis: OwnRedis;
let servers: ServerProcess[] = [];
let db: Database;
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startOwnPostgres("chaos"), startOwnRedis()]);
  db = openDatabase(postgres.url, { poolSize: 2, logger: createLogger("silent") });
  // a PostgreSQL of its own: both processes sweep expired holds, as a deployment's do
  const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, DATABASE_POOL_SIZE: "8", LOG_LEVEL: "error", RESERVATION_EXPIRY_INTERVAL_MS: "1000" };
  // A limit no client reaches, so that the limiter's Redis counting (and its outage) is exercised too.
  // Cart holds' shoppers are addresses of their own behind the (loopback) proxy.
  servers = await Promise.all([1, 2].map(() => startServerProcess({ ...env, ORDER_RATE_LIMIT_PER_MINUTE: "1000000", TRUST_PROXY: "1" }, { timeoutMs: 60_000 })));
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await db?.close();
  await redis?.stop();
  await postgres?.destroy();
});

const heldCount = async (storeId: string) =>
  (await db.pool.query(`SELECT count(*)::int AS n FROM reservations WHERE store_id = $1 AND status = 'HELD'`, [storeId])).rows[0].n as number;

/** The faults, at fractions of the run, one after the other. */
function faultSchedule() {
  const cutConnections = async () => void (await postgres.terminateConnections());
  return [
    { at: 0.15, name: "cut every PostgreSQL connection", run: cutConnections },
    { at: 0.3, name: "stop Redis", run: () => redis.stop() },
    { at: 0.42, name: "start Redis", run: () => redis.start() },
    {
      at: 0.55,
      name: "restart PostgreSQL",
      run: async () => {
        await postgres.stop();
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await postgres.start();
      },
    },
    { at: 0.75, name: "cut every PostgreSQL connection", run: cutConnections },
    { at: 0.85, name: "stop Redis and cut every PostgreSQL connection", run: async () => Promise.all([redis.stop(), cutConnections()]) },
    { at: 0.93, name: "start Redis", run: () => redis.start() },
  ];
}

async function newWorld(): Promise<{ world: World; storeId: string }> {
  const created = await createStore(db.prisma, { slug: `chaos-${randomBytes(4).toString("hex")}`, name: "Chaos" });
  if (!("adminToken" in created)) throw new Error(created.message);
  const store = { slug: created.slug, token: created.adminToken, id: created.id };
  const server = servers[0]!;
  const kinds: [ChaosItem["kind"], Parameters<typeof newItem>[2]][] = [
    ["strict", { quantity: 30 }],
    ["strict", { quantity: 20 }],
    ["strict", { quantity: 10 }],
    ["strict", { quantity: 5 }],
    ["toggled", { quantity: 15 }],
    ["toggled", { quantity: 8 }],
    ["backorder", { quantity: 3, sellWithoutStock: true }],
    ["service", { type: "SERVICE" }],
    ["untracked", { trackInventory: false }],
  ];
  const items: ChaosItem[] = [];
  for (const [kind, input] of kinds) items.push({ kind, id: (await newItem(server, store, { price: "12.50", ...input })).id });
  return { world: { servers, store, items }, storeId: store.id };
}

describe("a randomized run of mixed operations with faults", () => {
  it(
    `keeps every invariant over ${OPERATIONS} operations from ${CLIENTS} clients on two processes (seed ${SEED})`,
    async () => {
      const started = Date.now();
      const { world, storeId } = await newWorld();
      const faults = faultSchedule();
      const injected: string[] = [];
      let faultChain = Promise.resolve();
      const journal = await runOperations(world, {
        random: seededRandom(SEED),
        operations: OPERATIONS,
        concurrency: CLIENTS,
        runOut: (holdId) => runOut(db, storeId, holdId),
        beforeOperation(n) {
          for (const fault of faults.filter((candidate) => Math.floor(candidate.at * OPERATIONS) === n)) {
            faultChain = faultChain.then(async () => {
              injected.push(fault.name);
              await fault.run();
            });
          }
        },
      });
      await faultChain;

      // Full service again, from both processes, without restarting them.
      for (const server of servers) {
        await eventually(async () => (await fetch(`${server.url}/health`)).status === 200, "the process healthy again", 10_000);
        const untracked = world.items.find((item) => item.kind === "untracked")!;
        expect((await placeOrder(server, { ...world.store, id: storeId }, [{ itemId: untracked.id, quantity: 1 }])).__typename).toBe("Order");
      }

      // The holds still HELD run out too: the processes' sweeps end every one
      await db.pool.query(`UPDATE reservations SET expires_at = now() - interval '1 second' WHERE store_id = $1 AND status = 'HELD'`, [storeId]);
      await eventually(async () => (await heldCount(storeId)) === 0, "every hold ended by the sweeps", 10_000, 100);
      const holdsEnded = Object.fromEntries(
        (await db.pool.query(`SELECT status, count(*)::int AS n FROM reservations WHERE store_id = $1 GROUP BY status`, [storeId])).rows.map((row) => [row.status, row.n]),
      );

      const summary = {
        seed: SEED,
        operations: OPERATIONS,
        clients: CLIENTS,
        faultsInjected: injected,
        ordersAccepted: (journal.counts.get("placeOrder ok") ?? 0) + (journal.counts.get("retryOrder ok") ?? 0),
        ordersRefused: (journal.counts.get("placeOrder refused") ?? 0) + (journal.counts.get("retryOrder refused") ?? 0),
        holdsEnded,
        outcomes: journal.summary(),
        slowestMs: journal.slowestMs,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      };
      console.log(`chaos run (replay with CHAOS_SEED=${SEED} CHAOS_OPERATIONS=${OPERATIONS}):\n${JSON.stringify(summary, null, 2)}`);

      expect(injected).toHaveLength(faults.length);
      expect(journal.unexpected).toEqual([]);
      // no request hung: none waited longer than a statement may run (pool.ts' statement_timeout)
      expect(journal.slowestMs).toBeLessThan(15_000);
      expect(summary.ordersAccepted).toBeGreaterThan(OPERATIONS / 20);
      expect(Object.keys(holdsEnded).sort()).toEqual(["CONVERTED", "EXPIRED", "RELEASED"]);
      expect(await brokenInvariants(db, storeId, world, journal)).toEqual([]);
    },
    60_000 + OPERATIONS * 60,
  );
});
