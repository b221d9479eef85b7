/**
 * `npm run bench`: order throughput and live fan-out of the service against raw floors measured
 * in the same run on the same machine. Prints a table and writes bench/results/latest.json.
 * See bench/README.md for what each number means and how it is taken.
 *
 * Environment: DATABASE_URL (a server where the bench may create its databases, default the local
 * PostgreSQL), REDIS_URL (default the local Redis), BENCH_ONLY=orders|reads|before|flash|flash-holds|overload|fanout|cross|cluster|bulk|import
 * (flash: the flash sale without and with cart holds, flash-holds: with them only; before: this version's checkout against BENCH_BEFORE_REF's, bench/before-after.ts; cross: the
 * two cross-process figures, single Redis and cluster; cluster: the cluster one; a
 * partial run replaces its sections of BENCH_OUT and keeps the others), BENCH_SCENARIOS (the
 * orders scenarios to run, default hot,spread,platform,multiline,variants,holds), BENCH_DURATION_S
 * (measured seconds of each side of an orders scenario, default 15), BENCH_CONCURRENCY (default
 * 16), BENCH_FLOORS_DIR (default ../shared/floors), BENCH_FLASH_* (bench/flash-sale.ts), BENCH_OVERLOAD_* (bench/overload.ts),
 * BENCH_FANOUT_SIZES (default 1000,5000,10000), BENCH_UPDATES (default 20), BENCH_PROFILE=1 (CPU
 * profiles of the server processes under bench/results/profiles), BENCH_BULK_* (bench/bulk-counts.ts), BENCH_IMPORT_ROWS (bench/import-in-console.ts), BENCH_OUT (default
 * bench/results/latest.json).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import pg from "pg";
import { beforeAfterOptions, beforeAfterScenario } from "./before-after.ts";
import { bulkCountsOptions, bulkCountsScenario } from "./bulk-counts.ts";
import { importInConsoleScenario, importRows } from "./import-in-console.ts";
import { crossProcessClusterScenario, crossProcessScenario, fanoutScenario } from "./fanout.ts";
import { flashSaleOptions, flashSaleScenario } from "./flash-sale.ts";
import { floorAvailable, freshFloorDatabase, PGBENCH } from "./floor.ts";
import { heldRateOf, overloadOptions, overloadScenario } from "./overload.ts";
import { ORDERS_SCENARIOS, ordersScenario, seedOrdersScenario, type OrdersScenarioName } from "./orders.ts";
import { seedCatalog, storefrontReadsScenario } from "./storefront-reads.ts";
import { freshBenchDatabase, REDIS_URL, seedStore, startServer } from "./support.ts";

const only = process.env.BENCH_ONLY;
/** Which parts run: all of them, or BENCH_ONLY's. */
const parts = {
  orders: !only || only === "orders",
  storefrontReads: !only || only === "reads",
  beforeAfter: !only || only === "before",
  flashSale: !only || only === "flash",
  // the flash sale again, every buyer holding its unit first (cart holds)
  flashSaleHolds: !only || only === "flash" || only === "flash-holds",
  overload: !only || only === "overload",
  fanout: !only || only === "fanout",
  crossProcess: !only || only === "fanout" || only === "cross",
  crossProcessCluster: !only || only === "fanout" || only === "cross" || only === "cluster",
  bulkCounts: !only || only === "bulk",
  importInConsole: !only || only === "import",
};
const scenarios = (process.env.BENCH_SCENARIOS?.split(",") ?? [...ORDERS_SCENARIOS]) as OrdersScenarioName[];
for (const name of scenarios) if (!ORDERS_SCENARIOS.includes(name)) throw new Error(`BENCH_SCENARIOS: no scenario "${name}" (${ORDERS_SCENARIOS.join(", ")})`);
const durationMs = Number(process.env.BENCH_DURATION_S ?? 15) * 1000;
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** A flash sale's crowd: every orders scenario runs again at this many shoppers, its floor too (0: not). */
const crowd = Number(process.env.BENCH_CROWD ?? 256);
const out = process.env.BENCH_OUT ?? "bench/results/latest.json";
const fanoutSizes = (process.env.BENCH_FANOUT_SIZES ?? "1000,5000,10000").split(",").map(Number);
const updates = Number(process.env.BENCH_UPDATES ?? 20);
/**
 * The service as deployed, except that one client may place any number of orders and open any
 * number of WebSockets (the bench is one client, on one address).
 */
const serverEnv = (databaseUrl: string) => ({ DATABASE_URL: databaseUrl, REDIS_URL, ORDER_RATE_LIMIT_PER_MINUTE: "1000000000", WS_MAX_SOCKETS_PER_CLIENT: "100000" });

async function main() {
  const started = Date.now();
  const databaseUrl = await freshBenchDatabase();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version },
  };

  // a part that fails is reported and the others still run; the file is written either way
  const failed: Record<string, string> = {};
  const measured = async (name: string, part: () => Promise<void>) => {
    try {
      await part();
    } catch (error) {
      failed[name] = error instanceof Error ? error.message : String(error);
      console.error(error);
      log(`${name}: FAILED, going on with the other parts`);
    }
  };

  if (parts.orders) await measured("orders", async () => {
    const missing = floorAvailable();
    if (missing) throw new Error(`the floor cannot run: ${missing}`);
    const floorUrl = await freshFloorDatabase();
    log(`floor: ${PGBENCH ? `Node pg and ${PGBENCH}` : "Node pg (pgbench is not installed)"}, database ${new URL(floorUrl).pathname.slice(1)}`);
    const seeded = [];
    for (const name of scenarios) {
      log(`orders.${name}: seeding`);
      seeded.push(await seedOrdersScenario(name, pool));
    }
    await pool.query("VACUUM ANALYZE");
    // orders.holds' shoppers are addresses of their own behind one trusted proxy (at most 5 holds a client)
    // closed-loop shoppers send their next order the moment one is answered, a 503 too: they
    // measure throughput at a concurrency, not overload (that is the overload part, with shedding on)
    const server = await startServer({ ...serverEnv(databaseUrl), TRUST_PROXY: "1", LOAD_SHEDDING: "false" }, "orders-server");
    try {
      const options = { concurrency, durationMs, rounds: 3, warmupMs: 3_000 };
      const orders: Record<string, unknown> = {};
      for (const scenario of seeded) {
        log(`orders.${scenario.name}: GraphQL, then the floor (${scenario.floor}) from Node${PGBENCH ? " and pgbench" : ""}, ${concurrency} concurrent, ${durationMs / 1000} s each`);
        const result: Record<string, unknown> = await ordersScenario(scenario, server, options, pool, floorUrl);
        if (crowd > 0) {
          log(`orders.${scenario.name}: the same at ${crowd} concurrent shoppers, the floor too`);
          const at = await ordersScenario(scenario, server, { ...options, concurrency: crowd }, pool, floorUrl);
          result[`at${crowd}`] = {
            graphqlPerSec: at.graphqlPerSec,
            floorPerSec: at.floorPerSec,
            floorRatio: at.floorRatio,
            graphqlLatencyP99Ms: at.graphqlLatencyP99Ms,
            serverCpuMsPerOrder: at.serverCpuMsPerOrder,
            meanCheckoutBatch: at.meanCheckoutBatch,
            batchSizeP50: at.batchSizeP50,
            batchSizeMax: at.batchSizeMax,
            oversold: at.oversold,
            unbalancedLedgers: at.unbalancedLedgers,
            orderNumberGaps: at.orderNumberGaps,
            graphqlFailures: at.graphqlFailures,
          };
        }
        orders[scenario.name] = result;
        log(`orders.${scenario.name}: ${JSON.stringify(result)}`);
      }
      results.orders = orders;
    } finally {
      await server.stop();
    }
  });

  if (parts.storefrontReads) await measured("storefrontReads", async () => {
    log("storefrontReads: seeding a catalog of 200 items in 3 sizes");
    const store = await seedCatalog(pool);
    await pool.query("VACUUM ANALYZE");
    const server = await startServer(serverEnv(databaseUrl), "reads-server");
    try {
      log(`storefrontReads: a catalog page of 50 items over GraphQL, then the same rows from Node pg, ${concurrency} concurrent, ${durationMs / 1000} s each`);
      results.storefrontReads = await storefrontReadsScenario(store, server, { concurrency, durationMs, rounds: 3, warmupMs: 3_000 }, databaseUrl);
      log(`storefrontReads: ${JSON.stringify(results.storefrontReads)}`);
    } finally {
      await server.stop();
    }
  });

  if (parts.beforeAfter) await measured("beforeAfter", async () => {
    const options = beforeAfterOptions(durationMs);
    log(`beforeAfter: this version against ${options.ref}, ${options.scenarios.join(", ")}, ${options.rounds} alternating turns of ${options.seconds} s each`);
    results.beforeAfter = await beforeAfterScenario(options, log);
    log(`beforeAfter: ${JSON.stringify(results.beforeAfter)}`);
  });

  if (parts.flashSale) await measured("flashSale", async () => {
    log("flashSale: seeding 100 stores");
    results.flashSale = await flashSaleScenario(pool, serverEnv(databaseUrl), flashSaleOptions(), log);
    log(`flashSale: ${JSON.stringify(results.flashSale)}`);
  });

  if (parts.flashSaleHolds) await measured("flashSaleHolds", async () => {
    log("flashSaleHolds: seeding 100 stores; every buyer holds its unit, then orders with the hold");
    results.flashSaleHolds = await flashSaleScenario(pool, { ...serverEnv(databaseUrl), TRUST_PROXY: "1" }, { ...flashSaleOptions(), withHolds: true }, log);
    log(`flashSaleHolds: ${JSON.stringify(results.flashSaleHolds)}`);
  });

  if (parts.overload) await measured("overload", async () => {
    // the flash sale's held rate: BENCH_OVERLOAD_RATE, this run's, the last run's, or searched for
    const last = existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : undefined;
    const options = overloadOptions(heldRateOf(results.flashSale as never) ?? heldRateOf(last?.flashSale));
    log(`overload: seeding 100 stores; then ${options.factor}x the flash sale's held rate (${options.heldRate ?? "to be found"}) for ${options.overloadMs / 1000} s`);
    results.overload = await overloadScenario(pool, serverEnv(databaseUrl), options, log);
    log(`overload: ${JSON.stringify(results.overload)}`);
  });

  if (parts.fanout || parts.crossProcess || parts.crossProcessCluster) {
    const store = await seedStore(pool, "bench-live", 1, 1_000);
    // a fan-out of 10,000 deliveries keeps the event loop busy past the shedding bound on purpose:
    // these parts measure delivery, not overload, so the next update must not be shed
    const context = { databaseUrl, redisUrl: REDIS_URL, store, serverEnv: { ...serverEnv(databaseUrl), LOAD_SHEDDING: "false" } };
    const options = { updates, warmupUpdates: 2, intervalMs: 100 };
    if (parts.fanout) await measured("fanout", async () => {
      const fanout: Record<string, unknown> = {};
      for (const n of fanoutSizes) {
        log(`fanout: ${n} subscribers on one service process, then on a raw ws server; ${updates} updates`);
        fanout[n] = await fanoutScenario(n, context, options);
        log(`fanout.${n}: ${JSON.stringify(fanout[n])}`);
      }
      results.fanout = fanout;
    });
    const crossN = Number(process.env.BENCH_CROSS_SUBSCRIBERS ?? 1000);
    // twice the updates: a difference of two p99s over only 1,000 subscribers each is noisy
    const crossOptions = { ...options, updates: updates * 2 };
    if (parts.crossProcess) await measured("crossProcess", async () => {
      log(`crossProcess: ${crossN} subscribers on each of two service processes sharing Redis`);
      results.crossProcess = await crossProcessScenario(crossN, context, crossOptions);
      log(`crossProcess: ${JSON.stringify(results.crossProcess)}`);
    });
    if (parts.crossProcessCluster) await measured("crossProcessCluster", async () => {
      log(`crossProcessCluster: the same on a Redis Cluster of 3 masters and 3 replicas (sharded pub/sub)`);
      results.crossProcessCluster = await crossProcessClusterScenario(crossN, context, crossOptions);
      log(`crossProcessCluster: ${JSON.stringify(results.crossProcessCluster)}`);
    });
  }

  if (parts.bulkCounts) await measured("bulkCounts", async () => {
    const options = bulkCountsOptions();
    log(`bulkCounts: one call of 250 entries against 50 single calls, ${options.turns} alternating turns; then a shop of ${options.shopItems} counted and exported`);
    results.bulkCounts = await bulkCountsScenario(pool, serverEnv(databaseUrl), options, log);
    log(`bulkCounts: ${JSON.stringify(results.bulkCounts)}`);
  });

  if (parts.importInConsole) await measured("importInConsole", async () => {
    log(`importInConsole: the console's Importar in Chromium, ${importRows()} rows`);
    results.importInConsole = await importInConsoleScenario(pool, serverEnv(databaseUrl), importRows(), log);
    log(`importInConsole: ${JSON.stringify(results.importInConsole)}`);
  });

  await pool.end();
  // (undefined: a partial run that failed nowhere clears what an earlier run had failed)
  results.failedParts = Object.keys(failed).length > 0 ? failed : undefined;
  results.totalSeconds = Math.round((Date.now() - started) / 1000);
  mkdirSync("bench/results", { recursive: true });
  // a partial run keeps the sections of the last full run that it did not measure
  const partial = only || process.env.BENCH_SCENARIOS ? { only: only ?? "all", scenarios: process.env.BENCH_SCENARIOS, at: results.at, totalSeconds: results.totalSeconds } : undefined;
  const last = partial && existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : undefined;
  // ...and of the orders section, the scenarios it did not run
  if (last?.orders && results.orders) results.orders = { ...last.orders, ...(results.orders as object) };
  const written = last ? { ...last, ...results, at: last.at, totalSeconds: last.totalSeconds, partial } : results;
  writeFileSync(out, `${JSON.stringify(written, null, 2)}\n`);
  printTable(results);
  log(`wrote ${out} in ${results.totalSeconds} s`);
  if (results.failedParts) {
    log(`parts that failed: ${Object.keys(failed).join(", ")}`);
    process.exitCode = 1;
  }
}

/** A scenario's checkout batches in the table: mean, median and largest (the bound of the highest bucket reached). */
const batchNote = (r: { meanCheckoutBatch: number | null; batchSizeP50?: number | null; batchSizeMax?: number | null }) =>
  `batch mean ${r.meanCheckoutBatch}, p50 ${r.batchSizeP50 ?? "-"}, max <= ${r.batchSizeMax ?? "-"}`;

function printTable(results: Record<string, any>) {
  const rows: string[][] = [["measure", "service", "raw floor", "ratio", "target", "notes"]];
  for (const name of ORDERS_SCENARIOS) {
    const r = results.orders?.[name];
    if (!r) continue;
    rows.push([
      `orders.${name} (orders/s)`,
      String(r.graphqlPerSec),
      `${r.floorPerSec} (${r.floorCase})`,
      String(r.floorRatio),
      ">= 0.5",
      `pgbench ${r.pgbenchPerSec ?? "-"} (${r.pgbenchRatio ?? "-"}), oversold ${r.oversold}, unbalanced ${r.unbalancedLedgers}, gaps ${r.orderNumberGaps}, p99 ${r.graphqlLatencyP99Ms} ms, CPU ${r.serverCpuMsPerOrder}/${r.floorCpuMsPerOrder} ms per order, ${batchNote(r)}`,
    ]);
    const crowded = r[`at${crowd}`];
    if (crowded) {
      rows.push([
        `orders.${name} at ${crowd} (orders/s)`,
        String(crowded.graphqlPerSec),
        String(crowded.floorPerSec),
        String(crowded.floorRatio),
        `>= ${r.graphqlPerSec} (16)`,
        `oversold ${crowded.oversold}, unbalanced ${crowded.unbalancedLedgers}, gaps ${crowded.orderNumberGaps}, p99 ${crowded.graphqlLatencyP99Ms} ms, CPU ${crowded.serverCpuMsPerOrder} ms per order, ${batchNote(crowded)}`,
      ]);
    }
  }
  const reads = results.storefrontReads;
  if (reads) {
    rows.push([
      "storefrontReads (pages/s)",
      String(reads.perSec),
      String(reads.floorPerSec),
      String(reads.floorRatio),
      ">= 0.5",
      `${reads.itemsPerPage} items, ${reads.variantsPerPage} variants a page; p99 ${reads.p99Ms}/${reads.floorP99Ms} ms, CPU ${reads.serverCpuMsPerRead} ms per page`,
    ]);
  }
  for (const name of ["hot", "spread", "multiline"]) {
    const r = results.beforeAfter?.[name];
    if (!r) continue;
    rows.push([
      `${name}: this / ${results.beforeAfter.ref} (orders/s)`,
      String(r.after.ordersPerSec),
      `${r.before.ordersPerSec} (before)`,
      String(r.ratio),
      ">= 1",
      `same load, alternating turns; CPU per order: service ${r.after.serverCpuMsPerOrder}/${r.before.serverCpuMsPerOrder} ms, PostgreSQL ${r.after.postgresCpuMsPerOrder}/${r.before.postgresCpuMsPerOrder} ms`,
    ]);
  }
  for (const name of ["flashSale", "flashSaleHolds"]) {
    const flash = results[name];
    if (!flash) continue;
    rows.push([
      `${name} p99 (ms)`,
      String(flash.p99Ms),
      "",
      "",
      "",
      `${flash.subscribers} subscribers, ${flash.ordersPerSec} ${flash.withHolds ? "buyers (hold, then order)" : "orders"}/s held (${flash.deliveriesPerSec} deliveries/s), p50 ${flash.p50Ms} ms, order p99 ${flash.orderP99Ms} ms, version gaps ${flash.versionGaps}, oversold ${flash.oversold}`,
    ]);
  }
  const overload = results.overload;
  if (overload) {
    rows.push([
      `overload: p99 of admitted orders (ms)`,
      String(overload.admittedP99Ms),
      `${overload.heldP99Ms} (at ${overload.heldRate}/s)`,
      String(overload.p99Ratio),
      "<= 2",
      `${overload.overloadRate}/s for ${overload.seconds} s: ${Math.round(overload.shedShare * 100)}% shed (503), RSS peak ${overload.rssPeakMB} MB, answered but missing ${overload.answeredMissing}, refused but placed ${overload.refusedFound}, oversold ${overload.oversold}, unbalanced ${overload.unbalancedLedgers}`,
    ]);
  }
  for (const [n, r] of Object.entries<any>(results.fanout ?? {})) {
    rows.push([
      `fanout ${n} p99 (ms)`,
      String(r.p99Ms),
      String(r.baselineP99Ms),
      String(r.ratio),
      n === "10000" ? "<= 2" : "",
      `p50 ${r.p50Ms}/${r.baselineP50Ms} ms, CPU ${r.cpuUsPerDelivery}/${r.baselineCpuUsPerDelivery} µs per message, ${r.rssPerSubscriberKB} KB/subscriber (raw ${r.baselineRssPerSubscriberKB}), received ${r.received}/${r.expected}`,
    ]);
  }
  const cross = results.crossProcess;
  if (cross) {
    rows.push([
      `crossProcess p99 (ms)`,
      String(cross.p99Ms),
      String(cross.singleProcessP99Ms),
      `${cross.differenceMs >= 0 ? "+" : ""}${cross.differenceMs} ms`,
      "<= +20 ms",
      `${cross.subscribersPerProcess} subscribers on each process; raw floor column = same-process p99`,
    ]);
  }
  const cluster = results.crossProcessCluster;
  if (cluster) {
    rows.push([
      `crossProcess on a Redis Cluster p99 (ms)`,
      String(cluster.p99Ms),
      String(cluster.singleProcessP99Ms),
      `${cluster.differenceMs >= 0 ? "+" : ""}${cluster.differenceMs} ms`,
      "<= +20 ms",
      `the same, SPUBLISH/SSUBSCRIBE on ${cluster.clusterMasters} masters + ${cluster.clusterReplicas} replicas`,
    ]);
  }
  const bulk = results.bulkCounts;
  if (bulk) {
    rows.push([
      `bulk count of 250 / 50 single counts (ms)`,
      String(bulk.bulk250Ms),
      `${bulk.fiftySinglesMs} (50 singles)`,
      String(bulk.wallRatio),
      "< 1",
      `CPU (service + PostgreSQL) ${bulk.bulk250CpuMs}/${bulk.fiftySinglesCpuMs} ms (${bulk.cpuRatio}), per entry ${bulk.bulkCpuMsPerEntry}/${bulk.singleCpuMsPerEntry} ms`,
    ]);
    rows.push([
      `shop count, ${bulk.shopEntries} entries in calls of 250 (s)`,
      String(bulk.shopCountSeconds),
      "",
      "",
      "< 10",
      `export of its ${bulk.exportLevels} levels: ${bulk.exportMs} ms, ${bulk.exportBytes} bytes`,
    ]);
  }
  const imported = results.importInConsole;
  if (imported) {
    rows.push([
      `console Importar, ${imported.rows} rows: Aplicar (s)`,
      String(imported.applySeconds),
      "",
      "",
      "< 10",
      `${imported.calls} calls of 250 in Chromium; the preview took ${imported.previewSeconds} s; load average ${imported.machineLoad}`,
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  console.log([line(rows[0]!), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)].join("\n"));
}

const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
