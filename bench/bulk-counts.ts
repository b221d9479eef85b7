/**
 * Bulk counts (SPEC section 9): what one setItemQuantities call of 250 entries costs against 50
 * setItemQuantity calls, the whole shop's count as the console's Aplicar sends it (10,000
 * entries in calls of 250 with expectedQuantity), and the spreadsheet export of that shop.
 * Cost is wall time of the calls one after another (as a client sends them) and CPU of the
 * service process and of the PostgreSQL backends serving the bench database, in alternating
 * turns so that the machine's other load falls on both sides alike.
 */
import pg from "pg";
import { percentile, processCpuMs, round, seedStore, startServer, type BenchStore, type ServerProcess } from "./support.ts";

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const median = (values: readonly number[]) => percentile([...values].sort((a, b) => a - b), 50);

export type BulkCountsOptions = { turns: number; shopItems: number };

export const bulkCountsOptions = (): BulkCountsOptions => ({
  turns: Number(process.env.BENCH_BULK_TURNS ?? 10),
  shopItems: Number(process.env.BENCH_BULK_SHOP_ITEMS ?? 10_000),
});

const SET_QUANTITIES = `mutation($input: SetItemQuantitiesInput!) {
  setItemQuantities(input: $input) { __typename ... on BulkQuantitiesSet { changed } ... on BulkQuantitiesRefused { errors { index code } } }
}`;
const SET_QUANTITY = `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { __typename } }`;

type Cost = { wallMs: number; serviceCpuMs: number; postgresCpuMs: number };

export async function bulkCountsScenario(pool: pg.Pool, serverEnv: Record<string, string>, options: BulkCountsOptions, log: (message: string) => void) {
  const counted = await seedStore(pool, "bench-bulk", 250, 100);
  const shop = await seedStore(pool, "bench-bulk-shop", options.shopItems, 100);
  await pool.query("VACUUM ANALYZE");
  const server = await startServer(serverEnv, "bulk-server");
  try {
    const call = async (query: string, input: unknown, expected: string) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${counted.token}` },
        body: JSON.stringify({ query, variables: { input } }),
      });
      const body = await response.text();
      if (!body.includes(`"__typename":"${expected}"`)) throw new Error(`bulk counts bench: unexpected answer ${body.slice(0, 300)}`);
    };
    let count = 100;
    const bulkCall = () => call(SET_QUANTITIES, { entries: counted.itemIds.map((itemId) => ({ itemId, quantity: count })), note: "bench" }, "BulkQuantitiesSet");
    const fiftySingles = async () => {
      for (const itemId of counted.itemIds.slice(0, 50)) await call(SET_QUANTITY, { itemId, quantity: count, note: "bench" }, "Item");
    };
    // warm-up: both paths planned and compiled once
    count++;
    await bulkCall();
    await fiftySingles();
    const bulk: Cost[] = [];
    const singles: Cost[] = [];
    for (let turn = 0; turn < options.turns; turn++) {
      // every turn a new count, so that every entry changes its level
      count++;
      const sides: [Cost[], () => Promise<void>][] = [
        [bulk, bulkCall],
        [singles, fiftySingles],
      ];
      if (turn % 2 === 1) sides.reverse();
      for (const [costs, side] of sides) costs.push(await measure(server, pool, side));
    }
    const bulkMs = median(bulk.map((cost) => cost.wallMs));
    const singlesMs = median(singles.map((cost) => cost.wallMs));
    const cpu = (costs: Cost[]) => mean(costs.map((cost) => cost.serviceCpuMs + cost.postgresCpuMs));
    const result = {
      turns: options.turns,
      bulk250Ms: round(bulkMs),
      fiftySinglesMs: round(singlesMs),
      /** one call of 250 entries against 50 single calls, wall time: below 1 is cheaper */
      wallRatio: round(bulkMs / singlesMs, 3),
      bulk250CpuMs: round(cpu(bulk)),
      fiftySinglesCpuMs: round(cpu(singles)),
      cpuRatio: round(cpu(bulk) / cpu(singles), 3),
      bulkCpuMsPerEntry: round(cpu(bulk) / 250, 3),
      singleCpuMsPerEntry: round(cpu(singles) / 50, 3),
      ...(await shopCount(server, pool, shop, log)),
    };
    return result;
  } finally {
    await server.stop();
  }
}

/** The whole shop counted as the console's Aplicar sends it, then exported as the spreadsheet. */
async function shopCount(server: ServerProcess, pool: pg.Pool, shop: BenchStore, log: (message: string) => void) {
  const { rows } = await pool.query<{ itemId: string; quantity: number }>(
    `SELECT item_id AS "itemId", quantity FROM variants WHERE store_id = $1 ORDER BY item_id`,
    [shop.id],
  );
  const calls: unknown[] = [];
  for (let start = 0; start < rows.length; start += 250) {
    const entries = rows.slice(start, start + 250).map((row) => ({ itemId: row.itemId, quantity: row.quantity + 1, expectedQuantity: row.quantity }));
    calls.push({ entries, note: "Importado de hoja de cálculo" });
  }
  log(`bulkCounts: ${rows.length} entries in ${calls.length} calls of 250`);
  const counted = await measure(server, pool, async () => {
    for (const input of calls) {
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${shop.token}` },
        body: JSON.stringify({ query: SET_QUANTITIES, variables: { input } }),
      });
      const body = await response.text();
      if (!body.includes('"changed":250') && !body.includes(`"changed":${rows.length % 250}`)) throw new Error(`shop count: ${body.slice(0, 300)}`);
    }
  });
  let bytes = 0;
  const exported = await measure(server, pool, async () => {
    const response = await fetch(`${server.url}/admin/inventory.csv`, { headers: { authorization: `Bearer ${shop.token}` } });
    bytes = (await response.arrayBuffer()).byteLength;
  });
  return {
    shopEntries: rows.length,
    shopCountSeconds: round(counted.wallMs / 1000, 2),
    shopCountCpuMs: round(counted.serviceCpuMs + counted.postgresCpuMs),
    exportLevels: rows.length,
    exportMs: round(exported.wallMs),
    exportBytes: bytes,
  };
}

async function measure(server: ServerProcess, pool: pg.Pool, work: () => Promise<void>): Promise<Cost> {
  const backends = cpuOf(await benchBackends(pool));
  const started = { at: performance.now(), service: processCpuMs(server.child.pid!) };
  await work();
  const wallMs = performance.now() - started.at;
  const serviceCpuMs = processCpuMs(server.child.pid!) - started.service;
  let postgresCpuMs = 0;
  // a backend that came meanwhile started from nothing
  for (const [pid, cpu] of cpuOf(await benchBackends(pool))) postgresCpuMs += cpu - (backends.get(pid) ?? 0);
  return { wallMs, serviceCpuMs, postgresCpuMs };
}

/** The PostgreSQL backends connected to the bench database (other databases of the server are not counted). */
async function benchBackends(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  return rows.map((row) => row.pid);
}

/** CPU used so far by each of these processes, in milliseconds. */
function cpuOf(pids: readonly number[]): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of pids) {
    try {
      cpu.set(pid, processCpuMs(pid));
    } catch {
      // ended meanwhile, or on another machine (a remote DATABASE_URL: PostgreSQL's CPU is then not counted)
    }
  }
  return cpu;
}
