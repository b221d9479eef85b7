import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { databaseUrl, gql, gqlData, newStore, unbalancedLedgers, type GraphQLResponse, type TestStore } from "./support/harness.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { seededRandom, type Random } from "./support/chaos.ts";

/**
 * SPEC section 8 under concurrency (issue 11): orders over variants of several items, split
 * across two fulfilling warehouses, and transfers between those warehouses racing the orders on
 * the same stock levels, all sent at once to two service processes on one database.
 *
 * Besides the invariants (nothing oversold, all lines or nothing, order numbers 1..N, balanced
 * ledgers, each transfer two TRANSFER movements sharing a transferId), both tests replay what
 * committed: every change of an item's stock is made under that item's lock, so the ids of its
 * movements follow the order in which the changes committed. Replaying each variant's orders and
 * transfers in that order from the stock as it was before the race, with the allocation rule
 * (fulfilling warehouses in ascending priority, splitting; what none has from the first, only with
 * "Vender sin Stock"), must give exactly the movements recorded, and end on exactly the stock
 * levels in the database: every unit sold was taken from a level, once, by the rule.
 *
 * Random choices come from a seed (VARIANTS_CONCURRENCY_SEED to repeat a run); failures name it.
 */

const seed = Number(process.env.VARIANTS_CONCURRENCY_SEED ?? Math.floor(Math.random() * 2 ** 31));


let one: ServerProcess;
let two: ServerProcess;
let db: Database;
/** PostgreSQL's count of deadlocks in the test database before the races */
let deadlocksBefore: number;

beforeAll(async () => {
  [one, two] = await Promise.all([startServerProcess(), startServerProcess()]);
  db = openDatabase(databaseUrl(), { poolSize: 4, logger: createLogger("silent") });
  deadlocksBefore = await deadlocks();
});

async function deadlocks(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>("SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()");
  return rows[0]!.n;
}

afterAll(async () => {
  await db?.close();
  await Promise.all([one?.stop(), two?.stop()]);
});

// ---------- setting up a store through the admin API ----------

const OPERATION_ERROR = `... on OperationError { code message field }`;
const ERRORS = `${OPERATION_ERROR}
  ... on InsufficientStockError { code message shortages { itemId variantId requested available } }`;

async function admin(store: TestStore, query: string, variables: Record<string, unknown>) {
  const data = await gqlData(one.url, query, variables, store.token);
  const answer = Object.values(data)[0] as { __typename: string };
  if (answer.__typename === "OperationError" || answer.__typename === "InsufficientStockError") {
    throw new Error(`${query.trim().slice(0, 60)}...: ${JSON.stringify(answer)}`);
  }
  return answer as any;
}

type Warehouses = { first: string; second: string; outside: string };

/**
 * The store's warehouses: "Bodega Norte", created fulfilling with priority 1, is the FIRST orders
 * take from; the main one, moved to priority 2, the second; "Bodega Sur" does not fulfil online
 * orders, so orders never touch its stock.
 */
async function warehouses(store: TestStore): Promise<Warehouses> {
  const { rows } = await db.pool.query<{ id: string }>("SELECT id FROM warehouses WHERE store_id = $1 AND is_main", [store.id]);
  const main = rows[0]!.id;
  const create = `mutation($input: CreateWarehouseInput!) { createWarehouse(input: $input) { __typename ... on Warehouse { id } ${OPERATION_ERROR} } }`;
  const first = await admin(store, create, { input: { name: "Bodega Norte", fulfilsOnlineOrders: true, priority: 1 } });
  const outside = await admin(store, create, { input: { name: "Bodega Sur", fulfilsOnlineOrders: false } });
  await admin(store, `mutation($input: UpdateWarehouseInput!) { updateWarehouse(input: $input) { __typename ... on Warehouse { id priority } ${OPERATION_ERROR} } }`, {
    input: { id: main, priority: 2 },
  });
  return { first: first.id, second: main, outside: outside.id };
}

type Variant = { id: string; itemId: string; label: string; sellWithoutStock: boolean };

/**
 * An item in one option's values ("Talla": S, M, L), each variant with `counts[value]` units as
 * [first warehouse, second (main), outside]: the main count as the variant's initial count,
 * the others set through setItemQuantity on their level.
 */
async function itemWithVariants(
  store: TestStore,
  w: Warehouses,
  name: string,
  option: string,
  counts: Record<string, [number, number, number]>,
  sellWithoutStock = false,
): Promise<Variant[]> {
  const values = Object.keys(counts);
  const item = await admin(
    store,
    `mutation($input: CreateItemInput!) { createItem(input: $input) { __typename ... on Item { id variants { id options { value } } } ${OPERATION_ERROR} } }`,
    {
      input: {
        name,
        type: "PRODUCT",
        price: "25.00",
        sellWithoutStock,
        options: [{ name: option, values }],
        variants: values.map((value) => ({ options: [{ name: option, value }], sku: `${store.slug}-${name}-${value}`, quantity: counts[value]![1] })),
      },
    },
  );
  const variants: Variant[] = item.variants.map((variant: { id: string; options: { value: string }[] }) => ({
    id: variant.id,
    itemId: item.id,
    label: `${name} ${variant.options[0]!.value}`,
    sellWithoutStock,
  }));
  for (const variant of variants) {
    const [first, , outside] = counts[variant.label.slice(name.length + 1)]!;
    for (const [warehouseId, quantity] of [[w.first, first], [w.outside, outside]] as const) {
      if (quantity === 0) continue;
      await admin(store, `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { __typename ... on Item { id } ${OPERATION_ERROR} } }`, {
        input: { itemId: variant.itemId, variantId: variant.id, warehouseId, quantity },
      });
    }
  }
  return variants;
}

/**
 * A store of three items in three variants each, in two fulfilling warehouses and one that does
 * not fulfil; the last item sells without stock ("Vender sin Stock"). `scale` multiplies every count.
 */
async function clothingStore(scale = 1) {
  const store = await newStore(db);
  const w = await warehouses(store);
  const counts = (table: Record<string, [number, number, number]>) =>
    Object.fromEntries(Object.entries(table).map(([value, levels]) => [value, levels.map((n) => n * scale) as [number, number, number]]));
  const variants = [
    ...(await itemWithVariants(store, w, "Camiseta", "Talla", counts({ S: [5, 6, 5], M: [0, 9, 5], L: [7, 2, 0] }))),
    ...(await itemWithVariants(store, w, "Pantalón", "Talla", counts({ "28": [5, 5, 3], "30": [3, 0, 0], "32": [6, 8, 2] }))),
    ...(await itemWithVariants(store, w, "Calcetines", "Color", counts({ Negro: [3, 2, 4], Blanco: [0, 4, 0], Gris: [2, 0, 0] }), true)),
  ];
  return { store, w, variants };
}

// ---------- the requests ----------

type Line = { itemId: string; variantId: string; quantity: number };

const PLACE_ORDER = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number lines { quantity variant { id } } }
    ${ERRORS}
  }
}`;

const TRANSFER = `mutation($input: TransferStockInput!) {
  transferStock(input: $input) { __typename ... on Variant { id } ${ERRORS} }
}`;

/**
 * 1 to 3 lines of random variants (now and then the same variant twice), 1 to 3 units each, in
 * random order. The first variant (Camiseta S, an odd count in the first warehouse) is always
 * asked in pairs, so that once the first warehouse is down to its last unit a line splits.
 */
function randomOrder(rng: Random, variants: readonly Variant[]): Line[] {
  const lines = Array.from({ length: rng.int(1, 3) }, () => {
    const variant = rng.pick(variants);
    return { itemId: variant.itemId, variantId: variant.id, quantity: variant === variants[0] ? 2 : rng.int(1, 3) };
  });
  return rng.shuffle(lines);
}

/** The answer's `placeOrder` or `transferStock`, or the whole response when it is not one (a top-level error). */
async function send(server: ServerProcess, query: string, variables: Record<string, unknown>, token?: string) {
  const response: GraphQLResponse = await gql(server.url, query, variables, token).catch((error: Error) => ({ errors: [{ message: error.message }] }));
  const answer = response.data ? (Object.values(response.data)[0] as { __typename: string } | null) : null;
  return answer && !response.errors?.length ? answer : { __typename: "failure", response };
}

// ---------- reading what happened ----------

type Level = { variantId: string; warehouseId: string; quantity: number; committed: number };

async function levelsOf(storeId: string): Promise<Level[]> {
  const { rows } = await db.pool.query<Level>(
    `SELECT variant_id AS "variantId", warehouse_id AS "warehouseId", quantity, committed_quantity AS committed
       FROM stock_levels WHERE store_id = $1 ORDER BY variant_id, warehouse_id`,
    [storeId],
  );
  return rows;
}

type Movement = {
  id: number;
  variantId: string;
  warehouseId: string;
  delta: number;
  quantityAfter: number;
  reason: string;
  orderId: string | null;
  transferId: string | null;
};

async function movementsAfter(storeId: string, afterId: number): Promise<Movement[]> {
  const { rows } = await db.pool.query<Movement>(
    `SELECT id, variant_id AS "variantId", warehouse_id AS "warehouseId", delta, quantity_after AS "quantityAfter", reason::text AS reason,
            order_id AS "orderId", transfer_id AS "transferId"
       FROM stock_movements WHERE store_id = $1 AND id > $2 ORDER BY id`,
    [storeId, afterId],
  );
  return rows;
}

async function lastMovementId(storeId: string): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>("SELECT coalesce(max(id), 0)::int AS id FROM stock_movements WHERE store_id = $1", [storeId]);
  return rows[0]!.id;
}

type StoredOrder = { id: string; number: number; lines: { variantId: string; quantity: number; allocations: Record<string, number> }[] };

async function ordersOf(storeId: string): Promise<StoredOrder[]> {
  const { rows } = await db.pool.query<StoredOrder>(
    `SELECT o.id, o.number,
            coalesce((SELECT json_agg(json_build_object(
                        'variantId', l.variant_id, 'quantity', l.quantity,
                        'allocations', (SELECT coalesce(json_object_agg(a.warehouse_id, a.quantity), '{}'::json) FROM order_line_allocations a
                                         WHERE a.store_id = l.store_id AND a.order_id = l.order_id AND a.variant_id = l.variant_id)))
                        FROM order_lines l WHERE l.store_id = o.store_id AND l.order_id = o.id), '[]'::json) AS lines
       FROM orders o WHERE o.store_id = $1 ORDER BY o.number`,
    [storeId],
  );
  return rows;
}

/** Movements of a level that do not follow from the one before (quantityAfter = previous + delta). */
async function brokenChains(storeId: string) {
  const { rows } = await db.pool.query(
    `SELECT * FROM (
       SELECT id, variant_id, warehouse_id, delta, quantity_after,
              lag(quantity_after) OVER (PARTITION BY variant_id, warehouse_id ORDER BY id) AS previous
         FROM stock_movements WHERE store_id = $1) m
      WHERE previous IS NOT NULL AND quantity_after <> previous + delta`,
    [storeId],
  );
  return rows;
}

const key = (variantId: string, warehouseId: string) => `${variantId}/${warehouseId}`;

/**
 * Where the allocation rule takes `quantity` units of a variant from, given its levels' available
 * units in the fulfilling warehouses in ascending priority: what each has, in turn; the rest from
 * the first only when the item sells without stock. Null when it cannot be served.
 */
function allocate(available: readonly [string, number][], quantity: number, sellWithoutStock: boolean): Map<string, number> | null {
  const taken = new Map<string, number>();
  let rest = quantity;
  for (const [warehouseId, units] of available) {
    const take = Math.min(rest, Math.max(0, units));
    if (take > 0) taken.set(warehouseId, take);
    rest -= take;
  }
  if (rest === 0) return taken;
  if (!sellWithoutStock) return null;
  const first = available[0]![0];
  taken.set(first, (taken.get(first) ?? 0) + rest);
  return taken;
}

/**
 * Replays, variant by variant in the order their changes committed (movement ids), the orders
 * and transfers that moved stock after `before` was read: each order line must have taken what
 * the rule takes from the replayed levels, each transfer moved what it says without taking its
 * source below zero; the replay must end on `after`. Returns the differences found.
 */
function replay(options: {
  variants: readonly Variant[];
  fulfilling: readonly string[];
  before: readonly Level[];
  after: readonly Level[];
  movements: readonly Movement[];
  orders: readonly StoredOrder[];
}): string[] {
  const problems: string[] = [];
  const levels = new Map(options.before.map((level) => [key(level.variantId, level.warehouseId), level.quantity - level.committed]));
  const lineOf = new Map(options.orders.flatMap((order) => order.lines.map((line) => [`${order.id}/${line.variantId}`, line] as const)));
  for (const variant of options.variants) {
    // one change = the movements of one order or one transfer on this variant, in commit order
    const changes = new Map<string, Movement[]>();
    for (const movement of options.movements.filter((m) => m.variantId === variant.id)) {
      const id = movement.orderId ?? movement.transferId ?? `movement ${movement.id}`;
      changes.set(id, [...(changes.get(id) ?? []), movement]);
    }
    for (const [changeId, movements] of changes) {
      const deltas = new Map(movements.map((m) => [m.warehouseId, m.delta]));
      const reason = movements[0]!.reason;
      if (reason === "ORDER_PLACED") {
        const line = lineOf.get(`${changeId}/${variant.id}`);
        if (!line) {
          problems.push(`${variant.label}: movements of order ${changeId}, which has no such line`);
          continue;
        }
        const expected = allocate(
          options.fulfilling.map((warehouseId) => [warehouseId, levels.get(key(variant.id, warehouseId))!]),
          line.quantity,
          variant.sellWithoutStock,
        );
        const recorded = Object.fromEntries([...deltas].map(([warehouseId, delta]) => [warehouseId, -delta]));
        if (!expected) problems.push(`${variant.label}: order ${changeId} took ${line.quantity} that the levels did not have`);
        else if (JSON.stringify(Object.fromEntries([...expected].sort())) !== JSON.stringify(Object.fromEntries(Object.entries(recorded).sort()))) {
          problems.push(`${variant.label}: order ${changeId} took ${JSON.stringify(recorded)}, the rule says ${JSON.stringify(Object.fromEntries(expected))}`);
        }
        if (JSON.stringify(Object.fromEntries(Object.entries(line.allocations).sort())) !== JSON.stringify(Object.fromEntries(Object.entries(recorded).sort()))) {
          problems.push(`${variant.label}: order ${changeId} records allocations ${JSON.stringify(line.allocations)} but moved ${JSON.stringify(recorded)}`);
        }
      } else if (reason === "TRANSFER") {
        const source = movements.find((m) => m.delta < 0);
        const target = movements.find((m) => m.delta > 0);
        if (movements.length !== 2 || !source || !target || source.delta + target.delta !== 0 || source.warehouseId === target.warehouseId) {
          problems.push(`${variant.label}: transfer ${changeId} is not two movements of opposite units between two warehouses: ${JSON.stringify(movements)}`);
        } else if (levels.get(key(variant.id, source.warehouseId))! + source.delta < 0) {
          problems.push(`${variant.label}: transfer ${changeId} took its source below zero`);
        }
      } else {
        problems.push(`${variant.label}: an unexpected ${reason} movement during the race`);
      }
      for (const [warehouseId, delta] of deltas) levels.set(key(variant.id, warehouseId), levels.get(key(variant.id, warehouseId))! + delta);
    }
  }
  for (const level of options.after) {
    const replayed = levels.get(key(level.variantId, level.warehouseId));
    if (replayed !== level.quantity - level.committed) {
      problems.push(`level ${key(level.variantId, level.warehouseId)}: ${level.quantity - level.committed} available, the replay says ${replayed}`);
    }
  }
  return problems;
}

/** What must hold of the orders of a race, whatever else raced them. */
async function checkOrders(
  store: TestStore,
  variants: readonly Variant[],
  w: Warehouses,
  sent: { lines: Line[]; answer: { __typename: string } & Record<string, any> }[],
) {
  const stored = await ordersOf(store.id);
  const placed = sent.filter((s) => s.answer.__typename === "Order");
  const refused = sent.filter((s) => s.answer.__typename === "InsufficientStockError");
  // every answer an order or a shortage: no deadlock, timeout or internal error reached a shopper
  expect(sent.filter((s) => !["Order", "InsufficientStockError"].includes(s.answer.__typename)).map((s) => s.answer), `seed ${seed}`).toEqual([]);
  // order numbers 1..N without gaps, and exactly the orders answered
  expect(stored.map((order) => order.number)).toEqual(stored.map((_, index) => index + 1));
  expect(stored.map((order) => order.id).sort()).toEqual(placed.map((s) => s.answer.id).sort());
  const storedById = new Map(stored.map((order) => [order.id, order]));
  for (const { lines, answer } of placed) {
    // all lines: one per variant asked (repeats summed), each fully allocated from fulfilling warehouses
    const asked = new Map<string, number>();
    for (const line of lines) asked.set(line.variantId, (asked.get(line.variantId) ?? 0) + line.quantity);
    const order = storedById.get(answer.id)!;
    expect(Object.fromEntries(order.lines.map((line) => [line.variantId, line.quantity]))).toEqual(Object.fromEntries(asked));
    for (const line of order.lines) {
      expect(Object.values(line.allocations).reduce((sum, quantity) => sum + quantity, 0), `seed ${seed}`).toBe(line.quantity);
      expect(Object.keys(line.allocations).every((warehouseId) => warehouseId === w.first || warehouseId === w.second)).toBe(true);
    }
  }
  for (const { lines, answer } of refused) {
    // a shortage names variants of the order, of items that do not sell without stock
    for (const shortage of answer.shortages) {
      const variant = variants.find((v) => v.id === shortage.variantId);
      expect(variant && lines.some((line) => line.variantId === variant.id) && !variant.sellWithoutStock, JSON.stringify(shortage)).toBe(true);
    }
  }
  return { stored, placed: placed.length, refused: refused.length };
}

/** The checks both races end with, on the store's movements and levels. */
async function checkStock(store: TestStore, variants: readonly Variant[], w: Warehouses, before: readonly Level[], movements: readonly Movement[]) {
  const after = await levelsOf(store.id);
  const swsVariants = new Set(variants.filter((v) => v.sellWithoutStock).map((v) => v.id));
  // nothing oversold: no level below zero available, but the first warehouse's of an item that sells without stock
  expect(after.filter((l) => l.quantity - l.committed < 0 && !(swsVariants.has(l.variantId) && l.warehouseId === w.first)), `seed ${seed}`).toEqual([]);
  // the warehouse that does not fulfil online orders is untouched
  expect(after.filter((l) => l.warehouseId === w.outside)).toEqual(before.filter((l) => l.warehouseId === w.outside));
  expect(movements.filter((m) => m.warehouseId === w.outside)).toEqual([]);
  // every ledger balanced (levels, variants, items), every movement following from the one before
  expect(await unbalancedLedgers(db, store.id)).toEqual([]);
  expect(await brokenChains(store.id)).toEqual([]);
  return after;
}

describe("variants and warehouses under concurrency, two service processes on one database", () => {
  it("200 orders over 9 variants of 3 items and 2 fulfilling warehouses: nothing oversold, all lines or nothing, the allocation rule exactly, numbers 1..N", async () => {
    const { store, w, variants } = await clothingStore();
    const before = await levelsOf(store.id);
    const since = await lastMovementId(store.id);
    const rng = seededRandom(seed);
    const requests = Array.from({ length: 200 }, () => randomOrder(rng, variants));

    const sent = await Promise.all(
      requests.map(async (lines, n) => ({ lines, answer: await send(n % 2 ? one : two, PLACE_ORDER, { store: store.slug, input: { lines } }) })),
    );

    const { stored, placed, refused } = await checkOrders(store, variants, w, sent);
    const movements = await movementsAfter(store.id, since);
    const after = await checkStock(store, variants, w, before, movements);
    expect(movements.every((m) => m.reason === "ORDER_PLACED" && stored.some((order) => order.id === m.orderId))).toBe(true);
    expect(replay({ variants, fulfilling: [w.first, w.second], before, after, movements, orders: stored }), `seed ${seed}`).toEqual([]);

    // units sold = units taken from the levels = what the fulfilling levels lost
    const sold = stored.flatMap((order) => order.lines).reduce((sum, line) => sum + line.quantity, 0);
    const taken = -movements.reduce((sum, m) => sum + m.delta, 0);
    const lost = before.reduce((sum, l) => sum + l.quantity, 0) - after.reduce((sum, l) => sum + l.quantity, 0);
    expect({ taken, lost }).toEqual({ taken: sold, lost: sold });

    // the race did what it is for: orders placed and refused, lines split over both warehouses,
    // and a variant that does not sell without stock sold out in a fulfilling warehouse
    expect(placed).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
    expect(stored.flatMap((order) => order.lines).some((line) => Object.keys(line.allocations).length === 2)).toBe(true);
    const fulfilling = (levels: readonly Level[], variant: Variant) =>
      levels.filter((l) => l.variantId === variant.id && l.warehouseId !== w.outside).reduce((sum, l) => sum + l.quantity - l.committed, 0);
    expect(variants.some((v) => !v.sellWithoutStock && fulfilling(before, v) > 0 && fulfilling(after, v) === 0)).toBe(true);
  });

  it("transfers between the two warehouses, both ways, racing orders on the same levels: no level below zero where forbidden, two TRANSFER movements per transfer, units preserved", async () => {
    // more stock than the first race, so that transfers still find units while orders take them
    const { store, w, variants } = await clothingStore(3);
    const before = await levelsOf(store.id);
    const since = await lastMovementId(store.id);
    const rng = seededRandom(seed + 1);
    type Request = { kind: "order"; lines: Line[] } | { kind: "transfer"; input: Record<string, unknown> };
    const requests: Request[] = rng.shuffle([
      ...Array.from({ length: 120 }, (): Request => ({ kind: "order", lines: randomOrder(rng, variants) })),
      ...Array.from({ length: 80 }, (): Request => {
        const [from, to] = rng.next() < 0.5 ? [w.first, w.second] : [w.second, w.first];
        return { kind: "transfer", input: { variantId: rng.pick(variants).id, fromWarehouseId: from, toWarehouseId: to, quantity: rng.int(1, 4) } };
      }),
    ]);

    const answers = await Promise.all(
      requests.map((request, n) =>
        request.kind === "order"
          ? send(n % 2 ? one : two, PLACE_ORDER, { store: store.slug, input: { lines: request.lines } })
          : send(n % 2 ? one : two, TRANSFER, { input: request.input }, store.token),
      ),
    );

    const orders = requests.flatMap((request, n) => (request.kind === "order" ? [{ lines: request.lines, answer: answers[n]! as any }] : []));
    const transfers = requests.flatMap((request, n) => (request.kind === "transfer" ? [{ input: request.input, answer: answers[n]! as any }] : []));
    const { stored } = await checkOrders(store, variants, w, orders);
    expect(transfers.filter((t) => !["Variant", "InsufficientStockError"].includes(t.answer.__typename)).map((t) => t.answer), `seed ${seed}`).toEqual([]);
    const moved = transfers.filter((t) => t.answer.__typename === "Variant");

    const movements = await movementsAfter(store.id, since);
    const after = await checkStock(store, variants, w, before, movements);
    // each transfer: two TRANSFER movements sharing its transferId, the units out of one level into the other
    const byTransfer = new Map<string | null, Movement[]>();
    for (const m of movements.filter((m) => m.reason === "TRANSFER")) byTransfer.set(m.transferId, [...(byTransfer.get(m.transferId) ?? []), m]);
    expect(byTransfer.has(null)).toBe(false);
    expect(byTransfer.size).toBe(moved.length);
    const madeTransfers = [...byTransfer.values()].map((pair) => {
      const source = pair.find((m) => m.delta < 0)!;
      return { variantId: source.variantId, fromWarehouseId: source.warehouseId, toWarehouseId: pair.find((m) => m.delta > 0)?.warehouseId, quantity: -source.delta, movements: pair.length };
    });
    expect(madeTransfers.map((t) => JSON.stringify(t)).sort()).toEqual(moved.map((t) => JSON.stringify({ ...t.input, movements: 2 })).sort());
    // a transfer never takes its source below zero, "Vender sin Stock" or not
    expect(movements.filter((m) => m.reason === "TRANSFER" && m.delta < 0 && m.quantityAfter < 0)).toEqual([]);
    expect(replay({ variants, fulfilling: [w.first, w.second], before, after, movements, orders: stored }), `seed ${seed}`).toEqual([]);

    // units preserved: transfers move them (per variant their deltas add up to 0), orders take them
    for (const variant of variants) {
      const transferDeltas = movements.filter((m) => m.reason === "TRANSFER" && m.variantId === variant.id).reduce((sum, m) => sum + m.delta, 0);
      const sold = stored.flatMap((order) => order.lines).filter((line) => line.variantId === variant.id).reduce((sum, line) => sum + line.quantity, 0);
      const total = (levels: readonly Level[]) => levels.filter((l) => l.variantId === variant.id).reduce((sum, l) => sum + l.quantity, 0);
      expect({ variant: variant.label, transferDeltas, lost: total(before) - total(after) }).toEqual({ variant: variant.label, transferDeltas: 0, lost: sold });
    }

    // both kinds happened, both ways, and some transfers were refused for want of units
    expect(stored.length).toBeGreaterThan(10);
    expect(new Set(madeTransfers.map((t) => t.fromWarehouseId)).size).toBe(2);
    expect(transfers.some((t) => t.answer.__typename === "InsufficientStockError")).toBe(true);
  });

  it("and PostgreSQL detected no deadlock meanwhile (the service would have retried it out of sight)", async () => {
    // a server's connections report their statistics when they close: stop both first
    await Promise.all([one.stop(), two.stop()]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // (the whole test database's count: a deadlock of another file running meanwhile counts too)
    expect(await deadlocks()).toBe(deadlocksBefore);
  });
});
