import { spawn } from "node:child_process";
import autocannon from "autocannon";
import type pg from "pg";
import { busyPercent, checkInvariants, countOrders, machineCpu, processCpuMs, round, type BenchStore, type ServerProcess } from "./support.ts";

/** What a storefront checkout asks for: the order's number and total, or why it was refused. */
export const PLACE_ORDER = `mutation PlaceOrder($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number status total }
    ... on InsufficientStockError { code message shortages { itemId requested available } }
    ... on OperationError { code message field }
  }
}`;

export type OrdersOptions = {
  concurrency: number;
  /** measured time of each side, split over `rounds` that alternate GraphQL and raw SQL */
  durationMs: number;
  rounds: number;
  warmupMs: number;
};

type Side = { orders: number; ms: number; cpuMs: number; busy: number[]; failures: number };

/** One line of 1 unit: of the only item (hot), or of a random one of the store's items (spread). */
function linePicker(store: BenchStore) {
  const ids = store.itemIds;
  return () => ({ itemId: ids.length === 1 ? ids[0]! : ids[Math.floor(Math.random() * ids.length)]!, quantity: 1 });
}

/**
 * placeOrder over GraphQL HTTP with autocannon: `concurrency` connections with one request in
 * flight each. Counts only answers that are an Order; the rest are reported.
 */
function graphqlLoad(server: ServerProcess, store: BenchStore, concurrency: number) {
  const nextLine = linePicker(store);
  const tally = { orders: 0, other: 0, firstOther: undefined as string | undefined, latencies: [] as number[] };
  const run = async (durationMs: number) => {
    const before = { orders: tally.orders, other: tally.other };
    const cpuBefore = processCpuMs(server.child.pid!);
    const machineBefore = machineCpu();
    const result = await autocannon({
      url: `${server.url}/graphql`,
      connections: concurrency,
      pipelining: 1,
      duration: durationMs / 1000,
      requests: [
        {
          method: "POST",
          path: "/graphql",
          headers: { "content-type": "application/json" },
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({ query: PLACE_ORDER, variables: { store: store.slug, input: { lines: [nextLine()] } } }),
          }),
          onResponse: (_status, body) => {
            if (body.includes('"__typename":"Order"')) tally.orders++;
            else {
              tally.other++;
              tally.firstOther ??= body.slice(0, 500);
            }
          },
        },
      ],
    });
    tally.latencies.push(result.latency.p99);
    return {
      orders: tally.orders - before.orders,
      failures: tally.other - before.other + result.errors + result.timeouts + result.non2xx,
      ms: result.duration * 1000,
      cpuMs: processCpuMs(server.child.pid!) - cpuBefore,
      busy: busyPercent(machineBefore, machineCpu()),
      p50: result.latency.p50,
      p99: result.latency.p99,
    };
  };
  return { run, tally };
}

/** The same transactions as raw SQL from a Node process of its own (bench/orders-baseline.ts). */
async function baselineRound(databaseUrl: string, store: BenchStore, concurrency: number, durationMs: number) {
  const args = JSON.stringify({ databaseUrl, storeId: store.id, concurrency, durationMs, warmupMs: 1_000 });
  const child = spawn(process.execPath, ["--import", "tsx", "bench/orders-baseline.ts", args], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`orders baseline exited with ${code}`);
  return JSON.parse(output.trim().split("\n").pop()!) as {
    committed: number;
    refused: number;
    failed: number;
    seconds: number;
    cpuMsPerOrder: number;
    machineBusy: number;
  };
}

/**
 * One orders scenario: GraphQL on one store and raw SQL on its twin, in alternating rounds so
 * that whatever else the shared machine does weighs on both alike; then the invariants of both
 * stores (nothing oversold, ledgers balanced, order numbers without gaps).
 */
export async function ordersScenario(
  name: string,
  server: ServerProcess,
  stores: { graphql: BenchStore; baseline: BenchStore },
  options: OrdersOptions,
  pool: pg.Pool,
  databaseUrl: string,
) {
  const load = graphqlLoad(server, stores.graphql, options.concurrency);
  await load.run(options.warmupMs);
  const graphql: Side = { orders: 0, ms: 0, cpuMs: 0, busy: [], failures: 0 };
  const baseline: Side = { orders: 0, ms: 0, cpuMs: 0, busy: [], failures: 0 };
  const roundRatios: number[] = [];
  const p99s: number[] = [];
  const p50s: number[] = [];
  const roundMs = options.durationMs / options.rounds;
  const committedBefore = await countOrders(pool, stores.graphql.id);
  for (let i = 0; i < options.rounds; i++) {
    const g = await load.run(roundMs);
    const b = await baselineRound(databaseUrl, stores.baseline, options.concurrency, roundMs);
    graphql.orders += g.orders;
    graphql.ms += g.ms;
    graphql.cpuMs += g.cpuMs;
    graphql.busy.push(g.busy);
    graphql.failures += g.failures;
    baseline.orders += b.committed;
    baseline.ms += b.seconds * 1000;
    baseline.cpuMs += b.cpuMsPerOrder * b.committed;
    baseline.busy.push(b.machineBusy);
    baseline.failures += b.failed + b.refused;
    roundRatios.push(round(g.orders / g.ms / (b.committed / (b.seconds * 1000))));
    p50s.push(g.p50);
    p99s.push(g.p99);
  }
  const committed = (await countOrders(pool, stores.graphql.id)) - committedBefore;
  const checks = [await checkInvariants(pool, stores.graphql.id), await checkInvariants(pool, stores.baseline.id)];
  const graphqlPerSec = (graphql.orders / graphql.ms) * 1000;
  const baselinePerSec = (baseline.orders / baseline.ms) * 1000;
  if (load.tally.firstOther) console.error(`[${name}] first answer that was not an Order: ${load.tally.firstOther}`);
  return {
    graphqlPerSec: Math.round(graphqlPerSec),
    baselinePerSec: Math.round(baselinePerSec),
    ratio: round(graphqlPerSec / baselinePerSec),
    roundRatios,
    oversold: checks.reduce((sum, check) => sum + check.oversold, 0),
    unbalancedLedgers: checks.reduce((sum, check) => sum + check.unbalanced, 0),
    orderNumberGaps: checks.reduce((sum, check) => sum + check.numberGaps, 0),
    graphqlFailures: graphql.failures,
    baselineFailures: baseline.failures,
    // orders the server committed during the measured rounds (answered or not when autocannon stopped)
    graphqlCommitted: committed,
    graphqlLatencyP50Ms: Math.max(...p50s),
    graphqlLatencyP99Ms: Math.max(...p99s),
    serverCpuMsPerOrder: round(graphql.cpuMs / graphql.orders),
    baselineCpuMsPerOrder: round(baseline.cpuMs / baseline.orders),
    machineBusyPercent: { graphql: graphql.busy, baseline: baseline.busy },
    concurrency: options.concurrency,
    secondsEach: round((graphql.ms / 1000 + baseline.ms / 1000) / 2, 1),
  };
}
