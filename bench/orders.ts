import { spawn } from "node:child_process";
import autocannon from "autocannon";
import type pg from "pg";
import { checkInvariants, countOrders, type BenchStore, type ServerProcess } from "./support.ts";

/** What a storefront checkout asks for: the order's number and total, or why it was refused. */
export const PLACE_ORDER = `mutation PlaceOrder($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number status total }
    ... on InsufficientStockError { code message shortages { itemId requested available } }
    ... on OperationError { code message field }
  }
}`;

export type OrdersOptions = { concurrency: number; durationMs: number; warmupMs: number };

/** One line of 1 unit: of the only item (hot), or of a random one of the store's items (spread). */
function linePicker(store: BenchStore) {
  const ids = store.itemIds;
  return () => ({ itemId: ids.length === 1 ? ids[0]! : ids[Math.floor(Math.random() * ids.length)]!, quantity: 1 });
}

/**
 * placeOrder over GraphQL HTTP with autocannon: `concurrency` connections, each with one request
 * in flight, for the duration after a warm-up. Counts only answers that are an Order.
 */
export async function graphqlOrders(server: ServerProcess, store: BenchStore, options: OrdersOptions, pool: pg.Pool) {
  const nextLine = linePicker(store);
  let counting = false;
  let orders = 0;
  let refusals = 0;
  let firstRefusal: string | undefined;
  const run = (duration: number) =>
    autocannon({
      url: `${server.url}/graphql`,
      connections: options.concurrency,
      pipelining: 1,
      duration: duration / 1000,
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
            if (!counting) return;
            if (body.includes('"__typename":"Order"')) orders++;
            else {
              refusals++;
              firstRefusal ??= body.slice(0, 500);
            }
          },
        },
      ],
    });
  await run(options.warmupMs);
  const before = await countOrders(pool, store.id);
  counting = true;
  const result = await run(options.durationMs);
  counting = false;
  const committed = (await countOrders(pool, store.id)) - before;
  return {
    perSec: orders / (options.durationMs / 1000),
    orders,
    committed,
    refusals,
    firstRefusal,
    errors: result.errors + result.timeouts + result.non2xx,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}

/** The same transactions as raw SQL from a Node process of its own (bench/orders-baseline.ts). */
export async function baselineOrders(databaseUrl: string, store: BenchStore, options: OrdersOptions) {
  const args = JSON.stringify({ databaseUrl, storeId: store.id, ...options });
  const child = spawn(process.execPath, ["--import", "tsx", "bench/orders-baseline.ts", args], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`orders baseline exited with ${code}`);
  return JSON.parse(output.trim().split("\n").pop()!) as { perSec: number; committed: number; refused: number; failed: number };
}

/**
 * One orders scenario: the GraphQL run on one store, the raw run on a twin store, then the
 * invariants of both (nothing oversold, ledgers balanced, order numbers without gaps).
 */
export async function ordersScenario(
  name: string,
  server: ServerProcess,
  stores: { graphql: BenchStore; baseline: BenchStore },
  options: OrdersOptions,
  pool: pg.Pool,
  databaseUrl: string,
) {
  const graphql = await graphqlOrders(server, stores.graphql, options, pool);
  const baseline = await baselineOrders(databaseUrl, stores.baseline, options);
  const checks = [await checkInvariants(pool, stores.graphql.id), await checkInvariants(pool, stores.baseline.id)];
  const result = {
    graphqlPerSec: Math.round(graphql.perSec),
    baselinePerSec: Math.round(baseline.perSec),
    ratio: Math.round((graphql.perSec / baseline.perSec) * 100) / 100,
    oversold: checks.reduce((sum, check) => sum + check.oversold, 0),
    unbalancedLedgers: checks.reduce((sum, check) => sum + check.unbalanced, 0),
    orderNumberGaps: checks.reduce((sum, check) => sum + check.numberGaps, 0),
    graphqlLatencyP50Ms: graphql.latencyP50Ms,
    graphqlLatencyP99Ms: graphql.latencyP99Ms,
    graphqlRefusedOrErrors: graphql.refusals + graphql.errors,
    baselineFailed: baseline.failed + baseline.refused,
    concurrency: options.concurrency,
    durationS: options.durationMs / 1000,
  };
  if (graphql.firstRefusal) console.error(`[${name}] first answer that was not an Order: ${graphql.firstRefusal}`);
  return result;
}
