import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import { changeStatus, gqlData, startTestServer, storesWithBalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";

/**
 * Accounting per variant and warehouse (SPEC section 8, "Accounting"): the accounting warehouses
 * become the store's, each variant matches an accounting item by SKU = reference, each of its
 * levels takes its accounting warehouse's count, and invoices name the warehouses the units came from.
 */

let server: TestServer;
let emulator: AccountingEmulator;
const store = storesWithBalancedLedgers(() => server);

beforeAll(async () => {
  server = await startTestServer({ accounting: { http: { timeoutMs: 1_000, maxAttempts: 2, retryDelayMs: 5 }, lockWaitMs: 3_000 } });
});
afterAll(async () => server.close());
beforeEach(async () => (emulator = await AccountingEmulator.start()));
afterEach(async () => {
  await notificationsHandled();
  await emulator.close();
});

async function notificationsHandled() {
  await emulator.settled();
  await server.app.accountingWebhooks.idle();
}

// ---------- the admin API ----------

const ERROR = `... on OperationError { code message field }`;
const RUN = `status itemsMatched itemsUpdated itemsUnmatched error unmatched { itemId variantId sku reason detail }`;

async function admin(s: TestStore, query: string, variables: Record<string, unknown> = {}) {
  return gqlData(server.url, query, variables, s.token);
}

/** Runs a mutation taking `input` and answers its result, whatever it is. */
async function mutate(s: TestStore, mutation: string, inputType: string, input: Record<string, unknown>, fields: string) {
  const data = await admin(s, `mutation($input: ${inputType}!) { ${mutation}(input: $input) { __typename ${fields} ${ERROR} } }`, { input });
  return data[mutation];
}

/** mutate, failing the test when refused. */
async function must(s: TestStore, mutation: string, inputType: string, input: Record<string, unknown>, fields = "") {
  const result = await mutate(s, mutation, inputType, input, fields);
  if (result.__typename === "OperationError") throw new Error(`${mutation} refused: ${JSON.stringify(result)}`);
  return result;
}

const SETTINGS = `... on InventorySettings { accountingSync lastSync { ${RUN} } }`;

async function switchSync(s: TestStore, on: boolean) {
  return mutate(s, "updateInventorySettings", "UpdateInventorySettingsInput", { accountingSync: on }, SETTINGS);
}

async function syncNow(s: TestStore) {
  return (await admin(s, `mutation { syncInventoryNow { __typename ... on SyncRun { ${RUN} } ${ERROR} } }`)).syncInventoryNow;
}

async function invoice(s: TestStore, orderId: string) {
  const data = await admin(
    s,
    `mutation($orderId: ID!) { invoiceOrder(orderId: $orderId) { __typename ... on Order { invoice { number } } ${ERROR} } }`,
    { orderId },
  );
  return data.invoiceOrder;
}

/** Places an order as the storefront does, then reads where its lines' units came from (admin only). */
async function placeOrder(s: TestStore, lines: { itemId: string; variantId?: string; quantity: number }[]) {
  const data = await gqlData(
    server.url,
    `mutation($store: String!, $input: PlaceOrderInput!) { placeOrder(store: $store, input: $input) {
      __typename ... on Order { id } ${ERROR} ... on InsufficientStockError { code message }
    } }`,
    { store: s.slug, input: { lines } },
  );
  if (data.placeOrder.__typename !== "Order") throw new Error(`placeOrder refused: ${JSON.stringify(data.placeOrder)}`);
  const placed = await admin(s, `query($id: ID!) { order(id: $id) { id lines { variant { id } allocations { warehouse { name } quantity } } } }`, {
    id: data.placeOrder.id,
  });
  const order = placed.order as { id: string; lines: { variant: { id: string }; allocations: { warehouse: { name: string }; quantity: number }[] }[] };
  return {
    id: order.id,
    /** units taken per warehouse name, for each variant ordered */
    taken: Object.fromEntries(
      order.lines.map((line) => [line.variant.id, Object.fromEntries(line.allocations.map((a) => [a.warehouse.name, a.quantity]))]),
    ) as Record<string, Record<string, number>>,
  };
}

type Warehouse = { id: string; name: string; accountingId: string | null; isMain: boolean; fulfilsOnlineOrders: boolean; priority: number };

async function warehouses(s: TestStore): Promise<Warehouse[]> {
  const data = await admin(
    s,
    `query($slug: String!) { store(slug: $slug) { inventorySettings { warehouses { id name accountingId isMain fulfilsOnlineOrders priority } } } }`,
    { slug: s.slug },
  );
  return data.store.inventorySettings.warehouses;
}

async function warehouseNamed(s: TestStore, name: string) {
  const found = (await warehouses(s)).find((warehouse) => warehouse.name === name);
  if (!found) throw new Error(`no warehouse "${name}"`);
  return found;
}

/** A variant's levels by warehouse name: `{ Principal: [quantity, committed], ... }`. */
async function levelsOf(s: TestStore, variantId: string): Promise<Record<string, [number, number]>> {
  const data = await admin(
    s,
    `query($id: ID!) { variant(id: $id) { stockLevels { warehouse { name } quantity committedQuantity } } }`,
    { id: variantId },
  );
  return Object.fromEntries(
    data.variant.stockLevels.map((level: any) => [level.warehouse.name, [level.quantity, level.committedQuantity]]),
  );
}

type Movement = { reason: string; delta: number; quantityAfter: number; orderId: string | null; variantId: string; warehouseId: string };

/** An item's movements, newest first. */
async function movementsOf(s: TestStore, itemId: string): Promise<Movement[]> {
  const data = await admin(
    s,
    `query($id: ID!) { item(id: $id) { stockMovements(first: 100) { edges { node { reason delta quantityAfter orderId variantId warehouseId } } } } }`,
    { id: itemId },
  );
  return data.item.stockMovements.edges.map((edge: any) => edge.node);
}

/** Reads what the store links to accounting: each variant's and each item's accounting id. */
async function accountingLinks(s: TestStore, itemIds: string[]) {
  const { rows } = await server.db.pool.query<{ kind: string; id: string; accountingId: string | null }>(
    `SELECT 'variant' AS kind, id, accounting_id AS "accountingId" FROM variants WHERE store_id = $1 AND item_id = ANY($2::uuid[])
     UNION ALL
     SELECT 'item', id, accounting_id FROM items WHERE store_id = $1 AND id = ANY($2::uuid[])`,
    [s.id, itemIds],
  );
  return Object.fromEntries(rows.map((row) => [row.id, row.accountingId]));
}

// ---------- a clothing store ----------

const size = (value: string) => [{ name: "Talla", value }];

/**
 * A store with a warehouse of its own ("Vitrina", unknown to accounting, holding 2 shirts in S),
 * a T-shirt in sizes S, M, L (no SKU) and XL (a reference two accounting items carry), and a bag
 * without options; in accounting, "Principal" (1, the default) and "Bodega norte" (2) hold
 * counts of the shirt's S and M and of the bag. Connected, with sync switched on.
 */
async function clothingStore() {
  const s = await store();
  const vitrina = await must(s, "createWarehouse", "CreateWarehouseInput", { name: "Vitrina" }, `... on Warehouse { id }`);
  const shirt = await must(
    s,
    "createItem",
    "CreateItemInput",
    {
      name: "Camiseta",
      type: "PRODUCT",
      price: "50000",
      options: [{ name: "Talla", values: ["S", "M", "L", "XL"] }],
      variants: [
        { options: size("S"), sku: "CAM-S" },
        { options: size("M"), sku: "CAM-M" },
        { options: size("L"), quantity: 2 },
        { options: size("XL"), sku: "CAM-XL", quantity: 1 },
      ],
    },
    `... on Item { id variants { id sku options { value } } }`,
  );
  const bag = await must(
    s,
    "createItem",
    "CreateItemInput",
    { name: "Bolso", type: "PRODUCT", price: "120000", sku: "BOL-001" },
    `... on Item { id variants { id } }`,
  );
  const variant = (value: string) => shirt.variants.find((v: any) => v.options[0].value === value).id as string;
  const [S, M, L, XL] = ["S", "M", "L", "XL"].map(variant) as [string, string, string, string];
  await must(s, "setItemQuantity", "SetItemQuantityInput", { itemId: shirt.id, variantId: S, warehouseId: vitrina.id, quantity: 2 });

  const accounting = {
    S: emulator.addItem({ reference: "CAM-S", counts: { "1": 5, "2": 7 }, price: 50000 }),
    M: emulator.addItem({ reference: "CAM-M", counts: { "1": 0, "2": 3 }, price: 50000 }),
    XL: [emulator.addItem({ reference: "CAM-XL", counts: { "1": 4 } }), emulator.addItem({ reference: "CAM-XL", counts: { "1": 6 } })],
    bag: emulator.addItem({ reference: "BOL-001", counts: { "1": 4, "2": 1 } }),
  };
  await admin(
    s,
    `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { __typename } }`,
    { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } },
  );
  const settings = await switchSync(s, true);
  expect(settings).toMatchObject({ __typename: "InventorySettings", accountingSync: true });
  return { s, shirt: { id: shirt.id as string, S, M, L, XL }, bag: { id: bag.id as string, variant: bag.variants[0].id as string }, accounting, settings };
}

/** Lets "Bodega norte" fulfil online orders too, after the main warehouse. */
async function norteFulfils(s: TestStore) {
  const norte = await warehouseNamed(s, "Bodega norte");
  await must(s, "updateWarehouse", "UpdateWarehouseInput", { id: norte.id, fulfilsOnlineOrders: true }, `... on Warehouse { id }`);
  return norte;
}

// ---------- the tests ----------

describe("a sync", () => {
  it("maps the accounting warehouses onto the store's and sets every level of each matched variant from its accounting warehouse", async () => {
    const { s, shirt, bag, accounting, settings } = await clothingStore();

    expect(await warehouses(s)).toEqual([
      expect.objectContaining({ name: "Principal", isMain: true, accountingId: "1", fulfilsOnlineOrders: true }),
      expect.objectContaining({ name: "Vitrina", isMain: false, accountingId: null, fulfilsOnlineOrders: false }),
      expect.objectContaining({ name: "Bodega norte", isMain: false, accountingId: "2", fulfilsOnlineOrders: false }),
    ]);
    expect(settings.lastSync).toMatchObject({ status: "SUCCEEDED", itemsMatched: 3, itemsUpdated: 3, itemsUnmatched: 2 });

    // each level takes its accounting warehouse's count; Vitrina, unknown to accounting, keeps its own
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [5, 0], Vitrina: [2, 0], "Bodega norte": [7, 0] });
    expect(await levelsOf(s, shirt.M)).toEqual({ Principal: [0, 0], Vitrina: [0, 0], "Bodega norte": [3, 0] });
    expect(await levelsOf(s, bag.variant)).toEqual({ Principal: [4, 0], Vitrina: [0, 0], "Bodega norte": [1, 0] });
    // the storefront sells what the fulfilling warehouses hold: the main one only
    const item = await admin(s, `query($id: ID!) { item(id: $id) { quantity variants { id quantity } } }`, { id: shirt.id });
    expect(item.item.variants.find((v: any) => v.id === shirt.S).quantity).toBe(5);

    // one ACCOUNTING_SYNC movement per level whose count changed
    const movements = (await movementsOf(s, shirt.id)).filter((m) => m.reason === "ACCOUNTING_SYNC");
    const norte = await warehouseNamed(s, "Bodega norte");
    expect(movements.map(({ variantId, warehouseId, delta }) => ({ variantId, warehouseId, delta }))).toEqual(
      expect.arrayContaining([
        { variantId: shirt.S, warehouseId: (await warehouseNamed(s, "Principal")).id, delta: 5 },
        { variantId: shirt.S, warehouseId: norte.id, delta: 7 },
        { variantId: shirt.M, warehouseId: norte.id, delta: 3 },
      ]),
    );
    expect(movements).toHaveLength(3);

    // variants are linked; an item without options keeps its default variant's link
    expect(await accountingLinks(s, [shirt.id, bag.id])).toMatchObject({
      [shirt.S]: accounting.S.id,
      [shirt.M]: accounting.M.id,
      [shirt.L]: null,
      [shirt.XL]: null,
      [shirt.id]: null,
      [bag.variant]: accounting.bag.id,
      [bag.id]: accounting.bag.id,
    });

    // nothing changed in accounting: a second sync changes no level
    expect(await syncNow(s)).toMatchObject({ status: "SUCCEEDED", itemsMatched: 3, itemsUpdated: 0 });
    expect((await movementsOf(s, shirt.id)).filter((m) => m.reason === "ACCOUNTING_SYNC")).toHaveLength(3);
  });

  it("reports a variant without SKU and one whose reference two accounting items carry, with its variant, and leaves their counts", async () => {
    const { s, shirt, accounting, settings } = await clothingStore();
    expect(settings.lastSync.unmatched).toEqual(
      expect.arrayContaining([
        { itemId: shirt.id, variantId: shirt.L, sku: null, reason: "NO_SKU", detail: expect.stringContaining('"Talla L" of "Camiseta"') },
        {
          itemId: shirt.id,
          variantId: shirt.XL,
          sku: "CAM-XL",
          reason: "DUPLICATE_REFERENCE",
          detail: expect.stringContaining(`(${accounting.XL[0]!.id}, ${accounting.XL[1]!.id}) have reference "CAM-XL"`),
        },
      ]),
    );
    expect(settings.lastSync.unmatched).toHaveLength(2);
    expect(await levelsOf(s, shirt.L)).toEqual({ Principal: [2, 0], Vitrina: [0, 0], "Bodega norte": [0, 0] });
    expect(await levelsOf(s, shirt.XL)).toEqual({ Principal: [1, 0], Vitrina: [0, 0], "Bodega norte": [0, 0] });
  });

  it("an accounting item without a warehouse breakdown gives its overall quantity to the main warehouse only", async () => {
    const { s, shirt, bag, accounting } = await clothingStore();
    emulator.autoNotify = false;
    await emulator.setCount(accounting.S.id, "2", 10);
    emulator.omitAssumedFields = true;
    expect(await syncNow(s)).toMatchObject({ status: "SUCCEEDED", itemsUpdated: 3 });
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [15, 0], Vitrina: [2, 0], "Bodega norte": [7, 0] });
    expect(await levelsOf(s, shirt.M)).toEqual({ Principal: [3, 0], Vitrina: [0, 0], "Bodega norte": [3, 0] });
    expect(await levelsOf(s, bag.variant)).toEqual({ Principal: [5, 0], Vitrina: [0, 0], "Bodega norte": [1, 0] });
  });

  it("accounting warehouses past the store's limit fail the sync and change nothing", async () => {
    const { s, shirt } = await clothingStore();
    for (let n = 0; n < 48; n++) emulator.addWarehouse({ name: `Bodega ${n}` });
    const run = await syncNow(s);
    expect(run).toMatchObject({ status: "FAILED" });
    expect(run.error).toContain("at most 50 warehouses");
    expect(await warehouses(s)).toHaveLength(3);
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [5, 0], Vitrina: [2, 0], "Bodega norte": [7, 0] });
  });
});

describe("invoicing", () => {
  it("an order split across two warehouses is invoiced with one line per allocation, each naming its warehouse, and deducts each", async () => {
    const { s, shirt, bag, accounting } = await clothingStore();
    await norteFulfils(s);
    const delivery = await must(
      s,
      "createItem",
      "CreateItemInput",
      { name: "Envío", type: "SERVICE", price: "8000", sku: "ENV" },
      `... on Item { id }`,
    );
    const accountingDelivery = emulator.addItem({ reference: "ENV", counts: null, price: 8000 });
    expect(await syncNow(s)).toMatchObject({ status: "SUCCEEDED", itemsMatched: 4 });
    const order = await placeOrder(s, [
      { itemId: shirt.id, variantId: shirt.S, quantity: 8 },
      { itemId: bag.id, quantity: 1 },
      { itemId: delivery.id, quantity: 1 },
    ]);
    expect(order.taken[shirt.S]).toEqual({ Principal: 5, "Bodega norte": 3 });
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [5, 5], Vitrina: [2, 0], "Bodega norte": [7, 3] });

    expect(await invoice(s, order.id)).toMatchObject({ __typename: "Order", invoice: { number: "FV-101" } });
    expect(emulator.invoices).toHaveLength(1);
    const lines = emulator.invoices[0]!.request.items;
    expect(lines).toHaveLength(4);
    expect(lines).toEqual(
      expect.arrayContaining([
        { id: accounting.S.id, price: 50000, quantity: 5, warehouse: { id: "1" } },
        { id: accounting.S.id, price: 50000, quantity: 3, warehouse: { id: "2" } },
        { id: accounting.bag.id, price: 120000, quantity: 1, warehouse: { id: "1" } },
        // a service takes no stock: it is invoiced from the main warehouse
        { id: accountingDelivery.id, price: 8000, quantity: 1, warehouse: { id: "1" } },
      ]),
    );
    // accounting deducted from the warehouses named; the store from each allocation, in step
    expect([emulator.countOf(accounting.S.id, "1"), emulator.countOf(accounting.S.id, "2")]).toEqual([0, 4]);
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [0, 0], Vitrina: [2, 0], "Bodega norte": [4, 0] });
    expect(await levelsOf(s, bag.variant)).toEqual({ Principal: [3, 0], Vitrina: [0, 0], "Bodega norte": [1, 0] });
    const invoiced = (await movementsOf(s, shirt.id)).filter((m) => m.reason === "ORDER_INVOICED");
    expect(invoiced.map(({ delta, orderId }) => ({ delta, orderId }))).toEqual(
      expect.arrayContaining([
        { delta: -5, orderId: order.id },
        { delta: -3, orderId: order.id },
      ]),
    );
    expect(invoiced).toHaveLength(2);

    // the new-invoice notification re-reads the lowered counts: nothing is deducted twice
    await notificationsHandled();
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [0, 0], Vitrina: [2, 0], "Bodega norte": [4, 0] });
    expect(await levelsOf(s, bag.variant)).toEqual({ Principal: [3, 0], Vitrina: [0, 0], "Bodega norte": [1, 0] });
  });

  it("refuses a variant that is not matched and units taken from a warehouse accounting does not know; nothing is sent", async () => {
    const { s, shirt } = await clothingStore();
    const unmatched = await placeOrder(s, [{ itemId: shirt.id, variantId: shirt.L, quantity: 1 }]);
    const refused = await invoice(s, unmatched.id);
    expect(refused).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "orderId" });
    expect(refused.message).toContain("Talla L");

    const vitrina = await warehouseNamed(s, "Vitrina");
    await must(s, "updateWarehouse", "UpdateWarehouseInput", { id: vitrina.id, fulfilsOnlineOrders: true }, `... on Warehouse { id }`);
    const fromVitrina = await placeOrder(s, [{ itemId: shirt.id, variantId: shirt.S, quantity: 7 }]);
    expect(fromVitrina.taken[shirt.S]).toEqual({ Principal: 5, Vitrina: 2 });
    const before = await levelsOf(s, shirt.S);
    const refusedVitrina = await invoice(s, fromVitrina.id);
    expect(refusedVitrina).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "orderId" });
    expect(refusedVitrina.message).toContain('"Vitrina"');

    expect(emulator.requests.filter((request) => request === "POST /invoices")).toEqual([]);
    expect(await levelsOf(s, shirt.S)).toEqual(before);
  });
});

describe("switching sync off", () => {
  it("deducts each allocation's held units from its warehouse, and a later cancel gives each back", async () => {
    const { s, shirt } = await clothingStore();
    const norte = await norteFulfils(s);
    const order = await placeOrder(s, [{ itemId: shirt.id, variantId: shirt.S, quantity: 8 }]);
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [5, 5], Vitrina: [2, 0], "Bodega norte": [7, 3] });

    expect(await switchSync(s, false)).toMatchObject({ accountingSync: false });
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [0, 0], Vitrina: [2, 0], "Bodega norte": [4, 0] });
    const disabled = (await movementsOf(s, shirt.id)).filter((m) => m.reason === "SYNC_DISABLED");
    expect(disabled.map(({ warehouseId, delta, orderId }) => ({ warehouseId, delta, orderId }))).toEqual(
      expect.arrayContaining([
        { warehouseId: (await warehouseNamed(s, "Principal")).id, delta: -5, orderId: order.id },
        { warehouseId: norte.id, delta: -3, orderId: order.id },
      ]),
    );
    expect(disabled).toHaveLength(2);

    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject({ status: "CANCELLED" });
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [5, 0], Vitrina: [2, 0], "Bodega norte": [7, 0] });
  });
});

describe("notifications", () => {
  it("set the levels of the linked variants in every mapped warehouse", async () => {
    const { s, shirt, bag, accounting } = await clothingStore();
    await emulator.setCount(accounting.S.id, "2", 9);
    await emulator.setCount(accounting.bag.id, "1", 0);
    await notificationsHandled();
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [5, 0], Vitrina: [2, 0], "Bodega norte": [9, 0] });
    expect(await levelsOf(s, bag.variant)).toEqual({ Principal: [0, 0], Vitrina: [0, 0], "Bodega norte": [1, 0] });
    expect(await levelsOf(s, shirt.M)).toEqual({ Principal: [0, 0], Vitrina: [0, 0], "Bodega norte": [3, 0] });

    // an item read without its warehouse breakdown: its overall quantity goes to the main warehouse only
    emulator.omitAssumedFields = true;
    await emulator.setCount(accounting.S.id, "1", 1);
    await notificationsHandled();
    expect(await levelsOf(s, shirt.S)).toEqual({ Principal: [10, 0], Vitrina: [2, 0], "Bodega norte": [9, 0] });
  });
});
