/**
 * `npm run soak`: the service under a steady, mixed load for SOAK_MINUTES (default 5), to see
 * whether anything creeps: memory, latency, event-loop delay, connections. It writes
 * bench/results/soak.json (SOAK_OUT).
 *
 * The load: SOAK_STORES (100) stores of 10 items with deep stock, each held to 1-minute cart
 * holds; SOAK_SUBSCRIBERS (5,000) storefront subscribers spread over them, each watching all its
 * store's items (bench/flash-clients.ts, a process of its own); and operations sent open-loop at
 * SOAK_RATE per second (default half the rate the last flash sale held, from
 * bench/results/latest.json, else 250), each a random store's:
 * - 55% orders of one or two items (1 or 2 units each);
 * - 15% cart holds, each from a shopper of its own (X-Forwarded-For, TRUST_PROXY=1), who after
 *   0-3 s places the order with it (60%), releases it (25%), or leaves it to expire (15%);
 * - 15% counts ("Registrar cantidad": an item back to 1,000,000 units);
 * - 15% cancellations ("Anulado") of one of the store's orders placed earlier in the run.
 *
 * Every 10 s it samples the server (RSS from /proc; heap, event-loop delay p99 and open
 * subscriptions from its /metrics) and PostgreSQL's connections to the database; every window
 * of SOAK_WINDOW_S (300, or 60 for runs under 20 minutes) it reports those and the p99 of each
 * kind of operation, of all of them, and of the live deliveries. At the end, once every hold
 * left behind has expired, the invariants: nothing oversold, ledgers balanced, order numbers
 * without gaps, every order answered exists (and no other), every hold ended once as the
 * driver's answers say (converted, released, expired), no units reserved, every cancellation
 * answered is CANCELLED, and no subscriber missed a version.
 *
 * Its database is BENCH_DATABASE (`npm run soak` sets inventory_soak), dropped and made anew.
 *
 * The target (issue 23): RSS and p99 flat, the last window within 10% of the second (the first
 * is warm-up), and every invariant holding.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { dirname } from "node:path";
import pg from "pg";
import { Clients, deliveryFigures, SET, SUBSCRIBE, versions } from "./flash-sale.ts";
import { PLACE_ORDER } from "./orders.ts";
import { benchDatabaseUrl, checkInvariants, freshBenchDatabase, percentile, postJson, REDIS_URL, round, rssKB, seedStore, sleep, startServer, type BenchStore } from "./support.ts";

const env = (name: string, otherwise: number) => Number(process.env[name] ?? otherwise);
const minutes = env("SOAK_MINUTES", 5);
const windowS = env("SOAK_WINDOW_S", minutes >= 20 ? 300 : 60);
const storesCount = env("SOAK_STORES", 100);
const subscribersCount = env("SOAK_SUBSCRIBERS", 5_000);
const out = process.env.SOAK_OUT ?? "bench/results/soak.json";
const SAMPLE_MS = 10_000;
const ITEMS_PER_STORE = 10;
const DEEP_STOCK = 1_000_000;

/** Half the highest rate the last flash sale held (issue 23), or SOAK_RATE. */
function soakRate(): { rate: number; from: string } {
  if (process.env.SOAK_RATE) return { rate: Number(process.env.SOAK_RATE), from: "SOAK_RATE" };
  try {
    const held = JSON.parse(readFileSync("bench/results/latest.json", "utf8")).flashSale?.ordersPerSec;
    if (typeof held === "number" && held > 0) return { rate: Math.round(held / 2), from: `half the flash sale's ${held}/s in bench/results/latest.json` };
  } catch {}
  return { rate: 250, from: "the default" };
}

const RESERVE = `mutation Reserve($store: String!, $input: ReserveStockInput!) {
  reserveStock(store: $store, input: $input) {
    __typename
    ... on ReservationGrant { token reservation { id } }
    ... on InsufficientStockError { code }
    ... on OperationError { code message }
  }
}`;
const RELEASE = `mutation Release($input: ReservationRefInput!) {
  releaseReservation(input: $input) { __typename ... on Reservation { status } ... on OperationError { code message } }
}`;
const CANCEL = `mutation Cancel($input: ChangeOrderStatusInput!) {
  changeOrderStatus(input: $input) { __typename ... on Order { status } ... on OperationError { code message } }
}`;
const SETTINGS = `mutation Settings($input: UpdateInventorySettingsInput!) {
  updateInventorySettings(input: $input) { __typename ... on OperationError { code message } }
}`;

type Kind = "order" | "hold" | "holdOrder" | "release" | "count" | "cancel";
type SoakStore = BenchStore & { orders: string[] };

/** What the driver saw answered, to hold the database to at the end. */
const tally = {
  ordersPlaced: 0,
  holdsGranted: 0,
  holdsConverted: 0,
  holdsReleased: 0,
  holdsLeft: 0,
  cancelled: 0,
  counts: 0,
  /** answers of none of the expected kinds, and transport errors */
  failures: 0,
  firstFailure: undefined as string | undefined,
};
const cancelledIds = new Set<string>();

type Window = { latencies: Record<Kind, number[]>; samples: Sample[]; failures: number; deliveries?: number[] };
type Sample = { rssMB: number; heapUsedMB: number; eventLoopP99Ms: number; subscriptionsOpen: number; pgConnections: number };
const newWindow = (): Window => ({
  latencies: { order: [], hold: [], holdOrder: [], release: [], count: [], cancel: [] },
  samples: [],
  failures: 0,
});

async function main() {
  const { rate, from } = soakRate();
  const started = Date.now();
  log(`soak: ${minutes} min at ${rate} operations/s (${from}), ${storesCount} stores, ${subscribersCount} subscribers, windows of ${windowS} s`);
  const databaseUrl = await freshBenchDatabase();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const stores: SoakStore[] = [];
  for (let i = 0; i < storesCount; i++) stores.push({ ...(await seedStore(pool, `soak-${i}`, ITEMS_PER_STORE, DEEP_STOCK)), orders: [] });
  await pool.query("VACUUM ANALYZE");
  const storeIds = stores.map((store) => store.id);

  const server = await startServer(
    { DATABASE_URL: databaseUrl, REDIS_URL, ORDER_RATE_LIMIT_PER_MINUTE: "1000000000", WS_MAX_SOCKETS_PER_CLIENT: "100000", TRUST_PROXY: "1" },
    "soak-server",
  );
  const graphql = new URL(`${server.url}/graphql`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let window = newWindow();

  /** One GraphQL request; answers the text and records its latency under `kind`. */
  const post = async (kind: Kind, query: string, variables: unknown, headers: Record<string, string> = {}): Promise<string | null> => {
    const sentAt = performance.now();
    const into = window;
    try {
      const text = await postJson(graphql, agent, JSON.stringify({ query, variables }), headers);
      into.latencies[kind].push(performance.now() - sentAt);
      return text;
    } catch (error) {
      fail(kind, (error as Error).message);
      return null;
    }
  };
  const fail = (kind: Kind, why: string) => {
    tally.failures++;
    window.failures++;
    tally.firstFailure ??= `${kind}: ${why.slice(0, 300)}`;
  };
  const admin = (store: SoakStore) => ({ authorization: `Bearer ${store.token}` });
  const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
  const linesOf = (store: SoakStore) => {
    const first = pick(store.itemIds);
    const second = Math.random() < 0.5 ? pick(store.itemIds) : first;
    const lines = [{ itemId: first, quantity: 1 + Math.floor(Math.random() * 2) }];
    if (second !== first) lines.push({ itemId: second, quantity: 1 + Math.floor(Math.random() * 2) });
    return lines;
  };
  const placed = (store: SoakStore, text: string | null, kind: Kind) => {
    const id = text?.match(/"__typename":"Order","id":"([^"]+)"/)?.[1];
    if (id) {
      tally.ordersPlaced++;
      store.orders.push(id);
      if (store.orders.length > 200) store.orders.splice(0, store.orders.length - 200);
    } else if (text !== null) fail(kind, text);
    return Boolean(id);
  };

  const operations = {
    order: async (store: SoakStore) => {
      placed(store, await post("order", PLACE_ORDER, { store: store.slug, input: { lines: linesOf(store) } }), "order");
    },
    hold: async (store: SoakStore) => {
      const shopper = { "x-forwarded-for": `10.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}` };
      const lines = linesOf(store);
      const text = await post("hold", RESERVE, { store: store.slug, input: { lines } }, shopper);
      const grant = text && /"token":"([^"]+)","reservation":\{"id":"([^"]+)"/.exec(text);
      if (!grant) return void (text !== null && fail("hold", text));
      tally.holdsGranted++;
      const reservation = { id: grant[2]!, token: grant[1]! };
      await sleep(Math.random() * 3_000); // the shopper pays
      const next = Math.random();
      if (next < 0.6) {
        const answer = await post("holdOrder", PLACE_ORDER, { store: store.slug, input: { lines, reservation } }, shopper);
        if (placed(store, answer, "holdOrder")) tally.holdsConverted++;
      } else if (next < 0.85) {
        const answer = await post("release", RELEASE, { input: reservation }, shopper);
        if (answer?.includes('"status":"RELEASED"')) tally.holdsReleased++;
        else if (answer !== null) fail("release", answer);
      } else tally.holdsLeft++;
    },
    count: async (store: SoakStore) => {
      const text = await post("count", SET, { input: { itemId: pick(store.itemIds), quantity: DEEP_STOCK } }, admin(store));
      if (text?.includes('"__typename":"Item"')) tally.counts++;
      else if (text !== null) fail("count", text);
    },
    cancel: async (store: SoakStore) => {
      const orderId = store.orders.shift();
      if (!orderId) return operations.order(store);
      const text = await post("cancel", CANCEL, { input: { orderId, status: "CANCELLED" } }, admin(store));
      if (text?.includes('"status":"CANCELLED"')) {
        tally.cancelled++;
        cancelledIds.add(orderId);
      } else if (text !== null) fail("cancel", text);
    },
  };
  const only = process.env.SOAK_ONLY as keyof typeof operations | undefined; // one kind alone, to tell which one costs what
  const nextOperation = () => {
    if (only) return operations[only];
    const roll = Math.random();
    return roll < 0.55 ? operations.order : roll < 0.7 ? operations.hold : roll < 0.85 ? operations.count : operations.cancel;
  };

  const clients = new Clients();
  const windows: Record<string, unknown>[] = [];
  try {
    for (const store of stores) {
      const text = await post("count", SETTINGS, { input: { reservationMinutes: 1 } }, admin(store));
      if (!text?.includes('"__typename":"InventorySettings"')) throw new Error(`reservationMinutes: ${text?.slice(0, 300)}`);
    }
    log(`soak: connecting ${subscribersCount} subscribers`);
    const perStore = Math.floor(subscribersCount / storesCount);
    const connected = await clients.send<"connected">({
      type: "connect",
      url: graphql.toString().replace(/^http/, "ws"),
      query: SUBSCRIBE,
      subscriptions: stores.map((store, index) => ({
        store: store.slug,
        itemIds: store.itemIds,
        count: perStore + (index < subscribersCount - perStore * storesCount ? 1 : 0),
      })),
    });
    if (connected.failed > 0) throw new Error(`${connected.failed} subscribers could not connect: ${connected.firstError}`);
    // one update of every store proves every subscription registered before the clock starts
    await clients.send({ type: "step", name: "warm-up" });
    for (const store of stores) await operations.count(store);
    if ((await clients.settle(subscribersCount, 5_000)) < subscribersCount) throw new Error("not every subscriber heard the warm-up update");
    const startVersions = await versions(pool, storeIds);

    const sample = async (): Promise<Sample> => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(metrics)?.[1] ?? NaN);
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [new URL(benchDatabaseUrl()).pathname.slice(1)]);
      return {
        rssMB: round(server.rssKB() / 1024, 1),
        heapUsedMB: round(metric("nodejs_heap_size_used_bytes") / 2 ** 20, 1),
        eventLoopP99Ms: round(metric("nodejs_eventloop_lag_p99_seconds") * 1000, 1),
        subscriptionsOpen: metric("graphql_subscriptions_open"),
        // the pool's own (4) and the bench's sampling connection among them
        pgConnections: rows[0]!.n,
      };
    };

    const closeWindow = async (index: number, from: number) => {
      const closed = window;
      window = newWindow();
      const name = `window ${index}`;
      await clients.send({ type: "step", name: `window ${index + 1}` });
      const { latenciesMs } = await clients.send<"latencies">({ type: "latencies", name });
      const p99 = (values: number[]) => (values.length ? round(percentile([...values].sort((a, b) => a - b), 99), 1) : null);
      const all = Object.values(closed.latencies).flat();
      const last = closed.samples.at(-1);
      const report = {
        window: index,
        fromMinute: round((from - clock) / 60_000, 1),
        toMinute: round((Date.now() - clock) / 60_000, 1),
        operations: all.length,
        operationsPerSec: round(all.length / windowS, 1),
        p99Ms: p99(all),
        p99MsByKind: Object.fromEntries(Object.entries(closed.latencies).map(([kind, values]) => [kind, p99(values)])),
        deliveries: latenciesMs.length,
        deliveryP99Ms: p99(latenciesMs),
        rssMB: last?.rssMB ?? null,
        rssMaxMB: Math.max(...closed.samples.map((s) => s.rssMB)),
        heapUsedMB: last?.heapUsedMB ?? null,
        eventLoopP99MaxMs: Math.max(...closed.samples.map((s) => s.eventLoopP99Ms)),
        pgConnectionsMax: Math.max(...closed.samples.map((s) => s.pgConnections)),
        subscriptionsOpen: last?.subscriptionsOpen ?? null,
        failures: closed.failures,
      };
      windows.push(report);
      log(`soak ${name}: ${JSON.stringify(report)}`);
    };

    // open-loop: each operation when it is due, whether or not earlier ones were answered
    log("soak: running");
    window = newWindow();
    await clients.send({ type: "step", name: "window 1" });
    const clock = Date.now();
    const endAt = clock + minutes * 60_000;
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let windowIndex = 1;
    let windowFrom = clock;
    let nextSample = clock + SAMPLE_MS;
    while (Date.now() < endAt) {
      const due = Math.floor((rate * (Date.now() - clock)) / 1000);
      for (; sent < due; sent++) {
        const operation = nextOperation()(pick(stores)).catch((error) => fail("order", String(error)));
        inFlight.add(operation);
        void operation.finally(() => inFlight.delete(operation));
      }
      if (Date.now() >= nextSample) {
        nextSample += SAMPLE_MS;
        window.samples.push(await sample());
      }
      if (Date.now() - windowFrom >= windowS * 1000) {
        await closeWindow(windowIndex++, windowFrom);
        windowFrom = Date.now();
      }
      await sleep(5);
    }
    await Promise.all(inFlight);
    if (window.samples.length === 0) window.samples.push(await sample());
    if (Date.now() - windowFrom >= (windowS * 1000) / 2) await closeWindow(windowIndex, windowFrom);

    // the holds left behind expire within a minute and 5 s; then nothing may stay reserved
    log("soak: waiting for the holds left behind to expire");
    const holdsDeadline = Date.now() + 75_000;
    while (Date.now() < holdsDeadline) {
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM reservations WHERE status = 'HELD' AND store_id = ANY($1::uuid[])", [storeIds]);
      if (rows[0]!.n === 0) break;
      await sleep(1_000);
    }
    await sleep(2_000);
    const endVersions = await versions(pool, storeIds);
    const gaps = await clients.send<"gaps">({ type: "gaps", start: startVersions, end: endVersions });
    const invariants = await soakInvariants(pool, storeIds);
    const second = windows[1] as { rssMB: number; p99Ms: number } | undefined;
    const lastWindow = windows.at(-1) as { rssMB: number; p99Ms: number } | undefined;
    const within = (last: number | undefined, reference: number | undefined) =>
      last !== undefined && reference !== undefined && last <= reference * 1.1;
    const result = {
      at: new Date().toISOString(),
      minutes,
      windowSeconds: windowS,
      operationsPerSec: rate,
      rateFrom: from,
      stores: storesCount,
      subscribers: subscribersCount,
      mix: { orders: 0.55, holds: 0.15, counts: 0.15, cancels: 0.15, holdsThen: { convert: 0.6, release: 0.25, expire: 0.15 } },
      flat: {
        // the last window against the second (the first is warm-up)
        rss: second && lastWindow ? within(lastWindow.rssMB, second.rssMB) : null,
        p99: second && lastWindow ? within(lastWindow.p99Ms, second.p99Ms) : null,
        rssSecondMB: second?.rssMB ?? null,
        rssLastMB: lastWindow?.rssMB ?? null,
        p99SecondMs: second?.p99Ms ?? null,
        p99LastMs: lastWindow?.p99Ms ?? null,
      },
      windows,
      answered: { ...tally },
      invariants: {
        ...invariants,
        ordersAnsweredButMissing: Math.max(0, tally.ordersPlaced - invariants.orders),
        ordersNotAnswered: Math.max(0, invariants.orders - tally.ordersPlaced),
        holdsConvertedAsAnswered: invariants.holdsConverted === tally.holdsConverted,
        holdsReleasedAsAnswered: invariants.holdsReleased === tally.holdsReleased,
        holdsExpiredAsLeft: invariants.holdsExpired === tally.holdsLeft,
        cancelledAsAnswered: invariants.cancelled === cancelledIds.size,
        versionGaps: gaps.versionGaps,
        ...deliveryFigures(gaps),
      },
      totalSeconds: Math.round((Date.now() - started) / 1000),
    };
    if (!existsSync(dirname(out))) mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(`soak: wrote ${out}: flat ${JSON.stringify(result.flat)}, invariants ${JSON.stringify(result.invariants)}`);
  } finally {
    agent.destroy();
    await clients.close();
    await server.stop();
    await pool.end();
  }
}

/** The database's side of the run's end: the bench's invariants, and the holds' and orders' counts. */
async function soakInvariants(pool: pg.Pool, storeIds: readonly string[]) {
  const checks = await checkInvariants(pool, storeIds);
  const { rows } = await pool.query<{
    orders: number;
    cancelled: number;
    held: number;
    holdsConverted: number;
    holdsReleased: number;
    holdsExpired: number;
    convertedWithoutOrder: number;
    statusAndEndDisagree: number;
    reservedLeft: number;
  }>(
    `SELECT (SELECT count(*) FROM orders WHERE store_id = ANY($1::uuid[]))::int AS orders,
            (SELECT count(*) FROM orders WHERE store_id = ANY($1::uuid[]) AND status = 'CANCELLED')::int AS cancelled,
            (SELECT count(*) FROM reservations WHERE store_id = ANY($1::uuid[]) AND status = 'HELD')::int AS held,
            (SELECT count(*) FROM reservations WHERE store_id = ANY($1::uuid[]) AND status = 'CONVERTED')::int AS "holdsConverted",
            (SELECT count(*) FROM reservations WHERE store_id = ANY($1::uuid[]) AND status = 'RELEASED')::int AS "holdsReleased",
            (SELECT count(*) FROM reservations WHERE store_id = ANY($1::uuid[]) AND status = 'EXPIRED')::int AS "holdsExpired",
            (SELECT count(*) FROM reservations r WHERE r.store_id = ANY($1::uuid[]) AND r.status = 'CONVERTED'
                AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.store_id = r.store_id AND o.id = r.order_id))::int AS "convertedWithoutOrder",
            (SELECT count(*) FROM reservations WHERE store_id = ANY($1::uuid[]) AND ((status = 'HELD') <> (ended_at IS NULL)))::int AS "statusAndEndDisagree",
            ((SELECT count(*) FROM stock_levels WHERE store_id = ANY($1::uuid[]) AND reserved_quantity <> 0)
             + (SELECT count(*) FROM variants WHERE store_id = ANY($1::uuid[]) AND reserved_quantity <> 0)
             + (SELECT count(*) FROM items WHERE store_id = ANY($1::uuid[]) AND reserved_quantity <> 0))::int AS "reservedLeft"`,
    [storeIds],
  );
  const row = rows[0]!;
  return { oversold: checks.oversold, unbalancedLedgers: checks.unbalanced, orderNumberGaps: checks.numberGaps, ...row };
}

function log(message: string) {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
