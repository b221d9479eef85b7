import { randomInt } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql, newStore, startTestServer, unbalancedLedgers, type GraphQLResponse, type TestServer, type TestStore } from "./support/harness.ts";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import * as model from "./support/stock-model.ts";
import type { Expected, Outcome, StockState } from "./support/stock-model.ts";
import { mainWarehouseOf } from "./support/variants.ts";

/**
 * The stock operations against a reference model (test/support/stock-model.ts): fast-check draws
 * sequences of counts, adjustments, transfers, orders, cancellations, "Vender sin Stock"
 * switches, new items with variants, new warehouses and fulfilling switches, counts in the
 * accounting system (an emulator of the run's own) and syncs, with values at the
 * limits (0, 1, 1e9 - 1, 1e9, 1e9 + 1, 2^31 - 1, 2^31, negatives), runs them over GraphQL on a
 * real server, one fresh store a run, and after each step compares every answer with the
 * model's (no INTERNAL_SERVER_ERROR ever), every level, variant and item with the model's, and
 * checks that the ledgers add up. A failure shrinks to a shortest sequence that still fails.
 * `npm test` runs a fixed seed (FC_SEED overrides it, FC_RUNS the number of runs);
 * `npm run test:model` a longer run with a random seed. The seed is printed either way.
 */
const SEED = process.env.FC_SEED === "random" ? randomInt(2 ** 31) : Number(process.env.FC_SEED ?? 20261130);
const RUNS = Number(process.env.FC_RUNS ?? 20);

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server?.close());

/** The run's store, and its accounting system (an emulator of its own): the accounting item of each variant given a count there. */
type Real = { store: TestStore; accounting: AccountingEmulator; accountingItems: Map<string, string> };
type Model = { state: StockState };

const ERRORS = `... on OperationError { code field message }`;
const STOCK_ERRORS = `${ERRORS} ... on InsufficientStockError { code message }`;

/** One GraphQL call of the run: its answer's typename, code and field, and the id of what it made. */
async function call(real: Real, query: string, variables: Record<string, unknown>, token: string | undefined = real.store.token) {
  const response: GraphQLResponse = await gql(server.url, query, variables, token);
  const internal = response.errors?.find((error) => error.extensions?.code === "INTERNAL_SERVER_ERROR" || error.message === "Unexpected error.");
  if (internal) throw new Error(`INTERNAL_SERVER_ERROR: ${JSON.stringify(response.errors)}`);
  if (response.errors?.length) return { graphql: response.errors };
  return { answer: Object.values(response.data!)[0] as Record<string, any> };
}

function expectAnswer(got: Awaited<ReturnType<typeof call>>, expected: Expected) {
  const answer = got.answer;
  const seen =
    got.graphql ? { kind: "graphql" }
    : answer!.__typename === "OperationError" ? { kind: "error", code: answer!.code, field: answer!.field ?? undefined }
    : answer!.__typename === "InsufficientStockError" ? { kind: "shortage" }
    : { kind: "ok" };
  if (JSON.stringify(seen) !== JSON.stringify(expected)) {
    throw new Error(`answered ${JSON.stringify(got.answer ?? got.graphql)}; the model expects ${JSON.stringify(expected)}`);
  }
  return answer;
}

// a run makes at most 4 items (CreateItem.check): the first 4 are all, and within the query cost limit
const STATE = `query { items(first: 4) { edges { node {
  id quantity committedQuantity availableQuantity availability
  variants { id quantity committedQuantity availableQuantity availability stockLevels { warehouse { id } quantity committedQuantity } }
} } } }`;

/** The service's stock as the admin reads it, in the model's shape, and the model's, compared; and the ledgers. */
async function compareWithService(state: StockState, real: Real) {
  const [read, unbalanced] = await Promise.all([call(real, STATE, {}), unbalancedLedgers(server.db, real.store.id)]);
  if (!read.answer) throw new Error(`reading the stock: ${JSON.stringify(read.graphql)}`);
  const byId = new Map<string, any>(read.answer!.edges.map((edge: any) => [edge.node.id, edge.node]));
  const seen = state.items.map((item) => shapeOf(byId.get(item.id)));
  const modelled = state.items.map((item) => {
    const sums = model.itemSums(state, item);
    return {
      id: item.id,
      quantity: sums.quantity,
      committedQuantity: sums.committed,
      availableQuantity: sums.quantity - sums.committed,
      availability: model.itemAvailability(state, item),
      variants: item.variants.map((variant) => {
        const own = model.variantSums(state, variant);
        return {
          id: variant.id,
          quantity: own.quantity,
          committedQuantity: own.committed,
          availableQuantity: own.quantity - own.committed,
          availability: model.variantAvailability(state, item, variant),
          levels: Object.fromEntries([...variant.levels].map(([warehouseId, level]) => [warehouseId, [level.quantity, level.committed]])),
        };
      }),
    };
  });
  expect(seen).toEqual(modelled);
  expect(unbalanced).toEqual([]);
}

function shapeOf(item: any) {
  if (!item) return item;
  return {
    ...item,
    variants: item.variants.map(({ stockLevels, ...variant }: any) => ({
      ...variant,
      levels: Object.fromEntries(stockLevels.map((level: any) => [level.warehouse.id, [level.quantity, level.committedQuantity]])),
    })),
  };
}

/**
 * A step of a run: what the model says (`outcome`), the request (`send`), and, on success, the
 * model's next state with the ids the service gave (`adopt`).
 */
abstract class Step implements fc.AsyncCommand<Model, Real> {
  check(m: Readonly<Model>) {
    return m.state.items.length > 0;
  }
  abstract outcome(state: StockState): Outcome;
  abstract send(state: StockState, real: Real): Promise<Awaited<ReturnType<typeof call>>>;
  adopt(next: StockState, _answer: Record<string, any>): void {}
  abstract toString(): string;

  async run(m: Model, real: Real) {
    const { expected, next } = this.outcome(m.state);
    const answer = expectAnswer(await this.send(m.state, real), expected);
    if (next) {
      this.adopt(next, answer!);
      m.state = next;
    }
    await compareWithService(m.state, real);
  }
}

const pick = <T>(list: readonly T[], index: number) => list[index % list.length]!;
/** Item, variant and warehouse by position (modulo the counts), so a drawn step fits any state. */
const levelAt = (state: StockState, [i, v, w]: number[]): [number, number, number] => {
  const item = i! % state.items.length;
  return [item, v! % state.items[item]!.variants.length, w! % state.warehouses.length];
};

const ITEM_ANSWER = `__typename ... on Item { id variants { id sku } } ${ERRORS}`;

class CreateItem extends Step {
  constructor(readonly quantities: number[], readonly sellWithoutStock: boolean) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.state.items.length < 4;
  }
  outcome(state: StockState) {
    return model.createItem(state, this);
  }
  send(state: StockState, real: Real) {
    const options = this.quantities.length > 1;
    const input = {
      name: `Camiseta ${state.items.length}`,
      type: "PRODUCT",
      price: "20.00",
      sellWithoutStock: this.sellWithoutStock,
      ...(options
        ? {
            options: [{ name: "Talla", values: ["S", "M", "L"] }],
            variants: this.quantities.map((quantity, index) => ({
              options: [{ name: "Talla", value: ["S", "M", "L"][index] }],
              sku: `${real.store.slug}-${state.items.length}-${index}`,
              quantity,
            })),
          }
        : { quantity: this.quantities[0], sku: `${real.store.slug}-${state.items.length}` }),
    };
    return call(real, `mutation($input: CreateItemInput!) { createItem(input: $input) { ${ITEM_ANSWER} } }`, { input });
  }
  adopt(next: StockState, answer: Record<string, any>) {
    const item = next.items.at(-1)!;
    item.id = answer.id;
    item.variants.forEach((variant, index) => Object.assign(variant, { id: answer.variants[index].id, sku: answer.variants[index].sku }));
  }
  toString() {
    return `createItem(${JSON.stringify(this.quantities)}${this.sellWithoutStock ? ", sellWithoutStock" : ""})`;
  }
}

class CountLevel extends Step {
  constructor(readonly mutation: "setItemQuantity" | "adjustItemQuantity", readonly at: number[], readonly value: number) {
    super();
  }
  outcome(state: StockState) {
    const at = levelAt(state, this.at);
    return this.mutation === "setItemQuantity" ? model.setQuantity(state, at, this.value) : model.adjustQuantity(state, at, this.value);
  }
  send(state: StockState, real: Real) {
    const [i, v, w] = levelAt(state, this.at);
    const item = state.items[i]!;
    const input = {
      itemId: item.id,
      variantId: item.variants[v]!.id,
      warehouseId: state.warehouses[w]!.id,
      [this.mutation === "setItemQuantity" ? "quantity" : "delta"]: this.value,
    };
    const type = this.mutation === "setItemQuantity" ? "SetItemQuantityInput" : "AdjustItemQuantityInput";
    return call(real, `mutation($input: ${type}!) { ${this.mutation}(input: $input) { ${ITEM_ANSWER} } }`, { input });
  }
  toString() {
    return `${this.mutation}(item ${this.at[0]}, variant ${this.at[1]}, warehouse ${this.at[2]}, ${this.value})`;
  }
}

class Transfer extends Step {
  constructor(readonly at: number[], readonly from: number, readonly to: number, readonly quantity: number) {
    super();
  }
  indexes(state: StockState) {
    const [i, v] = levelAt(state, this.at);
    return { i, v, from: this.from % state.warehouses.length, to: this.to % state.warehouses.length };
  }
  outcome(state: StockState) {
    const { i, v, from, to } = this.indexes(state);
    return model.transfer(state, [i, v], from, to, this.quantity);
  }
  send(state: StockState, real: Real) {
    const { i, v, from, to } = this.indexes(state);
    const input = {
      variantId: state.items[i]!.variants[v]!.id,
      fromWarehouseId: state.warehouses[from]!.id,
      toWarehouseId: state.warehouses[to]!.id,
      quantity: this.quantity,
    };
    return call(real, `mutation($input: TransferStockInput!) { transferStock(input: $input) { __typename ${STOCK_ERRORS} } }`, { input });
  }
  toString() {
    return `transferStock(item ${this.at[0]}, variant ${this.at[1]}, warehouse ${this.from} -> ${this.to}, ${this.quantity})`;
  }
}

class PlaceOrder extends Step {
  constructor(readonly at: number[], readonly quantity: number) {
    super();
  }
  outcome(state: StockState) {
    const [i, v] = levelAt(state, this.at);
    return model.placeOrder(state, [i, v], this.quantity);
  }
  send(state: StockState, real: Real) {
    const [i, v] = levelAt(state, this.at);
    const item = state.items[i]!;
    const lines = [{ itemId: item.id, variantId: item.variants[v]!.id, quantity: this.quantity }];
    return call(
      real,
      `mutation($store: String!, $input: PlaceOrderInput!) { placeOrder(store: $store, input: $input) { __typename ... on Order { id } ${STOCK_ERRORS} } }`,
      { store: real.store.slug, input: { lines } },
      undefined,
    );
  }
  adopt(next: StockState, answer: Record<string, any>) {
    next.orders.at(-1)!.id = answer.id;
  }
  toString() {
    return `placeOrder(item ${this.at[0]}, variant ${this.at[1]}, ${this.quantity})`;
  }
}

class CancelOrder extends Step {
  constructor(readonly order: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.state.orders.some((order) => order.open);
  }
  outcome(state: StockState) {
    return model.cancelOrder(state, this.order % state.orders.filter((order) => order.open).length);
  }
  send(state: StockState, real: Real) {
    const order = pick(state.orders.filter((o) => o.open), this.order);
    return call(
      real,
      `mutation($input: ChangeOrderStatusInput!) { changeOrderStatus(input: $input) { __typename ${ERRORS} } }`,
      { input: { orderId: order.id, status: "CANCELLED" } },
    );
  }
  toString() {
    return `cancel(open order ${this.order})`;
  }
}

class SellWithoutStock extends Step {
  constructor(readonly item: number, readonly on: boolean) {
    super();
  }
  outcome(state: StockState) {
    return model.setSellWithoutStock(state, this.item % state.items.length, this.on);
  }
  send(state: StockState, real: Real) {
    const input = { id: pick(state.items, this.item).id, sellWithoutStock: this.on };
    return call(real, `mutation($input: UpdateItemInput!) { updateItem(input: $input) { ${ITEM_ANSWER} } }`, { input });
  }
  toString() {
    return `updateItem(item ${this.item}, sellWithoutStock: ${this.on})`;
  }
}

const WAREHOUSE_ANSWER = `__typename ... on Warehouse { id } ${ERRORS}`;

class CreateWarehouse extends Step {
  constructor(readonly fulfils: boolean) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.state.warehouses.length < 4;
  }
  outcome(state: StockState) {
    return model.createWarehouse(state, this.fulfils);
  }
  send(state: StockState, real: Real) {
    const input = { name: `Bodega ${state.warehouses.length}`, fulfilsOnlineOrders: this.fulfils };
    return call(real, `mutation($input: CreateWarehouseInput!) { createWarehouse(input: $input) { ${WAREHOUSE_ANSWER} } }`, { input });
  }
  adopt(next: StockState, answer: Record<string, any>) {
    next.warehouses.at(-1)!.id = answer.id;
    for (const variant of next.items.flatMap((item) => item.variants)) {
      variant.levels.set(answer.id, variant.levels.get("")!);
      variant.levels.delete("");
    }
  }
  toString() {
    return `createWarehouse(fulfilsOnlineOrders: ${this.fulfils})`;
  }
}

class Fulfils extends Step {
  constructor(readonly warehouse: number, readonly on: boolean) {
    super();
  }
  outcome(state: StockState) {
    return model.setFulfils(state, this.warehouse % state.warehouses.length, this.on);
  }
  send(state: StockState, real: Real) {
    const input = { id: pick(state.warehouses, this.warehouse).id, fulfilsOnlineOrders: this.on };
    return call(real, `mutation($input: UpdateWarehouseInput!) { updateWarehouse(input: $input) { ${WAREHOUSE_ANSWER} } }`, { input });
  }
  toString() {
    return `updateWarehouse(warehouse ${this.warehouse}, fulfilsOnlineOrders: ${this.on})`;
  }
}

class AccountingCount extends Step {
  constructor(readonly at: number[], readonly warehouse: "1" | "2", readonly quantity: number) {
    super();
  }
  outcome(state: StockState) {
    const [i, v] = levelAt(state, this.at);
    return model.setAccountingCount(state, [i, v], this.warehouse, this.quantity);
  }
  /** Not a request to the service: the count changes in the accounting system, to be read by the next sync. */
  async send(state: StockState, real: Real) {
    const [i, v] = levelAt(state, this.at);
    const variant = state.items[i]!.variants[v]!;
    let id = real.accountingItems.get(variant.id);
    if (!id) {
      id = real.accounting.addItem({ reference: variant.sku, counts: { "1": 0, "2": 0 } }).id;
      real.accountingItems.set(variant.id, id);
    }
    real.accounting.items.get(id)!.counts!.set(this.warehouse, this.quantity);
    return { answer: { __typename: "AccountingItem" } };
  }
  toString() {
    return `accountingCount(item ${this.at[0]}, variant ${this.at[1]}, accounting warehouse ${this.warehouse}, ${this.quantity})`;
  }
}

const SWITCH_SYNC = `mutation($on: Boolean!) { updateInventorySettings(input: { accountingSync: $on }) { __typename
  ... on InventorySettings { lastSync { status error unmatched { variantId reason } } } ${ERRORS} } }`;

/** "Sincronizar": sync switched on (its first sync applies the accounting counts), then off again. */
class Sync implements fc.AsyncCommand<Model, Real> {
  check() {
    return true;
  }
  /** The model's outcome depends on the warehouse the first sync makes: asked after it. */
  async run(m: Model, real: Real) {
    const on = await call(real, SWITCH_SYNC, { on: true });
    const off = await call(real, SWITCH_SYNC, { on: false });
    expect([on.answer?.__typename, off.answer?.__typename]).toEqual(["InventorySettings", "InventorySettings"]);
    const warehouses = await call(real, `query($slug: String!) { store(slug: $slug) { inventorySettings { warehouses { id accountingId } } } }`, {
      slug: real.store.slug,
    });
    const norte = (warehouses.answer!.inventorySettings.warehouses as { id: string; accountingId: string | null }[]).find((w) => w.accountingId === "2")!;
    const { next, pastLimit } = model.sync(m.state, norte.id);
    const run = on.answer!.lastSync;
    expect(run.status, JSON.stringify(run)).toBe("SUCCEEDED");
    const reported = run.unmatched.filter((entry: any) => entry.reason === "PAST_LIMIT").map((entry: any) => entry.variantId);
    expect(reported.sort()).toEqual(pastLimit.sort());
    m.state = next!;
    await compareWithService(m.state, real);
  }
  toString() {
    return "sync()";
  }
}

/** Quantities where limits meet (the cap itself most often), and a few ordinary ones. */
const atTheLimits = fc.oneof(
  { weight: 3, arbitrary: fc.constant(1_000_000_000) },
  { weight: 2, arbitrary: fc.constantFrom(999_999_999, 1_000_000_001, -1_000_000_000) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 31 - 1, 2 ** 31, -1_000_000_001, -(2 ** 31)) },
  { weight: 4, arbitrary: fc.integer({ min: -2, max: 5 }) },
);
const fewUnits = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: atTheLimits });
const orderQuantity = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 10_000, 10_001) });
const position = fc.nat({ max: 5 });
const level = fc.tuple(position, position, position);

const steps: fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] = [
  fc.tuple(fc.array(atTheLimits, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([quantities, sell]) => new CreateItem(quantities, sell)),
  fc.tuple(level, atTheLimits).map(([at, quantity]) => new CountLevel("setItemQuantity", at, quantity)),
  fc.tuple(level, atTheLimits).map(([at, delta]) => new CountLevel("adjustItemQuantity", at, delta)),
  fc.tuple(level, position, position, fewUnits).map(([at, from, to, quantity]) => new Transfer(at, from, to, quantity)),
  fc.tuple(level, orderQuantity).map(([at, quantity]) => new PlaceOrder(at, quantity)),
  position.map((order) => new CancelOrder(order)),
  fc.tuple(position, fc.boolean()).map(([item, on]) => new SellWithoutStock(item, on)),
  fc.boolean().map((fulfils) => new CreateWarehouse(fulfils)),
  fc.tuple(position, fc.boolean()).map(([warehouse, on]) => new Fulfils(warehouse, on)),
];
// counts in accounting, and syncs, as often as the store's own steps together: a sync sets many levels at once
const accountingCount = fc
  .tuple(level, fc.constantFrom("1" as const, "2" as const), atTheLimits)
  .map(([at, warehouse, quantity]) => new AccountingCount(at, warehouse, quantity));
steps.push(accountingCount, accountingCount, accountingCount, fc.constant(null).map(() => new Sync()), fc.constant(null).map(() => new Sync()));

/**
 * Each run's store: the main warehouse (fulfilling), "Norte" (fulfilling) and "Sur" (not), and a
 * mug without options, none of it in stock.
 */
async function newRun(): Promise<{ model: Model; real: Real }> {
  const store = await newStore(server.db);
  const accounting = await AccountingEmulator.start();
  accounting.autoNotify = false;
  const real = { store, accounting, accountingItems: new Map<string, string>() };
  const connected = await call(real, `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { __typename } }`, {
    input: { baseUrl: accounting.baseUrl, email: accounting.email, token: accounting.token },
  });
  if (connected.answer?.__typename !== "InventorySettings") throw new Error(`connectAccounting: ${JSON.stringify(connected)}`);
  const main = await mainWarehouseOf(server, store);
  const warehouses: StockState["warehouses"] = [{ id: main, fulfils: true, priority: 0, isMain: true }];
  for (const [name, fulfils] of [["Norte", true], ["Sur", false]] as const) {
    const made = await call(real, `mutation($input: CreateWarehouseInput!) { createWarehouse(input: $input) { ${WAREHOUSE_ANSWER} } }`, {
      input: { name, fulfilsOnlineOrders: fulfils },
    });
    if (made.answer?.__typename !== "Warehouse") throw new Error(`createWarehouse: ${JSON.stringify(made)}`);
    warehouses.push({ id: made.answer!.id, fulfils, priority: warehouses.length, isMain: false });
  }
  const mug = await call(real, `mutation($input: CreateItemInput!) { createItem(input: $input) { ${ITEM_ANSWER} } }`, {
    input: { name: "Taza", type: "PRODUCT", price: "10.00", sku: `${store.slug}-mug` },
  });
  if (mug.answer?.__typename !== "Item") throw new Error(`createItem: ${JSON.stringify(mug)}`);
  const item = {
    id: mug.answer!.id,
    sellWithoutStock: false,
    hasOptions: false,
    variants: [{ id: mug.answer!.variants[0].id, sku: mug.answer!.variants[0].sku, levels: new Map(warehouses.map((w) => [w.id, { quantity: 0, committed: 0 }])) }],
  };
  return { model: { state: { warehouses, items: [item], orders: [], accounting: {} } }, real };
}

describe("the stock operations against a reference model", () => {
  it(`agree step by step, at the limits (seed ${SEED}, ${RUNS} runs)`, async () => {
    console.log(`stock model: FC_SEED=${SEED} FC_RUNS=${RUNS}`);
    await fc.assert(
      fc.asyncProperty(fc.commands(steps, { maxCommands: 30, size: "medium" }), async (commands) => {
        const { model: m, real } = await newRun();
        try {
          await fc.asyncModelRun(() => ({ model: m, real }), commands);
        } finally {
          await real.accounting.settled();
          await server.app.accountingWebhooks.idle();
          await real.accounting.close();
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
  }, 600_000);
});
