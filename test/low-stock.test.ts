import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import {
  changeStatus,
  gql,
  gqlData,
  newItem,
  newStore,
  placeOrder,
  startTestServer,
  storesWithBalancedLedgers,
  type TestServer,
  type TestStore,
} from "./support/harness.ts";
import { alertsOf, setStoreThreshold, setVariantThreshold, subscribeToAlerts, untilAlertsLive, type AlertSubscriber } from "./support/low-stock.ts";
import { setQuantity, sleep } from "./support/live.ts";
import { countStock, mainWarehouseOf, newWarehouse, transferStock, tshirt, updateWarehouse, variantOf } from "./support/variants.ts";

/**
 * SPEC section 9, "Low stock": thresholds, one alert per crossing by every path that changes
 * available units, re-armed above the threshold, the lists, and lowStockAlertsAdded for the
 * store's admin only. (Across processes and on Redis Cluster: test/low-stock-processes.test.ts.)
 */

let server: TestServer;
let emulator: AccountingEmulator;
beforeAll(async () => {
  server = await startTestServer({ accounting: { http: { timeoutMs: 1_000, maxAttempts: 3, retryDelayMs: 5 }, lockWaitMs: 3_000 } });
});
afterAll(async () => server.close());
beforeEach(async () => (emulator = await AccountingEmulator.start()));
afterEach(async () => {
  await emulator.settled();
  await server.app.accountingWebhooks.idle();
  await emulator.close();
});
const store = storesWithBalancedLedgers(() => server);
const subscribers: AlertSubscriber[] = [];
afterEach(async () => {
  for (const subscriber of subscribers.splice(0)) await subscriber.close();
});

const ITEM_LOW = `query($id: ID!) { item(id: $id) { lowStock availableQuantity variants { id lowStock lowStockThreshold availableQuantity } } }`;
const LOW_VARIANTS = `query($first: Int!, $after: String) { lowStockVariants(first: $first, after: $after) {
  edges { cursor node { id itemId sku availableQuantity lowStock } } pageInfo { hasNextPage endCursor } } }`;

const lowOf = async (s: TestStore, itemId: string) => (await gqlData(server.url, ITEM_LOW, { id: itemId }, s.token)).item;
const alertCount = async (s: TestStore) => (await alertsOf(server, s)).length;

/** A product of `quantity` units whose default variant follows the store's threshold `threshold`. */
async function productAt(quantity: number, threshold: number, extra: Record<string, unknown> = {}) {
  const s = await store();
  expect(await setStoreThreshold(server, s, { lowStockThreshold: threshold })).toEqual({ __typename: "InventorySettings", lowStockThreshold: threshold });
  const item = await newItem(server, s, { quantity, sku: `SKU-${quantity}`, ...extra });
  return { s, item };
}

describe("thresholds", () => {
  it("the store's and a variant's own: set, shown, cleared; a variant's own wins over the store's", async () => {
    const { s, item } = await productAt(4, 5);
    const [variant] = (await lowOf(s, item.id)).variants;
    expect(variant).toMatchObject({ lowStock: true, lowStockThreshold: null });
    expect(await setVariantThreshold(server, s, { id: variant.id, lowStockThreshold: 2 })).toMatchObject({ lowStockThreshold: 2, lowStock: false });
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: false });
    expect(await setVariantThreshold(server, s, { id: variant.id, clearLowStockThreshold: true })).toMatchObject({ lowStockThreshold: null, lowStock: true });
    expect(await setStoreThreshold(server, s, { clearLowStockThreshold: true })).toMatchObject({ lowStockThreshold: null });
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: false });
  });

  it("refuses a negative threshold, or one given and cleared at once, and changes nothing", async () => {
    const { s, item } = await productAt(4, 5);
    const [variant] = (await lowOf(s, item.id)).variants;
    expect(await setStoreThreshold(server, s, { lowStockThreshold: -1 })).toMatchObject({ code: "INVALID_INPUT", field: "lowStockThreshold" });
    expect(await setStoreThreshold(server, s, { lowStockThreshold: 3, clearLowStockThreshold: true })).toMatchObject({
      code: "INVALID_INPUT",
      field: "clearLowStockThreshold",
    });
    expect(await setVariantThreshold(server, s, { id: variant.id, lowStockThreshold: -2 })).toMatchObject({ code: "INVALID_INPUT", field: "lowStockThreshold" });
    expect(await setVariantThreshold(server, s, { id: variant.id, lowStockThreshold: 1, clearLowStockThreshold: true })).toMatchObject({
      code: "INVALID_INPUT",
      field: "clearLowStockThreshold",
    });
    const settings = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { inventorySettings { lowStockThreshold } } }`, { slug: s.slug }, s.token);
    expect(settings.store.inventorySettings.lowStockThreshold).toBe(5);
    expect((await lowOf(s, item.id)).variants[0].lowStockThreshold).toBeNull();
  });

  it("a variant created at or below the threshold records no alert but is listed as low", async () => {
    const { s, item } = await productAt(3, 5);
    const above = await newItem(server, s, { name: "Otro", quantity: 9 });
    expect(await alertCount(s)).toBe(0);
    const listed = await gqlData(server.url, LOW_VARIANTS, { first: 10 }, s.token);
    expect(listed.lowStockVariants.edges.map((edge: any) => edge.node.itemId)).toEqual([item.id]);
    expect(await lowOf(s, above.id)).toMatchObject({ lowStock: false });
  });

  it("setting a threshold a variant already meets records its alert; the store's records one per such variant", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1, "M/Negro": 2, "L/Negro": 9 });
    await setVariantThreshold(server, s, { id: variantOf(shirt, "S/Negro").id, lowStockThreshold: 1 });
    expect((await alertsOf(server, s)).map((alert) => [alert.variant.id, alert.availableQuantity, alert.threshold])).toEqual([
      [variantOf(shirt, "S/Negro").id, 1, 1],
    ]);
    // the store's threshold reaches the variants without one of their own: M (2 <= 3); S already low, L above
    await setStoreThreshold(server, s, { lowStockThreshold: 3 });
    const alerts = await alertsOf(server, s);
    expect(alerts.map((alert) => [alert.variant.id, alert.availableQuantity, alert.threshold])).toEqual([
      [variantOf(shirt, "M/Negro").id, 2, 3],
      [variantOf(shirt, "S/Negro").id, 1, 1],
    ]);
    // the same threshold again records nothing
    await setStoreThreshold(server, s, { lowStockThreshold: 3 });
    expect(await alertCount(s)).toBe(2);
  });
});

describe("one alert per crossing, by every path that changes available units", () => {
  it("an order crosses once; lower still records nothing; rising above re-arms; a cancel is a rise", async () => {
    const { s, item } = await productAt(10, 5);
    expect((await placeOrder(server, s, [{ itemId: item.id, quantity: 4 }])).__typename).toBe("Order");
    expect(await alertCount(s)).toBe(0);
    const crossing = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    const [alert] = await alertsOf(server, s);
    expect(alert).toMatchObject({ availableQuantity: 5, threshold: 5, item: { id: item.id }, variant: { lowStock: true } });
    await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    expect(await alertCount(s)).toBe(1);
    // cancelling the crossing order gives its 1 back: 4, still low; a count of 8 re-arms
    await changeStatus(server, s, crossing.id, "CANCELLED");
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: true, availableQuantity: 4 });
    await setQuantity(server, s, item.id, 8);
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: false });
    await placeOrder(server, s, [{ itemId: item.id, quantity: 3 }]);
    expect((await alertsOf(server, s)).map((a) => a.availableQuantity)).toEqual([5, 5]);
  });

  it("a cancel that rises above the threshold re-arms it", async () => {
    const { s, item } = await productAt(6, 5);
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    expect(await alertCount(s)).toBe(1);
    await changeStatus(server, s, order.id, "CANCELLED");
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: false, availableQuantity: 6 });
    await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    expect(await alertCount(s)).toBe(2);
  });

  it("a count, an adjustment and a bulk count each cross once", async () => {
    const { s, item } = await productAt(10, 5);
    const bag = await newItem(server, s, { name: "Bolso", sku: "BOL", quantity: 10 });
    const belt = await newItem(server, s, { name: "Cinturón", sku: "CIN", quantity: 10 });
    await setQuantity(server, s, item.id, 5);
    await setQuantity(server, s, item.id, 4);
    await gqlData(server.url, `mutation($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) { __typename } }`, { input: { itemId: bag.id, delta: -6 } }, s.token);
    await gqlData(server.url, `mutation($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) { __typename } }`, { input: { itemId: bag.id, delta: -1 } }, s.token);
    const bulk = `mutation($input: SetItemQuantitiesInput!) { setItemQuantities(input: $input) { __typename } }`;
    expect((await gqlData(server.url, bulk, { input: { entries: [{ itemId: belt.id, quantity: 0 }, { itemId: bag.id, quantity: 2 }] } }, s.token)).setItemQuantities.__typename).toBe(
      "BulkQuantitiesSet",
    );
    const alerts = await alertsOf(server, s);
    expect(alerts.map((alert) => [alert.item.id, alert.availableQuantity])).toEqual([
      [belt.id, 0],
      [bag.id, 4],
      [item.id, 5],
    ]);
  });

  it("a transfer out of a fulfilling warehouse crosses once; one that brings units back re-arms", async () => {
    const s = await store();
    await setStoreThreshold(server, s, { lowStockThreshold: 5 });
    const north = await newWarehouse(server, s, { name: "Bodega Norte" }); // does not fulfil online orders
    const main = await mainWarehouseOf(server, s);
    const shirt = await tshirt(server, s, { "M/Negro": 8 });
    const medium = variantOf(shirt, "M/Negro");
    expect(await transferStock(server, s, { variantId: medium.id, fromWarehouseId: main, toWarehouseId: north.id, quantity: 3 })).toMatchObject({
      __typename: "Variant",
      availableQuantity: 5,
    });
    await transferStock(server, s, { variantId: medium.id, fromWarehouseId: main, toWarehouseId: north.id, quantity: 1 });
    expect((await alertsOf(server, s)).map((a) => [a.variant.id, a.availableQuantity])).toEqual([[medium.id, 5]]);
    await transferStock(server, s, { variantId: medium.id, fromWarehouseId: north.id, toWarehouseId: main, quantity: 4 });
    expect(await lowOf(s, shirt.id)).toMatchObject({ lowStock: false });
  });

  it("a warehouse that stops fulfilling online orders crosses once; tracking switched on decides too", async () => {
    const s = await store();
    await setStoreThreshold(server, s, { lowStockThreshold: 5 });
    const north = await newWarehouse(server, s, { name: "Bodega Norte", fulfilsOnlineOrders: true });
    const item = await newItem(server, s, { quantity: 3, sku: "X" });
    await countStock(server, s, "setItemQuantity", { itemId: item.id, warehouseId: north.id, quantity: 4 });
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: false, availableQuantity: 7 });
    expect(await updateWarehouse(server, s, { id: north.id, fulfilsOnlineOrders: false })).toMatchObject({ __typename: "Warehouse" });
    expect((await alertsOf(server, s)).map((a) => [a.item.id, a.availableQuantity])).toEqual([[item.id, 3]]);

    const untracked = await newItem(server, s, { name: "Sin inventario", sku: "Y", trackInventory: false });
    expect(await lowOf(s, untracked.id)).toMatchObject({ lowStock: false });
    await gqlData(server.url, `mutation($input: UpdateItemInput!) { updateItem(input: $input) { __typename } }`, { input: { id: untracked.id, trackInventory: true } }, s.token);
    expect(await lowOf(s, untracked.id)).toMatchObject({ lowStock: true });
    expect(await alertCount(s)).toBe(2);
  });

  it("with accounting sync on: an order's committed units, a sync, a webhook each cross once; an invoice keeps what is available", async () => {
    const s = await store();
    await setStoreThreshold(server, s, { lowStockThreshold: 5 });
    const synced = emulator.addItem({ reference: "SYNC-1", counts: { "1": 10 } });
    const hooked = emulator.addItem({ reference: "HOOK-1", counts: { "1": 10 } });
    emulator.addItem({ reference: "ORD-1", counts: { "1": 10 } });
    const [a, b, c] = await Promise.all(["SYNC-1", "HOOK-1", "ORD-1"].map((sku) => newItem(server, s, { name: sku, sku, quantity: 0 })));
    const connected = await gqlData(
      server.url,
      `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { __typename } }`,
      { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } },
      s.token,
    );
    expect(connected.connectAccounting.__typename).toBe("InventorySettings");
    // the first sync raises the three from 0 (created low) to 10: above, re-armed, no alert
    const on = await gqlData(server.url, `mutation { updateInventorySettings(input: { accountingSync: true }) { __typename } }`, {}, s.token);
    expect(on.updateInventorySettings.__typename).toBe("InventorySettings");
    expect(await lowOf(s, a!.id)).toMatchObject({ lowStock: false, availableQuantity: 10 });
    expect(await alertCount(s)).toBe(0);

    // a sync lowering a count
    emulator.autoNotify = false;
    await emulator.setCount(synced.id, "1", 4);
    await gqlData(server.url, `mutation { syncInventoryNow { __typename } }`, {}, s.token);
    // a webhook re-reading one
    emulator.autoNotify = true;
    await emulator.setCount(hooked.id, "1", 2);
    await emulator.settled();
    await server.app.accountingWebhooks.idle();
    // an order committing units
    const order = await placeOrder(server, s, [{ itemId: c!.id, quantity: 6 }]);
    expect(order.__typename).toBe("Order");
    const alerts = await alertsOf(server, s);
    expect(alerts.map((alert) => [alert.item.id, alert.availableQuantity])).toEqual([
      [c!.id, 4],
      [b!.id, 2],
      [a!.id, 4],
    ]);
    // the invoice deducts what the order committed: available stays 4, no second crossing
    const invoiced = await gqlData(server.url, `mutation($orderId: ID!) { invoiceOrder(orderId: $orderId) { __typename } }`, { orderId: order.id }, s.token);
    expect(invoiced.invoiceOrder.__typename).toBe("Order");
    await emulator.settled();
    await server.app.accountingWebhooks.idle();
    expect(await lowOf(s, c!.id)).toMatchObject({ lowStock: true, availableQuantity: 4 });
    expect(await alertCount(s)).toBe(3);
  });

  it("20 concurrent orders across the threshold record exactly one alert", async () => {
    const { s, item } = await productAt(25, 10);
    const orders = await Promise.all(Array.from({ length: 20 }, () => placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])));
    expect(orders.every((order) => order.__typename === "Order")).toBe(true);
    const alerts = await alertsOf(server, s);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ availableQuantity: 10, threshold: 10 });
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: true, availableQuantity: 5 });
  });

  it("a refused change records nothing", async () => {
    const { s, item } = await productAt(6, 5);
    const refused = await gqlData(
      server.url,
      `mutation($input: SetItemQuantitiesInput!) { setItemQuantities(input: $input) { __typename } }`,
      { input: { entries: [{ itemId: item.id, quantity: 1 }, { itemId: item.id, quantity: 2, warehouseId: "00000000-0000-4000-8000-000000000000" }] } },
      s.token,
    );
    expect(refused.setItemQuantities.__typename).toBe("BulkQuantitiesRefused");
    expect(await placeOrder(server, s, [{ itemId: item.id, quantity: 7 }])).toMatchObject({ __typename: "InsufficientStockError" });
    expect(await alertCount(s)).toBe(0);
    expect(await lowOf(s, item.id)).toMatchObject({ lowStock: false });
  });
});

describe("the lists", () => {
  it("lowStockVariants: low now, lowest available first, then by item name and variant id, a page at a time", async () => {
    const s = await store();
    await setStoreThreshold(server, s, { lowStockThreshold: 5 });
    const c = await newItem(server, s, { name: "C", quantity: 1 });
    const b = await newItem(server, s, { name: "B", quantity: 2 });
    const a = await newItem(server, s, { name: "A", quantity: 2 });
    await newItem(server, s, { name: "Z", quantity: 9 });
    await newItem(server, s, { name: "Servicio", type: "SERVICE" });
    const first = await gqlData(server.url, LOW_VARIANTS, { first: 2 }, s.token);
    expect(first.lowStockVariants.edges.map((edge: any) => edge.node.itemId)).toEqual([c.id, a.id]);
    expect(first.lowStockVariants.pageInfo.hasNextPage).toBe(true);
    const second = await gqlData(server.url, LOW_VARIANTS, { first: 2, after: first.lowStockVariants.pageInfo.endCursor }, s.token);
    expect(second.lowStockVariants.edges.map((edge: any) => edge.node.itemId)).toEqual([b.id]);
    expect(second.lowStockVariants.pageInfo.hasNextPage).toBe(false);
    const bad = await gql(server.url, LOW_VARIANTS, { first: 2, after: "not-a-cursor" }, s.token);
    expect(bad.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect((await gql(server.url, LOW_VARIANTS, { first: 101 }, s.token)).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("are for the store's admin only: another store sees none of them", async () => {
    const { s } = await productAt(1, 5);
    await setStoreThreshold(server, s, { lowStockThreshold: 6 });
    const other = await newStore(server.db, "Otra");
    expect((await gql(server.url, `{ lowStockAlerts { edges { node { id } } } }`)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect((await gql(server.url, LOW_VARIANTS, { first: 5 })).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await alertsOf(server, other)).toEqual([]);
    expect((await gqlData(server.url, LOW_VARIANTS, { first: 5 }, other.token)).lowStockVariants.edges).toEqual([]);
    const publicRead = await gql(server.url, `query($slug: String!) { store(slug: $slug) { items { edges { node { lowStock } } } } }`, { slug: s.slug });
    expect(publicRead.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("lowStockAlertsAdded", () => {
  it("pushes each alert once after COMMIT to the store's admin; nothing for a refused change", async () => {
    const { s, item } = await productAt(20, 5);
    const probe = await newItem(server, s, { name: "Sonda", sku: "PROBE", quantity: 10 });
    const subscriber = subscribeToAlerts(server.url, s.slug, s.token);
    subscribers.push(subscriber);
    await untilAlertsLive(subscriber, async () => {
      await setQuantity(server, s, probe.id, 10);
      await setQuantity(server, s, probe.id, 0);
    });
    expect(await placeOrder(server, s, [{ itemId: item.id, quantity: 21 }])).toMatchObject({ __typename: "InsufficientStockError" });
    await Promise.all(Array.from({ length: 20 }, () => placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])));
    await subscriber.until((alerts) => alerts.length >= 1, "the alert");
    await sleep(300);
    const [recorded] = await alertsOf(server, s);
    expect(subscriber.alerts).toEqual([recorded]);
    expect(subscriber.alerts[0]).toMatchObject({ availableQuantity: 5, threshold: 5, item: { id: item.id }, variant: { lowStock: true } });
    expect(subscriber.errors).toEqual([]);
  });

  it("a threshold a variant already meets is pushed too; another store's subscriber receives nothing", async () => {
    const { s, item } = await productAt(3, 1);
    const other = await store();
    const mine = subscribeToAlerts(server.url, s.slug, s.token);
    const theirs = subscribeToAlerts(server.url, other.slug, other.token);
    subscribers.push(mine, theirs);
    const probe = await newItem(server, other, { name: "Sonda", sku: "PROBE", quantity: 10 });
    await setStoreThreshold(server, other, { lowStockThreshold: 1 });
    await untilAlertsLive(theirs, async () => {
      await setQuantity(server, other, probe.id, 10);
      await setQuantity(server, other, probe.id, 0);
    });
    await untilAlertsLive(mine, async () => {
      await setQuantity(server, s, item.id, 10);
      await setQuantity(server, s, item.id, 0);
    });
    await setQuantity(server, s, item.id, 3);
    await setStoreThreshold(server, s, { lowStockThreshold: 4 });
    await mine.until((alerts) => alerts.length === 1, "the threshold's alert");
    expect(mine.alerts[0]).toMatchObject({ availableQuantity: 3, threshold: 4 });
    await sleep(300);
    expect(theirs.alerts).toEqual([]);
  });

  it("without a token is UNAUTHENTICATED, with another store's FORBIDDEN, and such a subscriber hears nothing", async () => {
    const { s, item } = await productAt(10, 5);
    const other = await store();
    const anonymous = subscribeToAlerts(server.url, s.slug);
    const foreign = subscribeToAlerts(server.url, s.slug, other.token);
    const wrong = subscribeToAlerts(server.url, s.slug, `${s.token}x`);
    subscribers.push(anonymous, foreign, wrong);
    const codeOf = (subscriber: AlertSubscriber) => (subscriber.errors[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code;
    await anonymous.until(() => anonymous.errors.length > 0, "the anonymous subscriber's refusal");
    await foreign.until(() => foreign.errors.length > 0, "the other store's refusal");
    await wrong.until(() => wrong.errors.length > 0, "the wrong token's refusal");
    expect(codeOf(anonymous)).toBe("UNAUTHENTICATED");
    expect(codeOf(foreign)).toBe("FORBIDDEN");
    expect(codeOf(wrong)).toBe("UNAUTHENTICATED");
    await setQuantity(server, s, item.id, 1);
    await sleep(300);
    expect([anonymous.alerts, foreign.alerts, wrong.alerts]).toEqual([[], [], []]);
    expect(await alertCount(s)).toBe(1);
  });
});
