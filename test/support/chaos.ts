import type { Database } from "../../src/db/pool.ts";
import { unbalancedLedgers } from "./harness.ts";

/**
 * The workload of the randomized invariant run (test/chaos.test.ts): many clients sending a
 * seeded mix of storefront and admin operations to several server processes, a journal of what
 * each one was told, and the checks that what was reported happened and the stock rules held.
 */

/** mulberry32: a tiny seeded PRNG, so that a run's mix of operations can be replayed from its seed. */
export function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!,
    chance: (p: number) => next() < p,
    /** `list` itself, shuffled in place (Fisher-Yates) */
    shuffle: <T>(list: T[]) => {
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
      return list;
    },
  };
}
export type Random = ReturnType<typeof seededRandom>;

export type ChaosItem = {
  id: string;
  /** strict: tracked, never sells without stock, so its count may never go below zero */
  kind: "strict" | "toggled" | "backorder" | "service" | "untracked";
};

export type World = { servers: { url: string }[]; store: { slug: string; token: string }; items: ChaosItem[] };

/** How an operation ended, from the client's side. */
type Outcome = "ok" | "refused" | "unavailable" | "network" | "unexpected";
type Answer = { outcome: Outcome; value?: any; detail?: string; ms: number };

type OrderRequest = { lines: { itemId: string; quantity: number }[]; idempotencyKey?: string; reservation?: { id: string; token: string } };
type ChaosHold = { id: string; token: string; lines: { itemId: string; quantity: number }[] };

/** What the clients were told, to be held against the database afterwards. */
export class Journal {
  readonly counts = new Map<string, number>();
  /** orders reported placed: id -> units asked per item */
  readonly placed = new Map<string, Map<string, number>>();
  readonly cancelled = new Set<string>();
  readonly delivered = new Set<string>();
  /** manual count changes reported done, as manualChangeKey gives them */
  readonly manualChanges: string[] = [];
  /** idempotency key -> the order id its first successful answer carried */
  readonly firstAnswerForKey = new Map<string, string>();
  readonly keyedRequests: OrderRequest[] = [];
  readonly idempotencyMismatches: string[] = [];
  readonly unexpected: string[] = [];
  /** cart holds granted: id -> how to open it and what it holds */
  readonly holds = new Map<string, ChaosHold>();
  /** hold id -> the orders answered to placeOrder with it (one of them converted it, or none did) */
  readonly ordersWithHold = new Map<string, Set<string>>();
  /** holds placed with whose answer was lost (a fault): they may have converted to an order no client saw */
  readonly holdsWithLostOrder = new Set<string>();
  /** hold id -> the statuses releases answered (the hold as it ended, whoever ended it) */
  readonly releaseAnswers = new Map<string, string[]>();
  slowestMs = 0;

  count(what: string) {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  summary() {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

const ORDER = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename ... on Order { id lines { quantity item { id } } } ... on Error { code }
  }
}`;
const STATUS = `mutation($input: ChangeOrderStatusInput!) {
  changeOrderStatus(input: $input) { __typename ... on Order { id status } ... on OperationError { code } }
}`;
const ITEM_RESULT = `__typename ... on Item { id quantity } ... on OperationError { code }`;
const SET = `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { ${ITEM_RESULT} } }`;
const ADJUST = `mutation($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) { ${ITEM_RESULT} } }`;
const UPDATE = `mutation($input: UpdateItemInput!) { updateItem(input: $input) { ${ITEM_RESULT} } }`;
const SETTINGS = `mutation($input: UpdateInventorySettingsInput!) {
  updateInventorySettings(input: $input) { __typename ... on InventorySettings { outOfStockBehavior } ... on OperationError { code } }
}`;
const RESERVE = `mutation($store: String!, $input: ReserveStockInput!) {
  reserveStock(store: $store, input: $input) { __typename ... on ReservationGrant { token reservation { id status } } ... on Error { code } }
}`;
const RELEASE_RESULT = `__typename ... on Reservation { id status } ... on OperationError { code }`;
const RELEASE = `mutation($input: ReservationRefInput!) { releaseReservation(input: $input) { ${RELEASE_RESULT} } }`;
const RELEASE_AS_ADMIN = `mutation($id: ID!) { releaseReservationAsAdmin(id: $id) { ${RELEASE_RESULT} } }`;
/** Shoppers holding carts, each an address of its own behind the (loopback) proxy: at most 5 active holds each. */
const SHOPPERS = 40;
const STOREFRONT = `query($slug: String!) { store(slug: $slug) { items(first: 50) { edges { node { id availability availableQuantity version } } } } }`;

/** One GraphQL call, sorted into an outcome. A request never waits more than 20 s. */
async function call(url: string, query: string, variables: Record<string, unknown>, token?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const started = Date.now();
  const ms = () => Date.now() - started;
  let response: Response;
  let body: any;
  try {
    response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(20_000),
    });
    body = await response.json();
  } catch (error) {
    return { outcome: "network", detail: String(error), ms: ms() };
  }
  const code = body.errors?.[0]?.extensions?.code;
  if (code === "SERVICE_UNAVAILABLE" && response.status === 503) return { outcome: "unavailable", ms: ms() };
  if (body.errors) return { outcome: "unexpected", detail: `HTTP ${response.status} ${JSON.stringify(body.errors)}`, ms: ms() };
  const value = Object.values(body.data as Record<string, any>)[0];
  const refused = value?.__typename === "OperationError" || value?.__typename === "InsufficientStockError";
  return { outcome: refused ? "refused" : "ok", value, ms: ms() };
}

/**
 * Runs `operations` operations from `concurrency` clients at once, each on a server picked at
 * random. `beforeOperation(n)` runs as operation n is handed out (the fault schedule hooks in
 * there); `runOut(id)` moves a cart hold's expiresAt into the past, so that the processes' sweeps
 * (or a checkout that needs its units) end it EXPIRED. A client told the service is unavailable
 * backs off for a moment, as a real one would.
 */
export async function runOperations(
  world: World,
  options: { random: Random; operations: number; concurrency: number; beforeOperation(n: number): void; runOut(holdId: string): Promise<void> },
): Promise<Journal> {
  const journal = new Journal();
  const knownOrders: string[] = [];
  const knownHolds: ChaosHold[] = [];
  const lastSeenQuantity = new Map<string, number>();
  let handedOut = 0;

  const operation = (random: Random): (() => Promise<void>) => {
    const url = random.pick(world.servers).url;
    const admin = (query: string, input: Record<string, unknown> | string) =>
      call(url, query, typeof input === "string" ? { id: input } : { input }, world.store.token);
    const tracked = world.items.filter((item) => item.kind === "strict" || item.kind === "toggled" || item.kind === "backorder");
    const roll = random.next();

    const someLines = () => Array.from({ length: random.int(1, 3) }, () => ({ itemId: random.pick(world.items).id, quantity: random.int(1, 4) }));
    if (roll < 0.28) {
      const request: OrderRequest = {
        lines: someLines(),
        ...(random.chance(0.4) ? { idempotencyKey: `chaos-${handedOut}-${random.int(0, 1e9)}` } : {}),
      };
      if (request.idempotencyKey) journal.keyedRequests.push(request);
      return async () => record("placeOrder", await call(url, ORDER, { store: world.store.slug, input: request }), (order) => notePlaced(request, order));
    }
    // cart holds: made, placed with (its lines, sometimes a unit more), released by token or by the merchant, run out
    if (roll < 0.36) {
      const lines = someLines();
      const shopper = { "x-forwarded-for": `10.9.0.${random.int(1, SHOPPERS)}` };
      return async () =>
        record("reserveStock", await call(url, RESERVE, { store: world.store.slug, input: { lines } }, undefined, shopper), (grant) => {
          const held = { id: grant.reservation.id, token: grant.token, lines };
          journal.holds.set(held.id, held);
          knownHolds.push(held);
        });
    }
    if (roll < 0.51 && knownHolds.length > 0) {
      const held = random.pick(knownHolds.slice(-30)); // the recent ones, mostly still HELD
      const ref = { id: held.id, token: held.token };
      if (roll < 0.44) {
        const request: OrderRequest = { lines: held.lines.map((line, i) => (i === 0 && random.chance(0.2) ? { ...line, quantity: line.quantity + 1 } : line)), reservation: ref };
        return async () => {
          const answer = await call(url, ORDER, { store: world.store.slug, input: request });
          if (answer.outcome === "network" || answer.outcome === "unavailable") journal.holdsWithLostOrder.add(held.id);
          return record("placeOrderWithHold", answer, (order) => {
            notePlaced(request, order);
            journal.ordersWithHold.set(held.id, (journal.ordersWithHold.get(held.id) ?? new Set()).add(order.id));
          });
        };
      }
      const noteRelease = (answered: { status: string }) => journal.releaseAnswers.set(held.id, [...(journal.releaseAnswers.get(held.id) ?? []), answered.status]);
      if (roll < 0.47) return async () => record("releaseReservation", await call(url, RELEASE, { input: ref }), noteRelease);
      if (roll < 0.49) return async () => record("releaseReservationAsAdmin", await admin(RELEASE_AS_ADMIN, held.id), noteRelease);
      return async () => {
        await options.runOut(held.id).catch(() => undefined); // a fault may stop the test's own write too
        journal.count("runOutHold");
      };
    }
    if (roll < 0.57 && journal.keyedRequests.length > 0) {
      const request = random.pick(journal.keyedRequests);
      return async () => record("retryOrder", await call(url, ORDER, { store: world.store.slug, input: request }), (order) => notePlaced(request, order));
    }
    if (roll < 0.72 && knownOrders.length > 0) {
      const orderId = random.pick(knownOrders);
      const status = random.chance(0.6) ? "CANCELLED" : random.pick(["CONFIRMED", "SHIPPED", "DELIVERED"]);
      return async () =>
        record(status === "CANCELLED" ? "cancel" : "changeStatus", await admin(STATUS, { orderId, status }), () => {
          if (status === "CANCELLED") journal.cancelled.add(orderId);
          if (status === "DELIVERED") journal.delivered.add(orderId);
        });
    }
    if (roll < 0.8) {
      const item = random.pick(tracked);
      const quantity = random.int(0, 15);
      const expected = random.chance(0.5) ? lastSeenQuantity.get(item.id) : undefined;
      return async () =>
        record("setItemQuantity", await admin(SET, { itemId: item.id, quantity, ...(expected === undefined ? {} : { expectedQuantity: expected }) }), (done) => {
          lastSeenQuantity.set(item.id, done.quantity);
          journal.manualChanges.push(manualChangeKey(item.id, "MANUAL_SET", done.quantity, null)!);
        });
    }
    if (roll < 0.88) {
      const item = random.pick(tracked);
      const delta = random.pick([-3, -2, -1, 1, 2, 3, 4, 5]);
      return async () =>
        record("adjustItemQuantity", await admin(ADJUST, { itemId: item.id, delta }), (done) => {
          lastSeenQuantity.set(item.id, done.quantity);
          journal.manualChanges.push(manualChangeKey(item.id, "MANUAL_ADJUSTMENT", done.quantity, delta)!);
        });
    }
    if (roll < 0.93) {
      const item = random.pick(world.items.filter((candidate) => candidate.kind === "toggled"));
      const sellWithoutStock = random.chance(0.5);
      return async () => record("toggleSellWithoutStock", await admin(UPDATE, { id: item.id, sellWithoutStock }));
    }
    if (roll < 0.95) {
      const outOfStockBehavior = random.pick(["MARK_SOLD_OUT", "HIDE"]);
      return async () => record("outOfStockBehavior", await admin(SETTINGS, { outOfStockBehavior }));
    }
    return async () => record("storefront", await call(url, STOREFRONT, { slug: world.store.slug }));
  };

  function notePlaced(request: OrderRequest, order: { id: string; lines: { quantity: number; item: { id: string } }[] }) {
    if (request.idempotencyKey) {
      const first = journal.firstAnswerForKey.get(request.idempotencyKey);
      if (first === undefined) journal.firstAnswerForKey.set(request.idempotencyKey, order.id);
      else if (first !== order.id) journal.idempotencyMismatches.push(`${request.idempotencyKey}: ${first} then ${order.id}`);
    }
    if (!journal.placed.has(order.id)) knownOrders.push(order.id);
    journal.placed.set(order.id, new Map(order.lines.map((line) => [line.item.id, line.quantity])));
  }

  function record(name: string, answer: Answer, onSuccess?: (value: any) => void) {
    journal.count(`${name} ${answer.outcome}`);
    journal.slowestMs = Math.max(journal.slowestMs, answer.ms);
    if (answer.outcome === "ok") onSuccess?.(answer.value);
    if (answer.outcome === "unexpected" || answer.outcome === "network") journal.unexpected.push(`${name}: ${answer.detail}`);
    return answer.outcome === "unavailable" ? pause(100) : undefined;
  }

  const client = async () => {
    while (handedOut < options.operations) {
      const n = handedOut++;
      options.beforeOperation(n);
      await operation(options.random)();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  return journal;
}

/** A manual count change as the journal and the movements both show it (a set's delta is not known to its client). */
function manualChangeKey(itemId: string, reason: string, quantityAfter: number, delta: number | null) {
  if (reason === "MANUAL_SET") return `${itemId} set to ${quantityAfter}`;
  if (reason === "MANUAL_ADJUSTMENT") return `${itemId} adjusted by ${delta} to ${quantityAfter}`;
  return null;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Everything that must hold after the run, whatever failed during it; returns what does not.
 * - the ledger: every tracked item's movements, replayed in order, step to each quantityAfter
 *   and end at its quantity; a strict item never went below zero;
 * - orders: each took exactly its stock-taking lines once; each cancelled one gave them back
 *   exactly once, and no other did; numbers run 1..n without gaps;
 * - what clients were told happened did: orders exist with the lines answered, cancellations and
 *   deliveries stand, manual count changes have their movements; and every retry of an
 *   idempotency key answered the order its first answer named;
 * - cart holds: every level holds for carts exactly the units of its HELD holds (and variants and
 *   items the sums); a hold no longer HELD has ended, a CONVERTED one names an order of its own
 *   that was placed with it (its answer, or one a fault lost), no other names an order; every
 *   hold a client was granted exists, and every release answered the status the hold ended with.
 */
export async function brokenInvariants(db: Database, storeId: string, world: World, journal: Journal): Promise<string[]> {
  const broken: string[] = [];
  const query = async (sql: string) => (await db.pool.query(sql, [storeId])).rows;

  const strict = new Set(world.items.filter((item) => item.kind === "strict").map((item) => item.id));
  const movements = await query(
    `SELECT item_id, delta, quantity_after, reason, order_id FROM stock_movements WHERE store_id = $1 ORDER BY id`,
  );
  const items = await query(`SELECT id, quantity, track_inventory, type FROM items WHERE store_id = $1`);
  const replayed = new Map<string, number>();
  for (const movement of movements) {
    const after = (replayed.get(movement.item_id) ?? 0) + movement.delta;
    replayed.set(movement.item_id, after);
    if (after !== movement.quantity_after) broken.push(`item ${movement.item_id}: replay gives ${after}, movement says ${movement.quantity_after}`);
    if (strict.has(movement.item_id) && after < 0) broken.push(`strict item ${movement.item_id} went to ${after} (${movement.reason})`);
  }
  for (const item of items) {
    if ((replayed.get(item.id) ?? 0) !== item.quantity) broken.push(`item ${item.id}: movements add up to ${replayed.get(item.id)}, quantity is ${item.quantity}`);
    if (strict.has(item.id) && item.quantity < 0) broken.push(`strict item ${item.id} is at ${item.quantity}`);
  }

  const orders = await query(`SELECT id, number, status FROM orders WHERE store_id = $1 ORDER BY number`);
  const lines = await query(`SELECT order_id, item_id, quantity, stock_taken FROM order_lines WHERE store_id = $1`);
  orders.forEach((order, index) => {
    if (order.number !== index + 1) broken.push(`order numbers have a gap: #${order.number} at position ${index + 1}`);
  });
  const byOrder = (rows: any[]) => {
    const groups = new Map<string, any[]>();
    for (const row of rows) groups.set(row.order_id, [...(groups.get(row.order_id) ?? []), row]);
    return groups;
  };
  const linesOf = byOrder(lines);
  const placedMoves = byOrder(movements.filter((movement) => movement.reason === "ORDER_PLACED"));
  const cancelMoves = byOrder(movements.filter((movement) => movement.reason === "ORDER_CANCELLED"));
  for (const order of orders) {
    const taking = (linesOf.get(order.id) ?? []).filter((line) => line.stock_taken);
    const expectMoves = (moves: any[] | undefined, sign: number, what: string) => {
      const got = new Map((moves ?? []).map((move) => [move.item_id, move.delta]));
      const want = new Map(taking.map((line) => [line.item_id, sign * line.quantity]));
      if ((moves ?? []).length !== taking.length || [...want].some(([item, delta]) => got.get(item) !== delta)) {
        broken.push(`order #${order.number} (${order.status}): ${what} movements ${JSON.stringify([...got])}, lines want ${JSON.stringify([...want])}`);
      }
    };
    expectMoves(placedMoves.get(order.id), -1, "ORDER_PLACED");
    if (order.status === "CANCELLED") expectMoves(cancelMoves.get(order.id), 1, "ORDER_CANCELLED");
    else if (cancelMoves.has(order.id)) broken.push(`order #${order.number} (${order.status}) gave stock back without being cancelled`);
  }

  const statusOf = new Map(orders.map((order) => [order.id, order.status]));
  for (const [orderId, units] of journal.placed) {
    const stored = new Map((linesOf.get(orderId) ?? []).map((line) => [line.item_id, line.quantity]));
    if (!statusOf.has(orderId)) broken.push(`order ${orderId} was reported placed but does not exist`);
    else if (JSON.stringify([...stored].sort()) !== JSON.stringify([...units].sort())) broken.push(`order ${orderId}: answered ${JSON.stringify([...units])}, stored ${JSON.stringify([...stored])}`);
  }
  for (const orderId of journal.cancelled) {
    if (statusOf.get(orderId) !== "CANCELLED") broken.push(`order ${orderId} was reported cancelled but is ${statusOf.get(orderId)}`);
  }
  for (const orderId of journal.delivered) {
    if (statusOf.get(orderId) !== "DELIVERED") broken.push(`order ${orderId} was reported delivered but is ${statusOf.get(orderId)}`);
  }
  const unmatched = new Map<string, number>();
  for (const movement of movements) {
    const key = manualChangeKey(movement.item_id, movement.reason, movement.quantity_after, movement.delta);
    if (key) unmatched.set(key, (unmatched.get(key) ?? 0) + 1);
  }
  for (const change of journal.manualChanges) {
    const left = unmatched.get(change) ?? 0;
    if (left === 0) broken.push(`manual change reported done has no movement: ${change}`);
    else unmatched.set(change, left - 1);
  }
  broken.push(...journal.idempotencyMismatches.map((mismatch) => `idempotency key answered two orders: ${mismatch}`));

  for (const row of await unbalancedLedgers(db, storeId)) broken.push(`ledger: ${JSON.stringify(row)}`);
  const holds = new Map(
    (await query(`SELECT id, status, order_id AS "orderId", ended_at AS "endedAt" FROM reservations WHERE store_id = $1`)).map((row) => [row.id, row]),
  );
  const convertedTo = new Map<string, string>();
  for (const hold of holds.values()) {
    if ((hold.status === "HELD") !== (hold.endedAt === null)) broken.push(`hold ${hold.id} is ${hold.status} with endedAt ${hold.endedAt}`);
    if (hold.status !== "CONVERTED") {
      if (hold.orderId !== null) broken.push(`hold ${hold.id} is ${hold.status} but names order ${hold.orderId}`);
      continue;
    }
    if (!statusOf.has(hold.orderId)) broken.push(`hold ${hold.id} converted to order ${hold.orderId}, which does not exist`);
    if (convertedTo.has(hold.orderId)) broken.push(`order ${hold.orderId} converted two holds: ${convertedTo.get(hold.orderId)} and ${hold.id}`);
    convertedTo.set(hold.orderId, hold.id);
    const told = journal.ordersWithHold.get(hold.id);
    if (!told?.has(hold.orderId) && !journal.holdsWithLostOrder.has(hold.id)) {
      broken.push(`hold ${hold.id} converted to order ${hold.orderId}, not one placed with it (${JSON.stringify([...(told ?? [])])})`);
    }
  }
  for (const id of journal.holds.keys()) if (!holds.has(id)) broken.push(`hold ${id} was granted but does not exist`);
  for (const [id, statuses] of journal.releaseAnswers) {
    const ended = holds.get(id)?.status;
    for (const status of statuses) if (status !== ended) broken.push(`a release of hold ${id} answered ${status}, the hold is ${ended}`);
  }
  return broken;
}
