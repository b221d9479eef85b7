import { insertBulkItems } from "../test/support/bulk-items.ts";
import { readFileSync } from "node:fs";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../src/generated/prisma/client.ts";
import { spawnService, type ServiceProcess } from "../test/support/service-process.ts";
import { applyMigrations } from "../src/db/migrate.ts";
import { createLogger } from "../src/logger.ts";
import { createStore } from "../src/stores/stores.ts";

/** Where the bench runs: a database of its own on DATABASE_URL's server, and REDIS_URL. */
export const ADMIN_URL = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const BENCH_DATABASE = process.env.BENCH_DATABASE ?? "inventory_bench";

export function benchDatabaseUrl() {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${BENCH_DATABASE}`;
  return url.toString();
}

/** Drops and recreates the bench database, then applies the service's migrations to it. */
export async function freshBenchDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${BENCH_DATABASE}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${BENCH_DATABASE}"`);
  } finally {
    await admin.end();
  }
  const url = benchDatabaseUrl();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await applyMigrations(pool, createLogger("warn"));
  } finally {
    await pool.end();
  }
  return url;
}

export type BenchStore = { id: string; slug: string; token: string; itemIds: string[] };

/**
 * A store with `items` tracked products of `quantity` units each. The items and their
 * INITIAL_COUNT movements are inserted in bulk (10,000 through the API would take longer than
 * the measurement), keeping the ledger invariant: one movement per item equal to its quantity.
 */
export async function seedStore(pool: pg.Pool, slug: string, items: number, quantity: number): Promise<BenchStore> {
  const store = await createStore(new PrismaClient({ adapter: new PrismaPg(pool) }), { slug, name: `Bench ${slug}` });
  if (!("adminToken" in store)) throw new Error(store.message);
  const itemIds = await insertBulkItems(pool, store.id, items, quantity);
  return { id: store.id, slug: store.slug, token: store.adminToken, itemIds };
}

/**
 * The invariants after a run, for one store: items without sellWithoutStock below zero
 * (oversold), items whose movements do not add up to their quantity or whose newest movement
 * disagrees with it, and order numbers that are not exactly 1..last.
 */
export async function checkInvariants(pool: pg.Pool, storeId: string) {
  const { rows } = await pool.query<{ oversold: number; unbalanced: number; orders: number; numberGaps: number }>(
    `SELECT
       (SELECT count(*) FROM items WHERE store_id = $1 AND NOT sell_without_stock AND quantity - committed_quantity < 0)::int AS oversold,
       (SELECT count(*) FROM items i
          LEFT JOIN LATERAL (SELECT coalesce(sum(delta), 0) AS total FROM stock_movements m WHERE m.store_id = i.store_id AND m.item_id = i.id) s ON true
          LEFT JOIN LATERAL (SELECT quantity_after FROM stock_movements m WHERE m.store_id = i.store_id AND m.item_id = i.id ORDER BY id DESC LIMIT 1) n ON true
         WHERE i.store_id = $1 AND (s.total <> i.quantity OR n.quantity_after IS DISTINCT FROM i.quantity))::int AS unbalanced,
       (SELECT count(*) FROM orders WHERE store_id = $1)::int AS orders,
       -- numbers are unique per store, so 1..last without gaps means count = max = last
       (SELECT abs(last_order_number - (SELECT count(*) FROM orders WHERE store_id = $1))
             + abs(last_order_number - coalesce((SELECT max(number) FROM orders WHERE store_id = $1), 0))
          FROM stores WHERE id = $1)::int AS "numberGaps"`,
    [storeId],
  );
  return rows[0]!;
}

export async function countOrders(pool: pg.Pool, storeId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [storeId]);
  return rows[0]!.n;
}

export type ServerProcess = ServiceProcess & { rssKB(): number };

/**
 * `npm start`'s entry point (src/main.ts) as a process of its own on the bench database (the
 * tests' spawner, test/support/service-process.ts); with BENCH_PROFILE set it writes a V8 CPU
 * profile under bench/results/profiles when stopped.
 */
export async function startServer(env: Record<string, string>, name = "server", nodeArgs: string[] = []): Promise<ServerProcess> {
  const profile = process.env.BENCH_PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=bench/results/profiles/${name}`]
    : [];
  const server = await spawnService({ env: { NODE_ENV: "production", ...env }, name, nodeArgs: [...profile, ...nodeArgs] });
  return { ...server, rssKB: () => rssKB(server.child.pid!) };
}

/** Resident set size of a process, from /proc (Linux). */
export function rssKB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** CPU time (user + system) a process has used so far, in milliseconds, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** The machine's CPU counters; `busyPercent(before, after)` is how busy all cores were between two. */
export function machineCpu() {
  const [, ...values] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  const numbers = values.map(Number);
  const idle = numbers[3]! + numbers[4]!;
  return { idle, total: numbers.reduce((sum, value) => sum + value, 0) };
}
export const busyPercent = (before: ReturnType<typeof machineCpu>, after: ReturnType<typeof machineCpu>) =>
  Math.round(100 * (1 - (after.idle - before.idle) / (after.total - before.total)));

export { sleep } from "../test/support/wait.ts";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
