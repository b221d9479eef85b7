/**
 * A reference model of a store's stock (SPEC sections 1, 2 and 8) in plain TypeScript, for the
 * model-based test (test/stock-model.test.ts): warehouses, items with their variants, a stock
 * level per variant per warehouse, orders with their allocations. Each operation is written here
 * as what the rules say it must do, on a copy of the state: the answer the service must give and,
 * when it succeeds, the state after. The limit rule: every level, every variant's sums over the
 * fulfilling warehouses and every item's sums over its variants stay within +-1e9 (committed
 * within 0..1e9); an operation that would break it is refused and changes nothing. What the
 * service creates is written with an empty id, which the test fills in from the answer.
 */

export const LIMIT = 1_000_000_000;

export type Level = { quantity: number; committed: number };
export type ModelVariant = { id: string; sku: string | null; levels: Map<string, Level> };
export type ModelItem = { id: string; sellWithoutStock: boolean; hasOptions: boolean; variants: ModelVariant[] };
export type ModelWarehouse = { id: string; fulfils: boolean; priority: number; isMain: boolean };
export type Allocation = { variantId: string; warehouseId: string; quantity: number };
export type ModelOrder = { id: string; itemId: string; open: boolean; allocations: Allocation[] };
/** What the accounting system holds of a variant (by its SKU = reference), per accounting warehouse "1" (the default) and "2". */
export type AccountingCounts = { "1": number; "2": number };
export type StockState = {
  warehouses: ModelWarehouse[];
  items: ModelItem[];
  orders: ModelOrder[];
  /** by variant id; a variant without an accounting item is left unmatched by a sync */
  accounting: Record<string, AccountingCounts>;
};

/** What the service must answer: success, an error value (with its field), or a GraphQL validation error. */
export type Expected =
  | { kind: "ok" }
  | { kind: "error"; code: string; field?: string }
  | { kind: "shortage" }
  | { kind: "graphql" };

export type Outcome = { expected: Expected; next?: StockState };

export const ok = (next: StockState): Outcome => ({ expected: { kind: "ok" }, next });
const refused = (code: string, field?: string): Outcome => ({ expected: { kind: "error", code, field } });
const invalid = (field: string) => refused("INVALID_INPUT", field);
const notInt32 = (...values: number[]): boolean => values.some((v) => !Number.isInteger(v) || v < -(2 ** 31) || v > 2 ** 31 - 1);
const GRAPHQL: Outcome = { expected: { kind: "graphql" } };

export function copyState(state: StockState): StockState {
  return structuredClone(state);
}

const fulfilling = (state: StockState) => new Set(state.warehouses.filter((w) => w.fulfils).map((w) => w.id));

/** A variant's quantity and committed quantity: the sums over the warehouses that fulfil online orders. */
export function variantSums(state: StockState, variant: ModelVariant): Level {
  const fulfils = fulfilling(state);
  let quantity = 0;
  let committed = 0;
  for (const [warehouseId, level] of variant.levels) {
    if (!fulfils.has(warehouseId)) continue;
    quantity += level.quantity;
    committed += level.committed;
  }
  return { quantity, committed };
}

export function itemSums(state: StockState, item: ModelItem): Level {
  return item.variants.reduce(
    (sum, variant) => {
      const own = variantSums(state, variant);
      return { quantity: sum.quantity + own.quantity, committed: sum.committed + own.committed };
    },
    { quantity: 0, committed: 0 },
  );
}

const within = ({ quantity, committed }: Level) => Math.abs(quantity) <= LIMIT && committed >= 0 && committed <= LIMIT;

/** Whether every level, variant and item of the state keeps the limit rule. */
export function withinLimits(state: StockState): boolean {
  return state.items.every(
    (item) =>
      within(itemSums(state, item)) &&
      item.variants.every((variant) => within(variantSums(state, variant)) && [...variant.levels.values()].every(within)),
  );
}

const ORDER = ["IN_STOCK", "BACKORDER", "SOLD_OUT"] as const;

export function variantAvailability(state: StockState, item: ModelItem, variant: ModelVariant): (typeof ORDER)[number] {
  const { quantity, committed } = variantSums(state, variant);
  if (quantity - committed > 0) return "IN_STOCK";
  return item.sellWithoutStock ? "BACKORDER" : "SOLD_OUT";
}

/** The best of its variants'. */
export function itemAvailability(state: StockState, item: ModelItem) {
  return ORDER[Math.min(...item.variants.map((variant) => ORDER.indexOf(variantAvailability(state, item, variant))))]!;
}

function levelOf(state: StockState, itemIndex: number, variantIndex: number, warehouseIndex: number) {
  const item = state.items[itemIndex]!;
  const variant = item.variants[variantIndex]!;
  const warehouse = state.warehouses[warehouseIndex]!;
  return { item, variant, warehouse, level: variant.levels.get(warehouse.id)! };
}

/** The state with a new item: its variants' first counts in the main warehouse, 0 elsewhere. */
export function createItem(state: StockState, input: { quantities: number[]; sellWithoutStock: boolean }): Outcome {
  const { quantities } = input;
  if (notInt32(...quantities)) return GRAPHQL;
  const hasOptions = quantities.length > 1;
  const field = (index: number) => (hasOptions ? `variants.${index}.quantity` : "quantity");
  const bad = quantities.findIndex((quantity) => quantity < 0 || quantity > LIMIT);
  if (bad >= 0) return invalid(field(bad));
  const next = copyState(state);
  const main = next.warehouses.find((w) => w.isMain)!;
  const item: ModelItem = {
    id: "",
    sellWithoutStock: input.sellWithoutStock,
    hasOptions,
    variants: quantities.map((quantity) => ({
      id: "",
      sku: null,
      levels: new Map(next.warehouses.map((w) => [w.id, { quantity: w.id === main.id ? quantity : 0, committed: 0 }])),
    })),
  };
  next.items.push(item);
  if (!withinLimits(next)) {
    // the first variant whose count takes the item past the limit (the main warehouse fulfilling: else no sum moves)
    let sum = 0;
    return invalid(field(quantities.findIndex((quantity) => (sum += quantity) > LIMIT)));
  }
  return ok(next);
}

/** "Registrar cantidad disponible". */
export function setQuantity(state: StockState, at: [number, number, number], quantity: number): Outcome {
  if (notInt32(quantity)) return GRAPHQL;
  if (Math.abs(quantity) > LIMIT) return invalid("quantity");
  const next = copyState(state);
  const { item, level } = levelOf(next, ...at);
  if (!item.sellWithoutStock && quantity - level.committed < 0 && quantity < level.quantity) return invalid("quantity");
  level.quantity = quantity;
  return withinLimits(next) ? ok(next) : invalid("quantity");
}

export function adjustQuantity(state: StockState, at: [number, number, number], delta: number): Outcome {
  if (notInt32(delta)) return GRAPHQL;
  if (delta === 0 || Math.abs(delta) > LIMIT) return invalid("delta");
  const next = copyState(state);
  const { item, level } = levelOf(next, ...at);
  if (!item.sellWithoutStock && delta < 0 && level.quantity + delta - level.committed < 0) return invalid("delta");
  level.quantity += delta;
  return withinLimits(next) ? ok(next) : invalid("delta");
}

/** Both sides or neither; never takes the source below zero, "Vender sin Stock" or not. */
export function transfer(state: StockState, variantAt: [number, number], from: number, to: number, quantity: number): Outcome {
  if (notInt32(quantity)) return GRAPHQL;
  if (quantity < 1 || quantity > LIMIT) return invalid("quantity");
  if (from === to) return invalid("toWarehouseId");
  const next = copyState(state);
  const source = levelOf(next, variantAt[0], variantAt[1], from).level;
  const target = levelOf(next, variantAt[0], variantAt[1], to).level;
  if (source.quantity - quantity - source.committed < 0) return { expected: { kind: "shortage" } };
  source.quantity -= quantity;
  target.quantity += quantity;
  return withinLimits(next) ? ok(next) : invalid("quantity");
}

/**
 * The checkout of one line: the fulfilling levels in ascending priority (then id) each give what
 * they have until the line has its units; with "Vender sin Stock" what none has comes from the
 * first. Short (or SOLD_OUT) without it, or with no fulfilling warehouse at all, is a shortage.
 */
export function placeOrder(state: StockState, at: [number, number], quantity: number): Outcome {
  if (notInt32(quantity)) return GRAPHQL;
  if (quantity < 1 || quantity > 10_000) return invalid("lines.0.quantity");
  const next = copyState(state);
  const item = next.items[at[0]]!;
  const variant = item.variants[at[1]]!;
  const levels = next.warehouses
    .filter((w) => w.fulfils)
    .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((w) => ({ warehouseId: w.id, level: variant.levels.get(w.id)! }));
  if (levels.length === 0) return { expected: { kind: "shortage" } };
  const soldOut = variantAvailability(next, item, variant) === "SOLD_OUT";
  let before = 0;
  const takes = levels.map(({ warehouseId, level }) => {
    const available = Math.max(level.quantity - level.committed, 0);
    const take = Math.min(available, Math.max(quantity - before, 0));
    before += available;
    return { warehouseId, level, take };
  });
  const taken = takes.reduce((sum, t) => sum + t.take, 0);
  if (!item.sellWithoutStock && (soldOut || taken < quantity)) return { expected: { kind: "shortage" } };
  if (item.sellWithoutStock) takes[0]!.take += quantity - taken;
  const allocations: Allocation[] = [];
  for (const { warehouseId, level, take } of takes) {
    if (take <= 0) continue;
    level.quantity -= take;
    allocations.push({ variantId: variant.id, warehouseId, quantity: take });
  }
  if (!withinLimits(next)) return invalid("lines");
  next.orders.push({ id: "", itemId: item.id, open: true, allocations });
  return ok(next);
}

/** "Anulado": each allocation goes back to its warehouse, all of them or (past the limit) none. */
export function cancelOrder(state: StockState, orderIndex: number): Outcome {
  const next = copyState(state);
  const order = next.orders.filter((o) => o.open)[orderIndex]!;
  order.open = false;
  for (const allocation of order.allocations) {
    const variant = next.items.flatMap((item) => item.variants).find((v) => v.id === allocation.variantId)!;
    variant.levels.get(allocation.warehouseId)!.quantity += allocation.quantity;
  }
  return withinLimits(next) ? ok(next) : invalid("status");
}

export function setSellWithoutStock(state: StockState, itemIndex: number, on: boolean): Outcome {
  const next = copyState(state);
  next.items[itemIndex]!.sellWithoutStock = on;
  return ok(next);
}

/** A new warehouse, after the others, with a level of 0 for every variant. */
export function createWarehouse(state: StockState, fulfils: boolean): Outcome {
  const id = "";
  const next = copyState(state);
  const priority = Math.max(...next.warehouses.map((w) => w.priority)) + 1;
  next.warehouses.push({ id, fulfils, priority, isMain: false });
  for (const variant of next.items.flatMap((item) => item.variants)) variant.levels.set(id, { quantity: 0, committed: 0 });
  return ok(next);
}

/** Switching a warehouse's fulfilling re-sums every variant: refused when a sum would pass the limit. */
export function setFulfils(state: StockState, warehouseIndex: number, fulfils: boolean): Outcome {
  const next = copyState(state);
  next.warehouses[warehouseIndex]!.fulfils = fulfils;
  return withinLimits(next) ? ok(next) : invalid("fulfilsOnlineOrders");
}

/** The accounting system's count of a variant in one of its warehouses changes (its item made on first use, 0 elsewhere). */
export function setAccountingCount(state: StockState, at: [number, number], warehouse: "1" | "2", quantity: number): Outcome {
  const next = copyState(state);
  const variant = next.items[at[0]]!.variants[at[1]]!;
  next.accounting[variant.id] = { ...(next.accounting[variant.id] ?? { "1": 0, "2": 0 }), [warehouse]: quantity };
  return ok(next);
}

/** A count as the sync takes it from accounting: whole units, within +-1e9. */
const wholeUnits = (quantity: number) => Math.max(-LIMIT, Math.min(LIMIT, Math.floor(quantity)));

/**
 * A sync (sync switched on, then off again): the accounting warehouse "2" becomes a store
 * warehouse (`norte`, not fulfilling, after the others) the first time; every variant with an
 * accounting item takes its counts in the main warehouse ("1") and in that one. A variant whose
 * sums would then pass the limit keeps its counts, and so does every variant of an item whose
 * sums would; each of those that had a count to change is reported (`pastLimit`).
 */
export function sync(state: StockState, norte: string): Outcome & { pastLimit: string[] } {
  const next = copyState(state);
  if (!next.warehouses.some((w) => w.id === norte)) {
    next.warehouses.push({ id: norte, fulfils: false, priority: Math.max(...next.warehouses.map((w) => w.priority)) + 1, isMain: false });
    for (const variant of next.items.flatMap((item) => item.variants)) variant.levels.set(norte, { quantity: 0, committed: 0 });
  }
  const main = next.warehouses.find((w) => w.isMain)!.id;
  const pastLimit: string[] = [];
  for (const item of next.items) {
    const before = new Map(item.variants.map((variant) => [variant, new Map([...variant.levels].map(([id, level]) => [id, { ...level }]))]));
    const changed: ModelVariant[] = [];
    for (const variant of item.variants) {
      const counts = next.accounting[variant.id];
      if (!counts) continue;
      const main1 = variant.levels.get(main)!;
      const norte2 = variant.levels.get(norte)!;
      const [q1, q2] = [wholeUnits(counts["1"]), wholeUnits(counts["2"])];
      if (main1.quantity === q1 && norte2.quantity === q2) continue;
      const saved = [main1.quantity, norte2.quantity];
      main1.quantity = q1;
      norte2.quantity = q2;
      if (within(variantSums(next, variant))) {
        changed.push(variant);
      } else {
        [main1.quantity, norte2.quantity] = saved as [number, number];
        pastLimit.push(variant.id);
      }
    }
    if (!within(itemSums(next, item))) {
      for (const variant of changed) {
        variant.levels = before.get(variant)!;
        pastLimit.push(variant.id);
      }
    }
  }
  return { ...ok(next), pastLimit };
}
