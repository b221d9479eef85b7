import { insertBulkItems } from "../test/support/bulk-items.ts";
import { readFileSync } from "node:fs";
import http from "node:http";
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

const prismas = new WeakMap<pg.Pool, PrismaClient>();
/** One Prisma client per pool, for creating stores as the service does. */
function prismaOf(pool: pg.Pool): PrismaClient {
  let prisma = prismas.get(pool);
  if (!prisma) prismas.set(pool, (prisma = new PrismaClient({ adapter: new PrismaPg(pool) })));
  return prisma;
}

export type BenchStore = { id: string; slug: string; token: string; itemIds: string[] };

/**
 * A store with `items` tracked products of `quantity` units each. The items and their
 * INITIAL_COUNT movements are inserted in bulk (10,000 through the API would take longer than
 * the measurement), keeping the ledger invariant: one movement per item equal to its quantity.
 */
export async function seedStore(pool: pg.Pool, slug: string, items: number, quantity: number): Promise<BenchStore> {
  const store = await createStore(prismaOf(pool), { slug, name: `Bench ${slug}` });
  if (!("adminToken" in store)) throw new Error(store.message);
  const itemIds = await insertBulkItems(pool, store.id, items, quantity);
  return { id: store.id, slug: store.slug, token: store.adminToken, itemIds };
}

/**
 * The invariants after a run, over some stores (SPEC sections 1, 2 and 8): stock levels of items
 * without sellWithoutStock below zero available (oversold); ledgers out of balance (a level
 * whose movements do not add up to its quantity or whose newest movement disagrees, a variant
 * whose quantities are not the sums over its fulfilling warehouses, an item whose are not the sums
 * over its variants: test/support/harness.ts unbalancedLedgers, for many stores at once); and
 * order numbers that are not exactly 1..last, summed over the stores.
 */
export async function checkInvariants(pool: pg.Pool, storeIds: readonly string[]) {
  const { rows } = await pool.query<{ oversold: number; unbalanced: number; numberGaps: number }>(
    `SELECT
       (SELECT count(*) FROM stock_levels l
          JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
          JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
         WHERE l.store_id = ANY($1::uuid[]) AND NOT i.sell_without_stock AND l.quantity - l.committed_quantity < 0)::int AS oversold,
       (SELECT count(*) FROM stock_levels l
          JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
          JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
          LEFT JOIN LATERAL (SELECT coalesce(sum(delta), 0) AS total FROM stock_movements m
                              WHERE m.store_id = l.store_id AND m.variant_id = l.variant_id AND m.warehouse_id = l.warehouse_id) s ON true
          LEFT JOIN LATERAL (SELECT quantity_after FROM stock_movements m
                              WHERE m.store_id = l.store_id AND m.variant_id = l.variant_id AND m.warehouse_id = l.warehouse_id
                              ORDER BY id DESC LIMIT 1) n ON true
         WHERE l.store_id = ANY($1::uuid[]) AND i.type = 'PRODUCT' AND i.track_inventory
           AND (s.total <> l.quantity OR (n.quantity_after IS NOT NULL AND n.quantity_after <> l.quantity)))::int
     + (SELECT count(*) FROM (
          SELECT v.id FROM variants v
            JOIN stock_levels l ON l.store_id = v.store_id AND l.variant_id = v.id
            JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
           WHERE v.store_id = ANY($1::uuid[])
           GROUP BY v.store_id, v.id, v.quantity, v.committed_quantity
          HAVING v.quantity <> coalesce(sum(l.quantity) FILTER (WHERE w.fulfils_online_orders), 0)
              OR v.committed_quantity <> coalesce(sum(l.committed_quantity) FILTER (WHERE w.fulfils_online_orders), 0)) bad)::int
     + (SELECT count(*) FROM (
          SELECT i.id FROM items i JOIN variants v ON v.store_id = i.store_id AND v.item_id = i.id
           WHERE i.store_id = ANY($1::uuid[])
           GROUP BY i.store_id, i.id, i.quantity, i.committed_quantity
          HAVING i.quantity <> sum(v.quantity) OR i.committed_quantity <> sum(v.committed_quantity)) bad)::int AS unbalanced,
       -- numbers are unique per store, so 1..last without gaps means count = max = last
       (SELECT coalesce(sum(abs(coalesce(c.last_number, 0) - o.n) + abs(coalesce(c.last_number, 0) - o.top)), 0)
          FROM stores s
          LEFT JOIN order_counters c ON c.store_id = s.id
          LEFT JOIN LATERAL (SELECT count(*) AS n, coalesce(max(number), 0) AS top FROM orders WHERE store_id = s.id) o ON true
         WHERE s.id = ANY($1::uuid[]))::int AS "numberGaps"`,
    [storeIds],
  );
  return rows[0]!;
}

export async function countOrders(pool: pg.Pool, storeIds: readonly string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE store_id = ANY($1::uuid[])", [storeIds]);
  return rows[0]!.n;
}

export type VariantStore = BenchStore & { items: { itemId: string; variantIds: string[] }[]; warehouseIds: string[] };

/**
 * A store with two warehouses that fulfil online orders (the main one first, priority 0, then
 * "Bodega 2", priority 1) and `items` tracked products sold in sizes S, M and L, in the shape the
 * service keeps them (as test/support/bulk-items.ts does for items without options): S and M
 * have `quantity` units in each warehouse, L only in the second; one INITIAL_COUNT movement per
 * stocked level. An order of the three sizes of an item therefore takes S and M from the main
 * warehouse and L from the second: three variants, two warehouses.
 */
export async function seedVariantStore(pool: pg.Pool, slug: string, items: number, quantity: number): Promise<VariantStore> {
  const store = await createStore(prismaOf(pool), { slug, name: `Bench ${slug}` });
  if (!("adminToken" in store)) throw new Error(store.message);
  await pool.query(`INSERT INTO warehouses (store_id, name, fulfils_online_orders, priority) VALUES ($1, 'Bodega 2', true, 1)`, [store.id]);
  const { rows } = await pool.query<{ itemId: string; variantIds: string[] }>(
    `WITH created AS (
       INSERT INTO items (store_id, name, type, price, track_inventory, quantity, availability, options)
       SELECT $1, 'Camiseta ' || g, 'PRODUCT', 19.90, true, 5 * $3, 'IN_STOCK', '[{"name": "Talla", "values": ["S", "M", "L"]}]'::jsonb
         FROM generate_series(1, $2) g
       RETURNING id
     ), sizes AS (
       SELECT * FROM unnest(ARRAY['S', 'M', 'L']) WITH ORDINALITY AS s(size, n)
     ), variants AS (
       INSERT INTO variants (store_id, item_id, is_default, position, options, option_key, quantity, availability)
       SELECT $1, c.id, false, s.n - 1, jsonb_build_array(jsonb_build_object('name', 'Talla', 'value', s.size)), lower(s.size),
              CASE WHEN s.size = 'L' THEN $3 ELSE 2 * $3 END, 'IN_STOCK'
         FROM created c CROSS JOIN sizes s
       RETURNING id, item_id, option_key, position
     ), levels AS (
       INSERT INTO stock_levels (store_id, variant_id, warehouse_id, quantity)
       SELECT $1, v.id, w.id, CASE WHEN w.is_main AND v.option_key = 'l' THEN 0 ELSE $3 END
         FROM variants v CROSS JOIN warehouses w WHERE w.store_id = $1
       RETURNING variant_id, warehouse_id, quantity
     ), counted AS (
       INSERT INTO stock_movements (store_id, item_id, variant_id, warehouse_id, delta, quantity_after, reason)
       SELECT $1, v.item_id, l.variant_id, l.warehouse_id, l.quantity, l.quantity, 'INITIAL_COUNT'
         FROM levels l JOIN variants v ON v.id = l.variant_id WHERE l.quantity <> 0
     )
     SELECT item_id AS "itemId", array_agg(id ORDER BY position) AS "variantIds" FROM variants GROUP BY item_id ORDER BY item_id`,
    [store.id, items, quantity],
  );
  await pool.query("ANALYZE items; ANALYZE variants; ANALYZE stock_levels");
  const warehouses = await pool.query<{ id: string }>("SELECT id FROM warehouses WHERE store_id = $1 ORDER BY priority", [store.id]);
  return {
    id: store.id,
    slug: store.slug,
    token: store.adminToken,
    itemIds: rows.map((row) => row.itemId),
    items: rows,
    warehouseIds: warehouses.rows.map((row) => row.id),
  };
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
  // (a shared machine under a long run can take more than the tests' 30 s to start it)
  const server = await spawnService({ env: { NODE_ENV: "production", ...env }, name, nodeArgs: [...profile, ...nodeArgs], timeoutMs: 120_000 });
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

/** POSTs a JSON body over `agent` (keep-alive) and answers the response's text, whatever its status. */
export function postJson(url: URL, agent: http.Agent, body: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve(text));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
