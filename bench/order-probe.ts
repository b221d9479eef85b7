/**
 * One service's checkout, alone: a store of PROBE_ITEMS items (1: hot, 10,000: spread), placeOrder
 * over GraphQL HTTP from PROBE_CONNECTIONS (16) autocannon connections, one unit of a random item
 * per order (of PROBE_LINES distinct random items with PROBE_LINES > 1: 3 of 10,000 is multiline), PROBE_SECONDS (10) measured after 4 s of warm-up; with PROBE_RATE, at that many orders
 * per second in all (the same work for two versions however busy the machine is). Prints one JSON line: orders/s,
 * p99, and CPU per order of the service process, of PostgreSQL (every `postgres` process) and of
 * this load generator.
 *
 * It imports only what every version of the bench has had (freshBenchDatabase, seedStore,
 * startServer, processCpuMs, PLACE_ORDER), so bench/before-after.ts runs this same file in a
 * checkout of an earlier version to compare the two under the same load (BENCH_DATABASE keeps
 * their databases apart).
 */
import autocannon from "autocannon";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { PLACE_ORDER } from "./orders.ts";
import { freshBenchDatabase, processCpuMs, REDIS_URL, seedStore, startServer } from "./support.ts";

const items = Number(process.env.PROBE_ITEMS ?? 1);
const lineCount = Math.min(Number(process.env.PROBE_LINES ?? 1), items);
const connections = Number(process.env.PROBE_CONNECTIONS ?? 16);
const seconds = Number(process.env.PROBE_SECONDS ?? 10);
/** orders per second over all connections (autocannon's overallRate); unset, each connection sends its next order when answered */
const rate = process.env.PROBE_RATE ? Number(process.env.PROBE_RATE) : undefined;

/** CPU time used so far by every PostgreSQL process, in milliseconds (Linux /proc). */
function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.includes("(postgres)")) total += processCpuMs(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

const url = await freshBenchDatabase();
const pool = new pg.Pool({ connectionString: url, max: 2 });
const store = await seedStore(pool, "probe", items, 100_000_000);
await pool.query("VACUUM ANALYZE");
const server = await startServer({ DATABASE_URL: url, REDIS_URL, ORDER_RATE_LIMIT_PER_MINUTE: "1000000000" }, "probe");
let refused = 0;
const load = (duration: number) =>
  autocannon({
    url: `${server.url}/graphql`,
    connections,
    duration,
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: "POST",
        path: "/graphql",
        headers: { "content-type": "application/json" },
        setupRequest: (request) => {
          const itemIds = new Set<string>();
          while (itemIds.size < lineCount) itemIds.add(store.itemIds[Math.floor(Math.random() * items)]!);
          const lines = [...itemIds].map((itemId) => ({ itemId, quantity: 1 }));
          return { ...request, body: JSON.stringify({ query: PLACE_ORDER, variables: { store: store.slug, input: { lines } } }) };
        },
        onResponse: (_status, body) => {
          if (!body.includes('"__typename":"Order"')) refused++;
        },
      },
    ],
  });
try {
  await load(4);
  refused = 0;
  const before = { server: processCpuMs(server.child.pid!), postgres: postgresCpuMs(), self: process.cpuUsage() };
  const result = await load(seconds);
  const orders = result.requests.total - refused - result.non2xx;
  const self = process.cpuUsage(before.self);
  const perOrder = (ms: number) => Math.round((ms / orders) * 1000) / 1000;
  console.log(
    JSON.stringify({
      items,
      lines: lineCount,
      ordersPerSec: Math.round(orders / result.duration),
      failed: refused + result.non2xx + result.errors,
      p99Ms: result.latency.p99,
      serverCpuMsPerOrder: perOrder(processCpuMs(server.child.pid!) - before.server),
      postgresCpuMsPerOrder: perOrder(postgresCpuMs() - before.postgres),
      loadCpuMsPerOrder: perOrder((self.user + self.system) / 1000),
    }),
  );
} finally {
  await server.stop();
  await pool.end();
}
