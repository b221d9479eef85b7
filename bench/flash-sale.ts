/**
 * `flashSale`: storefronts of many stores watching their items live while orders arrive at a
 * steady rate, as in a flash sale. 5,000 subscribers (BENCH_FLASH_SUBSCRIBERS) over 100 stores
 * (BENCH_FLASH_STORES), each subscriber watching all 10 items of its store; each order 1 unit of
 * a random store's item: half of them the store's flash item, of which there are only
 * BENCH_FLASH_STOCK (5) units at the start of every step, so flash items sell out under
 * concurrent orders and the orders after that are refused; the other items have deep stock.
 *
 * The orders are sent open-loop at a fixed rate (each on time, whether or not the earlier ones
 * were answered) for BENCH_FLASH_STEP_S (5) seconds per step, starting at BENCH_FLASH_START (50)
 * orders/s and doubling while a step holds (halving while the first does not), then twice
 * halfway between the highest rate held and the lowest not held. A step holds when every order is
 * answered (an Order, or InsufficientStockError for a sold-out flash item), at 95% of the rate or
 * more (from the first order sent to the last answer) and never more than 256 in flight, every
 * update reaches every subscriber of its store with no version missing, and the delivery p99 is at most
 * BENCH_FLASH_MAX_P99_MS (1,000). Delivery latency: from the update's `at` (stamped right before
 * COMMIT) to receipt, see bench/flash-clients.ts.
 *
 * Reported: the figures of the highest rate held, with its version gaps (versions of a watched
 * item that a subscriber never received, from the item's version before the step to its version
 * after: must be 0), every step with its own, the gaps over the whole run (a step that does not
 * hold may lose versions: a slow subscriber is sent only the newest update per item, SPEC
 * section 5), and the stores' invariants (oversold must be 0).
 *
 * `withHolds` (the `flashSaleHolds` figure): every buyer first holds its unit (reserveStock, from
 * an address of its own, the server trusting one proxy) and then places the order with the hold,
 * as a storefront with cart holds does; a buyer is answered when its order is (or its hold is
 * refused, the flash item being held or sold out), and each hold granted owes its store's
 * subscribers an update of its own.
 */
import { fork, type ChildProcess } from "node:child_process";
import http from "node:http";
import type pg from "pg";
import type { FlashCommand, FlashReply } from "./flash-clients.ts";
import { grantedHold, nextShopperAddress, PLACE_ORDER, RESERVE_STOCK } from "./orders.ts";
import { checkInvariants, percentile, postJson, round, seedStore, sleep, startServer, type BenchStore } from "./support.ts";

export const SUBSCRIBE = `subscription StockUpdates($store: String!, $items: [ID!]) {
  stockUpdates(store: $store, itemIds: $items) { itemId version at }
}`;

const ADJUST = `mutation Adjust($input: AdjustItemQuantityInput!) {
  adjustItemQuantity(input: $input) { __typename ... on Item { version } ... on OperationError { code message } }
}`;

export const SET = `mutation Set($input: SetItemQuantityInput!) {
  setItemQuantity(input: $input) { __typename ... on Item { version } ... on OperationError { code message } }
}`;

export type FlashSaleOptions = {
  subscribers: number;
  stores: number;
  itemsPerStore: number;
  flashStock: number;
  /** share of the orders that ask for the store's flash item */
  flashShare: number;
  startRate: number;
  maxRate: number;
  stepMs: number;
  maxP99Ms: number;
  maxInFlight: number;
  /** every buyer holds the unit first (reserveStock), then places the order with the hold (SPEC section 9) */
  withHolds: boolean;
};

export function flashSaleOptions(): FlashSaleOptions {
  const env = (name: string, otherwise: number) => Number(process.env[name] ?? otherwise);
  return {
    subscribers: env("BENCH_FLASH_SUBSCRIBERS", 5_000),
    stores: env("BENCH_FLASH_STORES", 100),
    itemsPerStore: 10,
    flashStock: env("BENCH_FLASH_STOCK", 5),
    flashShare: 0.5,
    startRate: env("BENCH_FLASH_START", 50),
    maxRate: env("BENCH_FLASH_MAX", 3_200),
    stepMs: env("BENCH_FLASH_STEP_S", 5) * 1000,
    maxP99Ms: env("BENCH_FLASH_MAX_P99_MS", 1_000),
    maxInFlight: 256,
    withHolds: false,
  };
}

/** The subscribers' process (bench/flash-clients.ts), driven over IPC. */
export class Clients {
  private readonly child: ChildProcess;
  private readonly replies: ((reply: FlashReply) => void)[] = [];

  constructor() {
    this.child = fork("bench/flash-clients.ts", [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (reply: FlashReply) => this.replies.shift()?.(reply));
  }

  send<T extends FlashReply["type"]>(command: FlashCommand): Promise<Extract<FlashReply, { type: T }>> {
    return new Promise((resolve) => {
      this.replies.push(resolve as (reply: FlashReply) => void);
      this.child.send(command);
    });
  }

  /** Waits until the current step has `expected` receipts, or nothing more arrives for `quietMs`; answers the count. */
  async settle(expected: number, quietMs = 2_000, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      const { receipts } = await this.send<"count">({ type: "count" });
      if (receipts >= expected) return receipts;
      if (receipts !== last) [last, lastChange] = [receipts, Date.now()];
      if (Date.now() - lastChange > quietMs || Date.now() > deadline) return receipts;
      await sleep(100);
    }
  }

  async close() {
    await this.send({ type: "close" });
    await new Promise((resolve) => (this.child.exitCode === null ? this.child.once("exit", resolve) : resolve(null)));
  }
}

export type FlashStore = BenchStore & { flashItemId: string; subscribers: number };

/** An order of the sale: a random store, its flash item for `flashShare` of the orders, else another of its items. */
export function nextOrder(stores: readonly FlashStore[], options: Pick<FlashSaleOptions, "flashShare">, extraInput: Record<string, unknown> = {}) {
  const store = stores[Math.floor(Math.random() * stores.length)]!;
  const others = store.itemIds.filter((id) => id !== store.flashItemId);
  const itemId = Math.random() < options.flashShare ? store.flashItemId : others[Math.floor(Math.random() * others.length)]!;
  return { store, order: { store: store.slug, input: { lines: [{ itemId, quantity: 1 }], ...extraInput } } };
}

type StepOrders = {
  sent: number;
  placed: number;
  refused: number;
  failures: number;
  firstFailure?: string;
  overloaded: boolean;
  /** deliveries the placed orders owe: each reaches every subscriber of its store */
  expectedDeliveries: number;
  latenciesMs: number[];
  seconds: number;
};

/**
 * Sends orders at `rate` per second for `durationMs`, open-loop (each when it is due, answered or
 * not), over keep-alive connections; waits for the answers. Stops sending when `maxInFlight`
 * are unanswered (the service does not hold the rate).
 */
function steadyOrders(url: URL, rate: number, durationMs: number, stores: readonly FlashStore[], options: FlashSaleOptions): Promise<StepOrders> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxInFlight });
  const result: StepOrders = { sent: 0, placed: 0, refused: 0, failures: 0, overloaded: false, expectedDeliveries: 0, latenciesMs: [], seconds: 0 };
  let inFlight = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    const done = () => {
      if (inFlight > 0 || sending) return;
      result.seconds = (performance.now() - started) / 1000;
      agent.destroy();
      resolve(result);
    };
    const post = (body: string, headers: Record<string, string> = {}) => postJson(url, agent, body, headers);
    /** The shopper's order; with holds, first the hold of its line (its own update), then the order with it. */
    const shop = async (store: FlashStore, order: { store: string; input: Record<string, unknown> }) => {
      if (!options.withHolds) return post(JSON.stringify({ query: PLACE_ORDER, variables: order }));
      const address = { "x-forwarded-for": nextShopperAddress() };
      const granted = await post(JSON.stringify({ query: RESERVE_STOCK, variables: order }), address);
      const hold = grantedHold(granted);
      if (!hold) return granted;
      result.expectedDeliveries += store.subscribers;
      return post(JSON.stringify({ query: PLACE_ORDER, variables: { ...order, input: { ...order.input, reservation: hold } } }), address);
    };
    const send = () => {
      const { store, order } = nextOrder(stores, options);
      const sentAt = performance.now();
      inFlight++;
      result.sent++;
      const fail = (why: string) => {
        result.failures++;
        result.firstFailure ??= why;
      };
      shop(store, order)
        .then((text) => {
          result.latenciesMs.push(performance.now() - sentAt);
          if (text.includes('"__typename":"Order"')) {
            result.placed++;
            result.expectedDeliveries += store.subscribers;
          } else if (text.includes('"__typename":"InsufficientStockError"')) result.refused++;
          else fail(text.slice(0, 300));
        }, (error: Error) => fail(error.message))
        .finally(() => {
          inFlight--;
          done();
        });
    };
    let sending = true;
    const total = Math.round((rate * durationMs) / 1000);
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
      while (result.sent < due) {
        if (inFlight >= options.maxInFlight) {
          result.overloaded = true;
          break;
        }
        send();
      }
      if (result.sent >= total || result.overloaded) {
        clearInterval(timer);
        sending = false;
        done();
      }
    }, 2);
  });
}

/**
 * What the subscribers received over a run (bench/flash-clients.ts `gaps`). `outOfOrder`: receipts
 * of a version older than one received before: allowed (a client drops them by version, SPEC
 * section 5), counted.
 */
export const deliveryFigures = (gaps: Extract<FlashReply, { type: "gaps" }>) => ({
  outOfOrder: gaps.outOfOrder,
  duplicates: gaps.duplicates,
  updatesReceived: gaps.received,
  updatesExpected: gaps.expected,
  subscriberErrors: gaps.errors,
  ...(gaps.firstError ? { firstSubscriberError: gaps.firstError } : {}),
});

export async function versions(pool: pg.Pool, storeIds: readonly string[]): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ id: string; version: number }>("SELECT id, version FROM items WHERE store_id = ANY($1::uuid[])", [storeIds]);
  return Object.fromEntries(rows.map((row) => [row.id, row.version]));
}

/** The sale's stores (`slugPrefix`-0, -1, ...), each with its flash item and its share of the subscribers. */
export async function seedFlashStores(pool: pg.Pool, options: FlashSaleOptions, slugPrefix: string): Promise<FlashStore[]> {
  const seeded: BenchStore[] = [];
  for (let i = 0; i < options.stores; i++) seeded.push(await seedStore(pool, `${slugPrefix}-${i}`, options.itemsPerStore, 1_000_000));
  await pool.query("VACUUM ANALYZE");
  const perStore = Math.floor(options.subscribers / options.stores);
  return seeded.map((store, index) => ({
    ...store,
    flashItemId: store.itemIds[0]!,
    subscribers: perStore + (index < options.subscribers - perStore * options.stores ? 1 : 0),
  }));
}

/**
 * The sale set up on a running service: every flash item restocked, every subscriber connected
 * and proven registered by a warm-up update of each store. Answers `restock`, which puts each
 * store's flash item back to `flashStock` units ("Registrar cantidad"), a new drop, and answers
 * the deliveries that owes.
 */
export async function openFlashSale(pool: pg.Pool, graphql: URL, clients: Clients, stores: readonly FlashStore[], options: FlashSaleOptions, log: (message: string) => void) {
  const storeIds = stores.map((store) => store.id);
  const admin = async (store: FlashStore, query: string, input: Record<string, unknown>): Promise<void> => {
    const response = await fetch(graphql, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${store.token}` },
      body: JSON.stringify({ query, variables: { input } }),
    });
    const text = await response.text();
    // a service shedding load (src/http/load-shedding.ts) asks to be tried again after Retry-After
    if (response.status === 503 && response.headers.has("retry-after")) {
      await sleep(Number(response.headers.get("retry-after")) * 1000);
      return admin(store, query, input);
    }
    if (!text.includes('"__typename":"Item"')) throw new Error(`${query.slice(9, 12)}: ${text.slice(0, 300)}`);
  };
  const restock = async () => {
    const { rows } = await pool.query<{ id: string }>("SELECT id FROM items WHERE store_id = ANY($1::uuid[]) AND id = ANY($2::uuid[]) AND quantity <> $3", [
      storeIds,
      stores.map((store) => store.flashItemId),
      options.flashStock,
    ]);
    const changed = new Set(rows.map((row) => row.id));
    for (const store of stores) if (changed.has(store.flashItemId)) await admin(store, SET, { itemId: store.flashItemId, quantity: options.flashStock });
    return stores.filter((store) => changed.has(store.flashItemId)).reduce((sum, store) => sum + store.subscribers, 0);
  };
  await restock();

  log(`connecting ${options.subscribers} subscribers`);
  const connected = await clients.send<"connected">({
    type: "connect",
    url: graphql.toString().replace(/^http/, "ws"),
    query: SUBSCRIBE,
    subscriptions: stores.map((store) => ({ store: store.slug, itemIds: store.itemIds, count: store.subscribers })),
  });
  if (connected.failed > 0) throw new Error(`${connected.failed} of ${options.subscribers} subscribers could not connect: ${connected.firstError}`);
  // warm-up: one update of an item of every store, which proves every subscription registered
  await clients.send({ type: "step", name: "warm-up" });
  for (const store of stores) await admin(store, ADJUST, { itemId: store.itemIds[1]!, delta: 1 });
  const warm = await clients.settle(options.subscribers, 5_000);
  if (warm < options.subscribers) throw new Error(`only ${warm} of ${options.subscribers} subscribers heard the warm-up update`);
  return { restock, connected };
}

export async function flashSaleScenario(pool: pg.Pool, serverEnv: Record<string, string>, options: FlashSaleOptions, log: (message: string) => void) {
  const stores = await seedFlashStores(pool, options, options.withHolds ? "bench-flash-holds" : "bench-flash");
  const storeIds = stores.map((store) => store.id);
  const server = await startServer(serverEnv, "flash-sale-server");
  const clients = new Clients();
  try {
    const graphql = new URL(`${server.url}/graphql`);
    const { restock, connected } = await openFlashSale(pool, graphql, clients, stores, options, (message) => log(`flashSale: ${message}`));
    const start = await versions(pool, storeIds);

    const steps: Record<string, unknown>[] = [];
    let soldOut = 0;
    const runStep = async (rate: number) => {
      const name = `${rate}/s`;
      const stepStart = await versions(pool, storeIds);
      // every step starts with the flash items restocked (their updates heard before it starts)
      await clients.send({ type: "step", name: `restock before ${name}` });
      await clients.settle(await restock());
      await clients.send({ type: "step", name });
      const orders = await steadyOrders(graphql, rate, options.stepMs, stores, options);
      const received = await clients.settle(orders.expectedDeliveries);
      const { latenciesMs } = await clients.send<"latencies">({ type: "latencies", name });
      // versions of the step's updates (its restock's and its orders') some subscriber never received
      const stepGaps = await clients.send<"gaps">({ type: "gaps", start: stepStart, end: await versions(pool, storeIds) });
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM items WHERE store_id = ANY($1::uuid[]) AND id = ANY($2::uuid[]) AND quantity = 0", [
        storeIds,
        stores.map((store) => store.flashItemId),
      ]);
      soldOut += rows[0]!.n;
      const sorted = [...latenciesMs].sort((a, b) => a - b);
      const orderLatencies = orders.latenciesMs.sort((a, b) => a - b);
      const p99Ms = percentile(sorted, 99);
      const ordersPerSec = round((orders.placed + orders.refused) / orders.seconds, 1);
      const held =
        !orders.overloaded &&
        orders.failures === 0 &&
        orders.placed + orders.refused === orders.sent &&
        ordersPerSec >= 0.95 * rate &&
        received === orders.expectedDeliveries &&
        stepGaps.versionGaps === 0 &&
        p99Ms <= options.maxP99Ms;
      const step = {
        targetPerSec: rate,
        ordersPerSec,
        held,
        placedPerSec: round(orders.placed / orders.seconds, 1),
        placed: orders.placed,
        refused: orders.refused,
        flashItemsSoldOut: rows[0]!.n,
        failures: orders.failures,
        ...(orders.firstFailure ? { firstFailure: orders.firstFailure } : {}),
        overloaded: orders.overloaded,
        orderP99Ms: round(percentile(orderLatencies, 99), 1),
        deliveries: received,
        expectedDeliveries: orders.expectedDeliveries,
        versionGaps: stepGaps.versionGaps,
        deliveriesPerSec: round(received / orders.seconds),
        p50Ms: percentile(sorted, 50),
        p99Ms,
        maxMs: sorted.at(-1) ?? null,
      };
      steps.push(step);
      log(`flashSale ${name}: ${JSON.stringify(step)}`);
      return step;
    };

    // doubling from the start rate while held (halving while the first rates are not), then
    // twice halfway between the highest rate held and the lowest not held
    let best: Awaited<ReturnType<typeof runStep>> | undefined;
    let failedRate: number | undefined;
    for (let rate = options.startRate; rate <= options.maxRate && rate >= 5; ) {
      const step = await runStep(rate);
      if (step.held) best = step;
      else failedRate = rate;
      if (step.held && failedRate === undefined) rate *= 2;
      else if (!step.held && !best) rate = Math.round(rate / 2);
      else break;
    }
    for (let i = 0; i < 2 && best && failedRate && failedRate - best.targetPerSec >= Math.max(10, best.targetPerSec / 8); i++) {
      const step = await runStep(Math.round((best.targetPerSec + failedRate) / 2));
      if (step.held) best = step;
      else failedRate = step.targetPerSec;
    }

    await sleep(1_000);
    const end = await versions(pool, storeIds);
    const gaps = await clients.send<"gaps">({ type: "gaps", start, end });
    const checks = await checkInvariants(pool, storeIds);
    const shown = best ?? (steps[0] as Awaited<ReturnType<typeof runStep>>);
    return {
      subscribers: options.subscribers,
      stores: options.stores,
      withHolds: options.withHolds,
      held: Boolean(best),
      ordersPerSec: shown.ordersPerSec,
      deliveriesPerSec: shown.deliveriesPerSec,
      p50Ms: shown.p50Ms,
      p99Ms: shown.p99Ms,
      maxMs: shown.maxMs,
      orderP99Ms: shown.orderP99Ms,
      // at the highest rate held; a step that does not hold may lose updates to a slow subscriber
      // (it is then sent only the newest per item, SPEC section 5): those are versionGapsAllSteps
      versionGaps: shown.versionGaps,
      versionGapsAllSteps: gaps.versionGaps,
      ...deliveryFigures(gaps),
      oversold: checks.oversold,
      unbalancedLedgers: checks.unbalanced,
      orderNumberGaps: checks.numberGaps,
      // flash items that sold out, over all steps (each step starts with them restocked)
      flashItemsSoldOut: soldOut,
      connectSeconds: round(connected.ms / 1000, 1),
      stepSeconds: options.stepMs / 1000,
      steps,
    };
  } finally {
    await clients.close();
    await server.stop();
  }
}
