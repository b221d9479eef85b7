import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import { changeStatus, gqlData, startTestServer, storesWithBalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";
import {
  combination,
  countStock,
  createItem,
  mainWarehouseOf,
  newWarehouse,
  orderVariants,
  readVariant,
  rowCounts,
  transferStock,
  tshirt,
  updateWarehouse,
  variantOf,
} from "./support/variants.ts";

/**
 * The limit rule (README "Stock"): every stock level, every variant's sums over the warehouses
 * that fulfil online orders and every item's sums over its variants stay within +-1,000,000,000.
 * Whatever would pass it is refused as INVALID_INPUT at the field at fault and changes nothing:
 * never a 500, never units lost on one side of a transfer.
 */

const CAP = 1_000_000_000;

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const levelsOf = async (s: TestStore, variantId: string) =>
  Object.fromEntries(((await readVariant(server, s, variantId)).stockLevels as any[]).map((level) => [level.warehouse.id, level.quantity]));

const pastTheLimit = (field: string) => ({ __typename: "OperationError", code: "INVALID_INPUT", field, message: expect.stringContaining("1,000,000,000") });

describe("the stock limit", () => {
  it("a transfer into a level at the cap is refused at quantity and moves nothing on either side (issue 19, item 1)", async () => {
    const s = await store();
    const main = await mainWarehouseOf(server, s);
    const w = await newWarehouse(server, s, { name: "W" });
    const shirt = await tshirt(server, s, { "M/Negro": 3 });
    const variant = variantOf(shirt, "M/Negro");
    expect(await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, warehouseId: w.id, quantity: CAP })).toMatchObject({ __typename: "Item" });
    const before = await rowCounts(server.db, s.id);

    const moved = await transferStock(server, s, { variantId: variant.id, fromWarehouseId: main, toWarehouseId: w.id, quantity: 3 });

    expect(moved).toMatchObject(pastTheLimit("quantity"));
    expect(await levelsOf(s, variant.id)).toEqual({ [main]: 3, [w.id]: CAP });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
  });

  it("a transfer between two fulfilling warehouses of a variant at the cap moves its units (its sum does not change)", async () => {
    const s = await store();
    const main = await mainWarehouseOf(server, s);
    const north = await newWarehouse(server, s, { name: "Norte", fulfilsOnlineOrders: true });
    const shirt = await tshirt(server, s, { "M/Negro": CAP - 5 });
    const variant = variantOf(shirt, "M/Negro");
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, warehouseId: north.id, quantity: 5 });

    expect(await transferStock(server, s, { variantId: variant.id, fromWarehouseId: north.id, toWarehouseId: main, quantity: 5 })).toMatchObject({
      __typename: "Variant",
      quantity: CAP,
    });
    expect(await levelsOf(s, variant.id)).toEqual({ [main]: CAP, [north.id]: 0 });
  });

  it("createItem with three variants of 1e9 is INVALID_INPUT at the variant that takes the item past the cap, creating nothing (issue 19, item 2)", async () => {
    const s = await store();
    const before = await rowCounts(server.db, s.id);
    const sizes = ["S", "M", "L"];
    const created = await createItem(server, s, {
      options: [{ name: "Talla", values: sizes }],
      variants: sizes.map((size) => ({ options: combination({ Talla: size }), quantity: CAP })),
    });
    expect(created).toMatchObject(pastTheLimit("variants.1.quantity"));
    expect(await rowCounts(server.db, s.id)).toEqual(before);

    const atTheCap = await createItem(server, s, {
      options: [{ name: "Talla", values: sizes }],
      variants: sizes.map((size, index) => ({ options: combination({ Talla: size }), quantity: index === 0 ? CAP - 1 : index === 1 ? 1 : 0 })),
    });
    expect(atTheCap).toMatchObject({ __typename: "Item", quantity: CAP });
  });

  it("a variant's sum over the fulfilling warehouses stays within the cap: a count, an adjustment, a fulfilling switch past it are INVALID_INPUT (issue 19, item 2)", async () => {
    const s = await store();
    const north = await newWarehouse(server, s, { name: "Norte", fulfilsOnlineOrders: true });
    const south = await newWarehouse(server, s, { name: "Sur" });
    const shirt = await tshirt(server, s, { "M/Negro": CAP });
    const variant = variantOf(shirt, "M/Negro");
    const level = { itemId: shirt.id, variantId: variant.id };

    expect(await countStock(server, s, "setItemQuantity", { ...level, warehouseId: north.id, quantity: CAP })).toMatchObject(pastTheLimit("quantity"));
    expect(await countStock(server, s, "adjustItemQuantity", { ...level, warehouseId: north.id, delta: 1 })).toMatchObject(pastTheLimit("delta"));
    // a warehouse that does not fulfil holds its own cap, outside the variant's sum
    expect(await countStock(server, s, "setItemQuantity", { ...level, warehouseId: south.id, quantity: CAP })).toMatchObject({ __typename: "Item", quantity: CAP });
    const before = await rowCounts(server.db, s.id);
    expect(await updateWarehouse(server, s, { id: south.id, fulfilsOnlineOrders: true })).toMatchObject(pastTheLimit("fulfilsOnlineOrders"));
    expect(await rowCounts(server.db, s.id)).toEqual(before);
    expect(await readVariant(server, s, variant.id)).toMatchObject({ quantity: CAP });
    const settings = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { inventorySettings { warehouses { id fulfilsOnlineOrders } } } }`, { slug: s.slug }, s.token);
    expect(settings.store.inventorySettings.warehouses).toContainEqual({ id: south.id, fulfilsOnlineOrders: false });
  });

  it("an item's sum over its variants stays within the cap: a count in another variant past it is INVALID_INPUT", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": CAP / 2, "M/Negro": CAP / 2 });
    const small = variantOf(shirt, "S/Negro");
    expect(await countStock(server, s, "adjustItemQuantity", { itemId: shirt.id, variantId: small.id, delta: 1 })).toMatchObject({
      ...pastTheLimit("delta"),
      message: expect.stringContaining("over its variants"),
    });
    expect(await countStock(server, s, "adjustItemQuantity", { itemId: shirt.id, variantId: small.id, delta: -1 })).toMatchObject({
      __typename: "Item",
      quantity: CAP - 1,
    });
  });

  it("an order that would take a count past -1e9 (\"Vender sin Stock\") is INVALID_INPUT at lines, not a 500, and takes nothing", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "M/Negro": 0 }, { sellWithoutStock: true });
    const variant = variantOf(shirt, "M/Negro");
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, quantity: -CAP });
    const before = await rowCounts(server.db, s.id);
    expect(await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 1 }])).toMatchObject({
      __typename: "OperationError",
      code: "INVALID_INPUT",
      field: "lines",
    });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
  });

  it("cancelling an order whose units would take a recounted level past the cap is INVALID_INPUT; once counted down, it cancels", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "M/Negro": 5 });
    const variant = variantOf(shirt, "M/Negro");
    const order = await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 3 }]);
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, quantity: CAP });

    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject(pastTheLimit("status"));
    expect(await readVariant(server, s, variant.id)).toMatchObject({ quantity: CAP });

    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, quantity: CAP - 3 });
    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject({ __typename: "Order", status: "CANCELLED" });
    expect(await readVariant(server, s, variant.id)).toMatchObject({ quantity: CAP });
  });

  it("units coming in are taken even where a strict item's level is below zero", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "M/Negro": 0 }, { sellWithoutStock: true });
    const variant = variantOf(shirt, "M/Negro");
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, quantity: -5 });
    await gqlData(server.url, `mutation($input: UpdateItemInput!) { updateItem(input: $input) { __typename } }`, { input: { id: shirt.id, sellWithoutStock: false } }, s.token);

    expect(await countStock(server, s, "adjustItemQuantity", { itemId: shirt.id, variantId: variant.id, delta: 2 })).toMatchObject({ __typename: "Item", quantity: -3 });
    expect(await countStock(server, s, "adjustItemQuantity", { itemId: shirt.id, variantId: variant.id, delta: -1 })).toMatchObject({
      __typename: "OperationError",
      field: "delta",
      message: expect.stringContaining("below zero"),
    });
  });
});

describe("the stock limit in a sync", () => {
  let emulator: AccountingEmulator;
  beforeAll(async () => (emulator = await AccountingEmulator.start()));
  afterAll(async () => {
    await emulator.settled();
    await server.app.accountingWebhooks.idle();
    await emulator.close();
  });

  it("accounting counts that would take an item past the cap are reported as PAST_LIMIT and left as they were; the rest of the sync applies", async () => {
    const s = await store();
    const sizes = ["S", "M", "L"];
    const big = await createItem(server, s, {
      options: [{ name: "Talla", values: sizes }],
      variants: sizes.map((size) => ({ options: combination({ Talla: size }), sku: `BIG-${s.slug}-${size}`, quantity: 1 })),
    });
    const mug = await createItem(server, s, { name: "Taza", sku: `TAZA-${s.slug}`, quantity: 1 });
    for (const size of sizes) emulator.addItem({ reference: `BIG-${s.slug}-${size}`, counts: { "1": CAP } });
    emulator.addItem({ reference: `TAZA-${s.slug}`, counts: { "1": 7 } });
    await gqlData(
      server.url,
      `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { __typename } }`,
      { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } },
      s.token,
    );

    const switched = await gqlData(
      server.url,
      `mutation { updateInventorySettings(input: { accountingSync: true }) { __typename
        ... on InventorySettings { accountingSync lastSync { status itemsMatched itemsUnmatched error unmatched { itemId variantId reason detail } } }
        ... on OperationError { code message field } } }`,
      {},
      s.token,
    );

    const run = switched.updateInventorySettings.lastSync;
    expect(run).toMatchObject({ status: "SUCCEEDED", itemsMatched: 1, itemsUnmatched: 3 });
    expect(run.unmatched).toEqual(
      big.variants.map((variant: any) => ({ itemId: big.id, variantId: variant.id, reason: "PAST_LIMIT", detail: expect.stringContaining("its item") })),
    );
    const items = await gqlData(server.url, `query { items { edges { node { id quantity } } } }`, {}, s.token);
    expect(Object.fromEntries(items.items.edges.map((edge: any) => [edge.node.id, edge.node.quantity]))).toEqual({ [big.id]: 3, [mug.id]: 7 });
  });
});
