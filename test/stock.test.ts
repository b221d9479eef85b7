import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  gqlData,
  ITEM_FIELDS,
  newItem,
  storesWithBalancedLedgers,
  placeOrder,
  startTestServer,
  stockOf,
  type TestServer,
} from "./support/harness.ts";

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const SET_QUANTITY = `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) {
  __typename ... on Item { ${ITEM_FIELDS} } ... on OperationError { code message field } } }`;
const ADJUST = `mutation($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) {
  __typename ... on Item { ${ITEM_FIELDS} } ... on OperationError { code message field } } }`;
const UPDATE_ITEM = `mutation($input: UpdateItemInput!) { updateItem(input: $input) {
  __typename ... on Item { ${ITEM_FIELDS} } ... on OperationError { code message field } } }`;
const SETTINGS = `mutation($input: UpdateInventorySettingsInput!) { updateInventorySettings(input: $input) {
  __typename ... on InventorySettings { outOfStockBehavior accountingSync accountingConnected } ... on OperationError { code message field } } }`;
const PUBLIC_ITEMS = `query($slug: String!) { store(slug: $slug) { items { edges { node { id availability } } } } }`;
const PUBLIC_ITEM = `query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { id availability } } }`;
const MOVEMENTS = `query($id: ID!) { item(id: $id) { stockMovements { edges { node { delta quantityAfter reason orderId note } } } } }`;

describe("items and their stock", () => {
  it("a service never tracks inventory: no quantity, always IN_STOCK", async () => {
    const s = await store();
    const service = await newItem(server, s, { name: "Instalación", type: "SERVICE", trackInventory: true });
    expect(service).toMatchObject({ quantity: null, availableQuantity: null, availability: "IN_STOCK", trackInventory: false, committedQuantity: 0 });
  });

  it("an untracked product is always IN_STOCK and orders never touch a quantity", async () => {
    const s = await store();
    const item = await newItem(server, s, { trackInventory: false });
    expect(item).toMatchObject({ quantity: null, availableQuantity: null, availability: "IN_STOCK" });
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 10_000 }]);
    expect(order.__typename).toBe("Order");
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 0, availability: "IN_STOCK" });
  });

  it('registers a quantity ("Registrar cantidad disponible") as an INITIAL_COUNT movement', async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 12 });
    expect(item).toMatchObject({ quantity: 12, availableQuantity: 12, committedQuantity: 0, availability: "IN_STOCK" });
    const data = await gqlData(server.url, MOVEMENTS, { id: item.id }, s.token);
    expect(data.item.stockMovements.edges.map((e: any) => e.node)).toEqual([
      { delta: 12, quantityAfter: 12, reason: "INITIAL_COUNT", orderId: null, note: null },
    ]);
  });

  it("setItemQuantity sets an absolute count as MANUAL_SET with delta new - old", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 7 });
    const data = await gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity: 3, note: "recuento" } }, s.token);
    expect(data.setItemQuantity).toMatchObject({ __typename: "Item", quantity: 3, availableQuantity: 3 });
    expect(data.setItemQuantity.version).toBeGreaterThan(item.version);
    const movements = await gqlData(server.url, MOVEMENTS, { id: item.id }, s.token);
    expect(movements.item.stockMovements.edges[0].node).toEqual({ delta: -4, quantityAfter: 3, reason: "MANUAL_SET", orderId: null, note: "recuento" });
  });

  it("a compare-and-set with a stale expectedQuantity changes nothing", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 7 });
    const before = await stockOf(server.db, s.id, item.id);
    const data = await gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity: 20, expectedQuantity: 6 } }, s.token);
    expect(data.setItemQuantity).toMatchObject({ __typename: "OperationError", code: "STALE_QUANTITY", field: "expectedQuantity" });
    expect(await stockOf(server.db, s.id, item.id)).toEqual(before);
    const fresh = await gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity: 20, expectedQuantity: 7 } }, s.token);
    expect(fresh.setItemQuantity).toMatchObject({ __typename: "Item", quantity: 20 });
  });

  it("of two racing compare-and-sets from the same count, exactly one wins", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 10 });
    const results = await Promise.all(
      [11, 12, 13, 14, 15].map((quantity) =>
        gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity, expectedQuantity: 10 } }, s.token),
      ),
    );
    const won = results.filter((r) => r.setItemQuantity.__typename === "Item");
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.setItemQuantity.code === "STALE_QUANTITY")).toHaveLength(4);
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(won[0].setItemQuantity.quantity);
  });

  it("adjustItemQuantity adds a delta as MANUAL_ADJUSTMENT", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 5 });
    const data = await gqlData(server.url, ADJUST, { input: { itemId: item.id, delta: -2 } }, s.token);
    expect(data.adjustItemQuantity).toMatchObject({ quantity: 3 });
    const movements = await gqlData(server.url, MOVEMENTS, { id: item.id }, s.token);
    expect(movements.item.stockMovements.edges[0].node).toMatchObject({ delta: -2, quantityAfter: 3, reason: "MANUAL_ADJUSTMENT" });
  });

  it("refuses a count below zero for an item without sellWithoutStock, and allows it with", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 2 });
    const before = await stockOf(server.db, s.id, item.id);
    const set = await gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity: -1 } }, s.token);
    expect(set.setItemQuantity).toMatchObject({ code: "INVALID_INPUT", field: "quantity" });
    const adjust = await gqlData(server.url, ADJUST, { input: { itemId: item.id, delta: -3 } }, s.token);
    expect(adjust.adjustItemQuantity).toMatchObject({ code: "INVALID_INPUT", field: "delta" });
    expect(await stockOf(server.db, s.id, item.id)).toEqual(before);

    const backorder = await newItem(server, s, { quantity: 2, sellWithoutStock: true });
    const negative = await gqlData(server.url, ADJUST, { input: { itemId: backorder.id, delta: -3 } }, s.token);
    expect(negative.adjustItemQuantity).toMatchObject({ quantity: -1, availability: "BACKORDER" });
  });

  it("refuses stock changes on untracked items and services", async () => {
    const s = await store();
    const service = await newItem(server, s, { type: "SERVICE" });
    const untracked = await newItem(server, s, { trackInventory: false });
    for (const item of [service, untracked]) {
      const set = await gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity: 5 } }, s.token);
      expect(set.setItemQuantity).toMatchObject({ code: "INVALID_INPUT", field: "itemId" });
      const adjust = await gqlData(server.url, ADJUST, { input: { itemId: item.id, delta: 5 } }, s.token);
      expect(adjust.adjustItemQuantity).toMatchObject({ code: "INVALID_INPUT" });
    }
  });

  it("availability follows availableQuantity, sellWithoutStock and the store's behaviour", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 1 });
    expect(item.availability).toBe("IN_STOCK");
    const empty = await gqlData(server.url, SET_QUANTITY, { input: { itemId: item.id, quantity: 0 } }, s.token);
    expect(empty.setItemQuantity.availability).toBe("SOLD_OUT");
    const backorder = await gqlData(server.url, UPDATE_ITEM, { input: { id: item.id, sellWithoutStock: true } }, s.token);
    expect(backorder.updateItem).toMatchObject({ availability: "BACKORDER", sellWithoutStock: true });
    expect(backorder.updateItem.version).toBeGreaterThan(empty.setItemQuantity.version);
    const hide = await gqlData(server.url, SETTINGS, { input: { outOfStockBehavior: "HIDE" } }, s.token);
    expect(hide.updateInventorySettings).toMatchObject({ outOfStockBehavior: "HIDE" });
    expect((await stockOf(server.db, s.id, item.id)).availability).toBe("BACKORDER");
    const off = await gqlData(server.url, UPDATE_ITEM, { input: { id: item.id, sellWithoutStock: false } }, s.token);
    expect(off.updateItem.availability).toBe("HIDDEN");
  });

  it("switching the store's behaviour recomputes availability at once", async () => {
    const s = await store();
    const soldOut = await newItem(server, s, { quantity: 0 });
    const stocked = await newItem(server, s, { quantity: 3 });
    expect(soldOut.availability).toBe("SOLD_OUT");
    await gqlData(server.url, SETTINGS, { input: { outOfStockBehavior: "HIDE" } }, s.token);
    const hidden = await stockOf(server.db, s.id, soldOut.id);
    expect(hidden.availability).toBe("HIDDEN");
    expect(hidden.version).toBeGreaterThan(soldOut.version);
    expect((await stockOf(server.db, s.id, stocked.id)).version).toBe(stocked.version);
    await gqlData(server.url, SETTINGS, { input: { outOfStockBehavior: "MARK_SOLD_OUT" } }, s.token);
    expect((await stockOf(server.db, s.id, soldOut.id)).availability).toBe("SOLD_OUT");
  });

  it("HIDE removes a sold-out item from the public store, and restocking brings it back", async () => {
    const s = await store();
    await gqlData(server.url, SETTINGS, { input: { outOfStockBehavior: "HIDE" } }, s.token);
    const item = await newItem(server, s, { quantity: 1 });
    const sold = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    expect(sold.__typename).toBe("Order");

    const listed = await gqlData(server.url, PUBLIC_ITEMS, { slug: s.slug });
    expect(listed.store.items.edges.map((e: any) => e.node.id)).not.toContain(item.id);
    expect((await gqlData(server.url, PUBLIC_ITEM, { slug: s.slug, id: item.id })).store.item).toBeNull();
    // the admin still sees it
    const admin = await gqlData(server.url, PUBLIC_ITEMS, { slug: s.slug }, s.token);
    expect(admin.store.items.edges.map((e: any) => e.node)).toContainEqual({ id: item.id, availability: "HIDDEN" });
    const refused = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    expect(refused.__typename).toBe("InsufficientStockError");

    await gqlData(server.url, ADJUST, { input: { itemId: item.id, delta: 4 } }, s.token);
    const back = await gqlData(server.url, PUBLIC_ITEMS, { slug: s.slug });
    expect(back.store.items.edges.map((e: any) => e.node)).toContainEqual({ id: item.id, availability: "IN_STOCK" });
  });

  it("every change of quantity or availability bumps version", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 2 });
    const versions = [item.version];
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    versions.push((await stockOf(server.db, s.id, item.id)).version);
    await gqlData(server.url, ADJUST, { input: { itemId: item.id, delta: 1 } }, s.token);
    versions.push((await stockOf(server.db, s.id, item.id)).version);
    await gqlData(server.url, `mutation($id: ID!) { changeOrderStatus(input: { orderId: $id, status: CANCELLED }) { __typename } }`, { id: order.id }, s.token);
    versions.push((await stockOf(server.db, s.id, item.id)).version);
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
  });

  it("lists items by name with cursor pagination and search", async () => {
    const s = await store();
    for (const name of ["Camisa", "Bolso", "Anillo", "Zapato", "Chaqueta"]) await newItem(server, s, { name, quantity: 1 });
    const page = (after?: string) =>
      gqlData(server.url, `query($first: Int, $after: String) { items(first: $first, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }`, { first: 2, after }, s.token);
    const names: string[] = [];
    let after: string | undefined;
    for (;;) {
      const data = await page(after);
      names.push(...data.items.edges.map((e: any) => e.node.name));
      if (!data.items.pageInfo.hasNextPage) break;
      after = data.items.pageInfo.endCursor;
    }
    expect(names).toEqual(["Anillo", "Bolso", "Camisa", "Chaqueta", "Zapato"]);
    const found = await gqlData(server.url, `{ items(search: "cha") { edges { node { name } } } }`, {}, s.token);
    expect(found.items.edges.map((e: any) => e.node.name)).toEqual(["Chaqueta"]);
  });
});
