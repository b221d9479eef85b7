/**
 * PostgreSQL's side of a checkout batch, alone: `place_orders()` called with batches of
 * PROBE_BATCHES orders (default 1,2,4,8,16,32,64,128) by PROBE_CLIENTS connections at once
 * (default 1,4), each for PROBE_SECONDS (3), on a store of one item (hot) and on a store of
 * 10,000 (spread: one unit of a random item per order). Prints one JSON line per case and a table:
 * orders/s, and CPU per order of the PostgreSQL server the bench runs on (every process of its
 * postmaster, read from /proc: the backends, the WAL writer, the checkpointer), so that other work
 * on a shared machine (other PostgreSQL servers, tests, builds) does not count. With
 * PROBE_OLD_FUNCTION=<file>, that file's function `place_order()` (one order a call, the checkout
 * before batches: `git show 0193772:prisma/functions/place_order.sql`) is measured too, as "old".
 *
 *   npx tsx bench/batch-probe.ts
 *
 * DATABASE_URL and BENCH_DATABASE as for the bench (its database is made anew: give another
 * BENCH_DATABASE while the bench runs).
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { freshBenchDatabase, processCpuMs, round, seedStore } from "./support.ts";

const batches = (process.env.PROBE_BATCHES ?? "1,2,4,8,16,32,64,128").split(",");
const clientCounts = (process.env.PROBE_CLIENTS ?? "1,4").split(",").map(Number);
const seconds = Number(process.env.PROBE_SECONDS ?? 3);
const oldFunction = process.env.PROBE_OLD_FUNCTION;

const url = await freshBenchDatabase();
const pool = new pg.Pool({ connectionString: url, max: Math.max(...clientCounts) + 1 });
if (oldFunction) await pool.query(readFileSync(oldFunction, "utf8"));
const stores = {
  hot: await seedStore(pool, "probe-hot", 1, 100_000_000),
  spread: await seedStore(pool, "probe-spread", 10_000, 100_000_000),
};
await pool.query("VACUUM ANALYZE");

/** The pids of every process of the PostgreSQL server `pool` is on: its postmaster's children. */
async function serverPids(): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  const postmaster = parentOf(rows[0]!.pid);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (/^\d+$/.test(entry) && parentOf(Number(entry)) === postmaster) pids.push(Number(entry));
  }
  return pids;
}
function parentOf(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
  } catch {
    return null; // ended meanwhile
  }
}
/** CPU used so far by each process of the server. */
async function serverCpu(): Promise<Map<number, number>> {
  const cpu = new Map<number, number>();
  for (const pid of await serverPids()) {
    try {
      cpu.set(pid, processCpuMs(pid));
    } catch {
      // ended meanwhile
    }
  }
  return cpu;
}
/** CPU the server used from `before` to now: processes that started meanwhile count whole, those that ended not at all. */
async function serverCpuMsSince(before: Map<number, number>): Promise<number> {
  let total = 0;
  for (const [pid, ms] of await serverCpu()) total += ms - (before.get(pid) ?? 0);
  return total;
}

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

/** One call's parameters: `size` orders of one unit each (null size: the old function's one order). */
function call(storeId: string, itemIds: string[], size: number | null): [string, unknown[]] {
  if (size === null) {
    return ["SELECT place_order($1, $2, $3, $4, $5, NULL, NULL, NULL, NULL)", [storeId, randomUUID(), [pick(itemIds)], [null], [1]]];
  }
  const nulls = Array.from({ length: size }, () => null);
  return [
    "SELECT place_orders($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    [storeId, nulls.map(() => randomUUID()), nulls.map(() => 1), nulls, nulls, nulls, nulls, nulls.map(() => pick(itemIds)), nulls, nulls.map(() => 1)],
  ];
}

const rows: Record<string, unknown>[] = [];
for (const [scenario, store] of Object.entries(stores)) {
  for (const clients of clientCounts) {
    for (const batch of batches) {
      const size = batch === "old" ? null : Number(batch);
      if (size === null && !oldFunction) continue;
      // every case starts from tables vacuumed alike: a hot item's row versions pile up as a run goes on
      await pool.query("VACUUM items, variants, stock_levels, orders, order_lines, order_line_allocations, stock_movements, order_counters");
      const connections = await Promise.all(Array.from({ length: clients }, () => pool.connect()));
      // warm each session's kept plans
      for (const client of connections) await client.query(...call(store.id, store.itemIds, size));
      let orders = 0;
      const cpuBefore = await serverCpu();
      const started = Date.now();
      const until = started + seconds * 1000;
      await Promise.all(
        connections.map(async (client) => {
          while (Date.now() < until) {
            await client.query(...call(store.id, store.itemIds, size));
            orders += size ?? 1;
          }
        }),
      );
      const ms = Date.now() - started;
      const cpuMs = await serverCpuMsSince(cpuBefore);
      for (const client of connections) client.release();
      const row = { scenario, clients, batch, ordersPerSec: Math.round((orders / ms) * 1000), postgresCpuMsPerOrder: round(cpuMs / orders, 3) };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
}
console.table(rows);
await pool.end();
