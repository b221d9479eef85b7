import autocannon from "autocannon";
import type pg from "pg";
import { nodeFloorTurn, PGBENCH, pgbenchTurn, resetFloor, type FloorCase, type FloorTurn } from "./floor.ts";
import { busyPercent, checkInvariants, countOrders, machineCpu, processCpuMs, round, seedStore, seedVariantStore, type BenchStore, type ServerProcess } from "./support.ts";

/** What a storefront checkout asks for: the order's number and total, or why it was refused. */
export const PLACE_ORDER = `mutation PlaceOrder($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number status total }
    ... on InsufficientStockError { code message shortages { itemId requested available } }
    ... on OperationError { code message field }
  }
}`;

/** A cart hold as a storefront asks it (SPEC section 9): its id and the token that opens it, or why it was refused. */
export const RESERVE_STOCK = `mutation ReserveStock($store: String!, $input: ReserveStockInput!) {
  reserveStock(store: $store, input: $input) {
    __typename
    ... on ReservationGrant { token reservation { id expiresAt } }
    ... on InsufficientStockError { code message }
    ... on OperationError { code message field }
  }
}`;

/**
 * The hold in a reserveStock answer, or null. A regular expression, not JSON.parse: it runs on the
 * load generator's thread for every shopper, as the `__typename` checks do.
 */
export function grantedHold(body: string): { id: string; token: string } | null {
  if (!body.includes('"__typename":"ReservationGrant"')) return null;
  const token = /"token":"([^"]+)"/.exec(body)?.[1];
  const id = /"reservation":\{"id":"([^"]+)"/.exec(body)?.[1];
  return token && id ? { id, token } : null;
}

let shoppers = 0;
/**
 * A shopper's address of its own, sent as X-Forwarded-For to a service that trusts one proxy
 * (TRUST_PROXY=1): a client holds at most 5 holds per store (SPEC section 9), and the bench is
 * one client for many shoppers.
 */
export const nextShopperAddress = () => {
  const n = shoppers++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};

export type OrdersOptions = {
  concurrency: number;
  /** measured time of each side, split over `rounds` that alternate the service and the floors */
  durationMs: number;
  rounds: number;
  warmupMs: number;
};

export type OrderLine = { itemId: string; variantId?: string; quantity: number };

/**
 * An orders scenario: the stores it orders from, what each order asks (a store's slug and the
 * lines), and which case of the floor it is judged against.
 */
export type OrdersScenario = {
  name: string;
  storeIds: string[];
  nextOrder: () => { store: string; lines: OrderLine[] };
  floor: FloorCase;
  /** each shopper first holds the order's lines (reserveStock), then places the order with the hold */
  withHold?: boolean;
};

type Side = { orders: number; ms: number; cpuMs: number; busy: number[]; failures: number };
const emptySide = (): Side => ({ orders: 0, ms: 0, cpuMs: 0, busy: [], failures: 0 });

/**
 * The checkout batches a service process sent so far and the orders they carried: its
 * checkout_batch_size histogram, with the count of batches at most each bucket's bound.
 */
async function checkoutBatches(server: ServerProcess): Promise<BatchHistogram> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const of = (name: string) => Number(new RegExp(`^checkout_batch_size_${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? 0);
  const buckets = [...metrics.matchAll(/^checkout_batch_size_bucket\{le="([^"]+)"\} (\S+)$/gm)].map(([, le, count]) => ({ le: Number(le), count: Number(count) }));
  return { batches: of("count"), orders: of("sum"), buckets };
}

type BatchHistogram = { batches: number; orders: number; buckets: { le: number; count: number }[] };

/**
 * The batches between two readings of the histogram: their mean, their median and their largest.
 * The histogram keeps counts per bucket only, so the median is placed within its bucket as if the
 * bucket's sizes were spread evenly over it (batches are whole orders: a bucket (4, 6] holds 5
 * and 6), and the largest is the bound of the highest bucket that grew (at most that, more than
 * the bound below it).
 */
export function batchSizes(before: BatchHistogram, after: BatchHistogram) {
  const batches = after.batches - before.batches;
  if (batches === 0) return { meanCheckoutBatch: null, batchSizeP50: null, batchSizeMax: null };
  const counts = after.buckets.map(({ le, count }) => ({ le, count: count - (before.buckets.find((b) => b.le === le)?.count ?? 0) }));
  let p50: number | null = null;
  let max: number | null = null;
  let below = { le: 0, count: 0 };
  for (const bucket of counts) {
    if (p50 === null && bucket.count >= batches / 2) {
      const share = (batches / 2 - below.count) / (bucket.count - below.count);
      p50 = Number.isFinite(bucket.le) ? below.le + Math.max(1, Math.ceil(share * (bucket.le - below.le))) : below.le;
    }
    if (max === null && bucket.count === batches) max = Number.isFinite(bucket.le) ? bucket.le : Infinity;
    below = bucket;
  }
  return { meanCheckoutBatch: round((after.orders - before.orders) / batches, 1), batchSizeP50: p50, batchSizeMax: max };
}

/**
 * placeOrder over GraphQL HTTP with autocannon: `concurrency` connections with one request in
 * flight each, each request the scenario's next order. Counts only answers that are an Order;
 * the rest are reported.
 */
function graphqlLoad(server: ServerProcess, scenario: OrdersScenario, concurrency: number) {
  const tally: Tally = { orders: 0, other: 0, firstOther: undefined };
  const run = async (durationMs: number) => {
    const before = { orders: tally.orders, other: tally.other };
    const cpuBefore = processCpuMs(server.child.pid!);
    const machineBefore = machineCpu();
    const result = await autocannon({
      url: `${server.url}/graphql`,
      connections: concurrency,
      pipelining: 1,
      duration: durationMs / 1000,
      requests: scenario.withHold ? holdThenOrder(scenario, tally) : [
        {
          method: "POST",
          path: "/graphql",
          headers: { "content-type": "application/json" },
          setupRequest: (request) => {
            const { store, lines } = scenario.nextOrder();
            return { ...request, body: JSON.stringify({ query: PLACE_ORDER, variables: { store, input: { lines } } }) };
          },
          onResponse: (_status, body) => countAnswer(tally, body),
        },
      ],
    });
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

type Tally = { orders: number; other: number; firstOther: string | undefined };

function countAnswer(tally: Tally, body: string) {
  if (body.includes('"__typename":"Order"')) tally.orders++;
  else {
    tally.other++;
    tally.firstOther ??= body.slice(0, 500);
  }
}

/**
 * A shopper's two requests, in turn on one connection (autocannon's per-connection context): the
 * hold of the order's lines from an address of its own, then the order with the hold. A refused
 * hold counts as a failure and its order is not sent (the connection starts again with the next
 * shopper).
 */
function holdThenOrder(scenario: OrdersScenario, tally: Tally): autocannon.Request[] {
  type Shopper = { order?: { store: string; lines: OrderLine[] }; hold?: { id: string; token: string } | null; address?: string };
  return [
    {
      method: "POST",
      path: "/graphql",
      setupRequest: (request, shopper) => {
        const context = shopper as Shopper;
        context.order = scenario.nextOrder();
        context.address = nextShopperAddress();
        return {
          ...request,
          headers: { "content-type": "application/json", "x-forwarded-for": context.address },
          body: JSON.stringify({ query: RESERVE_STOCK, variables: { store: context.order.store, input: { lines: context.order.lines } } }),
        };
      },
      onResponse: (_status, body, shopper) => {
        const context = shopper as Shopper;
        context.hold = grantedHold(body);
        if (!context.hold) countAnswer(tally, body);
      },
    },
    {
      method: "POST",
      path: "/graphql",
      setupRequest: (request, shopper) => {
        const context = shopper as Shopper;
        if (!context.hold) return null as unknown as autocannon.Request; // refused: the next shopper
        const { store, lines } = context.order!;
        return {
          ...request,
          headers: { "content-type": "application/json", "x-forwarded-for": context.address! },
          body: JSON.stringify({ query: PLACE_ORDER, variables: { store, input: { lines, reservation: context.hold } } }),
        };
      },
      onResponse: (_status, body) => countAnswer(tally, body),
    },
  ];
}

/** A turn of one of the floors, with how busy the machine was meanwhile; the floor's tables reset first. */
async function floorTurn(turn: () => Promise<FloorTurn>, floorUrl: string) {
  await resetFloor(floorUrl);
  const machineBefore = machineCpu();
  const result = await turn();
  return { ...result, busy: busyPercent(machineBefore, machineCpu()) };
}

/**
 * One orders scenario: the service over GraphQL, the floor from Node (`pg-orders.cjs`) and, where
 * installed, pgbench with the same SQL, in alternating rounds at the same concurrency, so that
 * whatever else the shared machine does weighs on all alike; then the invariants of the
 * scenario's stores (nothing oversold, ledgers balanced, order numbers without gaps).
 */
export async function ordersScenario(scenario: OrdersScenario, server: ServerProcess, options: OrdersOptions, pool: pg.Pool, floorUrl: string) {
  const load = graphqlLoad(server, scenario, options.concurrency);
  await load.run(options.warmupMs);
  const graphql = emptySide();
  const floor = emptySide();
  const pgbench = emptySide();
  let floorCpuUs = 0;
  const roundFloorRatios: number[] = [];
  const p99s: number[] = [];
  const p50s: number[] = [];
  const floorP99s: number[] = [];
  const roundMs = options.durationMs / options.rounds;
  const committedBefore = await countOrders(pool, scenario.storeIds);
  const batchesBefore = await checkoutBatches(server);
  const add = (side: Side, turn: { orders: number; ms: number; busy: number; failed: number; cpuMs?: number }) => {
    side.orders += turn.orders;
    side.ms += turn.ms;
    side.cpuMs += turn.cpuMs ?? 0;
    side.busy.push(turn.busy);
    side.failures += turn.failed;
  };
  for (let i = 0; i < options.rounds; i++) {
    const g = await load.run(roundMs);
    add(graphql, { ...g, failed: g.failures });
    p50s.push(g.p50);
    p99s.push(g.p99);
    const f = await floorTurn(() => nodeFloorTurn(floorUrl, scenario.floor, options.concurrency, roundMs), floorUrl);
    add(floor, { ...f, ms: f.seconds * 1000 });
    floorCpuUs += (f.cpuUsPerOrder ?? 0) * f.orders;
    floorP99s.push(f.p99Ms ?? NaN);
    roundFloorRatios.push(round(g.orders / g.ms / (f.orders / (f.seconds * 1000))));
    if (PGBENCH) add(pgbench, { ...(await floorTurn(() => pgbenchTurn(floorUrl, scenario.floor, options.concurrency, roundMs), floorUrl)), ms: roundMs });
  }
  const committed = (await countOrders(pool, scenario.storeIds)) - committedBefore;
  const batchesAfter = await checkoutBatches(server);
  const checks = await checkInvariants(pool, scenario.storeIds);
  const perSec = (side: Side) => (side.orders / side.ms) * 1000;
  if (load.tally.firstOther) console.error(`[orders.${scenario.name}] first answer that was not an Order: ${load.tally.firstOther}`);
  return {
    graphqlPerSec: Math.round(perSec(graphql)),
    floorPerSec: Math.round(perSec(floor)),
    floorRatio: round(perSec(graphql) / perSec(floor)),
    floorCase: scenario.floor,
    roundFloorRatios,
    pgbenchPerSec: PGBENCH ? Math.round(perSec(pgbench)) : null,
    pgbenchRatio: PGBENCH ? round(perSec(graphql) / perSec(pgbench)) : null,
    oversold: checks.oversold,
    unbalancedLedgers: checks.unbalanced,
    orderNumberGaps: checks.numberGaps,
    graphqlFailures: graphql.failures,
    floorFailures: floor.failures + pgbench.failures,
    // orders the server committed during the measured rounds (answered or not when autocannon stopped)
    graphqlCommitted: committed,
    graphqlLatencyP50Ms: Math.max(...p50s),
    graphqlLatencyP99Ms: Math.max(...p99s),
    floorLatencyP99Ms: round(Math.max(...floorP99s), 1),
    serverCpuMsPerOrder: round(graphql.cpuMs / graphql.orders),
    // orders per checkout batch over the measured rounds (src/orders/checkout-turns.ts): mean, median, largest
    ...batchSizes(batchesBefore, batchesAfter),
    floorCpuMsPerOrder: round(floorCpuUs / 1000 / floor.orders),
    machineBusyPercent: { graphql: graphql.busy, floor: floor.busy, ...(PGBENCH ? { pgbench: pgbench.busy } : {}) },
    concurrency: options.concurrency,
    secondsEach: round(graphql.ms / 1000, 1),
  };
}

export const ORDERS_SCENARIOS = ["hot", "spread", "platform", "multiline", "variants", "holds"] as const;
export type OrdersScenarioName = (typeof ORDERS_SCENARIOS)[number];

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

/** `count` distinct random elements of `list`. */
function distinct<T>(list: readonly T[], count: number): T[] {
  const chosen = new Set<T>();
  while (chosen.size < count) chosen.add(pick(list));
  return [...chosen];
}

/**
 * Seeds the stores of a scenario and says what its orders ask. Stock is deep everywhere (no
 * order is refused for want of units), every order is 1 unit per line:
 * - hot: the one item of a store (100,000,000 on hand), against the floor's hot case;
 * - spread: a random one of a store's 10,000 items, against spread;
 * - platform: a random store of 100, a random one of its 100 items, against spread (the floor has
 *   no stores: its 10,000 items are as many as the platform's);
 * - multiline: 3 distinct random items of a store of 10,000, against the 3-line floor (multi3);
 * - variants: the 3 sizes (S, M, L) of a random one of a store's 1,000 items, in two fulfilling
 *   warehouses: S and M come from the first, L from the second (SPEC section 8's allocation),
 *   against the 3-line floor;
 * - holds: as spread, but each shopper first holds the unit (reserveStock, from an address of its
 *   own) and then places the order with the hold (SPEC section 9), against spread: a checkout
 *   with a cart hold costs two requests and two transactions, and the floor is one.
 */
export async function seedOrdersScenario(name: OrdersScenarioName, pool: pg.Pool): Promise<OrdersScenario> {
  const single = async (items: number, quantity: number, lines: (itemIds: string[]) => OrderLine[], floor: FloorCase): Promise<OrdersScenario> => {
    const store = await seedStore(pool, `bench-${name}`, items, quantity);
    return { name, storeIds: [store.id], floor, nextOrder: () => ({ store: store.slug, lines: lines(store.itemIds) }) };
  };
  switch (name) {
    case "hot":
      return single(1, 100_000_000, (ids) => [{ itemId: ids[0]!, quantity: 1 }], "hot");
    case "spread":
      return single(10_000, 1_000_000, (ids) => [{ itemId: pick(ids), quantity: 1 }], "spread");
    case "holds":
      return { ...(await single(10_000, 1_000_000, (ids) => [{ itemId: pick(ids), quantity: 1 }], "spread")), withHold: true };
    case "multiline":
      return single(10_000, 1_000_000, (ids) => distinct(ids, 3).map((itemId) => ({ itemId, quantity: 1 })), "multi3");
    case "platform": {
      const stores: BenchStore[] = [];
      for (let i = 0; i < 100; i++) stores.push(await seedStore(pool, `bench-platform-${i}`, 100, 1_000_000));
      return {
        name,
        storeIds: stores.map((store) => store.id),
        floor: "spread",
        nextOrder: () => {
          const store = pick(stores);
          return { store: store.slug, lines: [{ itemId: pick(store.itemIds), quantity: 1 }] };
        },
      };
    }
    case "variants": {
      const store = await seedVariantStore(pool, "bench-variants", 1_000, 1_000_000);
      return {
        name,
        storeIds: [store.id],
        floor: "multi3",
        nextOrder: () => {
          const item = pick(store.items);
          return { store: store.slug, lines: item.variantIds.map((variantId) => ({ itemId: item.itemId, variantId, quantity: 1 })) };
        },
      };
    }
  }
}
