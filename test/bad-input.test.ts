import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gql, gqlData, newItem, newStore, placeOrder, startTestServer, stockOf, unbalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";

let server: TestServer;
let store: TestStore;
let item: { id: string };
beforeAll(async () => {
  server = await startTestServer();
  store = await newStore(server.db);
  item = await newItem(server, store, { quantity: 10 });
});
afterAll(async () => server.close());

/** Nothing a bad request sends may change the item, and the server must still answer. */
afterEach(async () => {
  expect(await stockOf(server.db, store.id, item.id)).toMatchObject({ quantity: 10, committedQuantity: 0 });
  const { rows } = await server.db.pool.query("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [store.id]);
  expect(rows[0].n).toBe(0);
  expect(await unbalancedLedgers(server.db, store.id)).toEqual([]);
  expect((await fetch(`${server.url}/health`)).status).toBe(200);
});

describe("bad input never changes data", () => {
  it.each([
    ["zero", 0],
    ["negative", -1],
    ["over the 10,000 limit", 10_001],
  ])("an order line with a %s quantity is INVALID_INPUT", async (_name, quantity) => {
    const result = await placeOrder(server, store, [{ itemId: item.id, quantity }]);
    expect(result).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "lines.0.quantity" });
  });

  it("repeated lines that add up to more than 10,000 units are INVALID_INPUT", async () => {
    const result = await placeOrder(server, store, [{ itemId: item.id, quantity: 6000 }, { itemId: item.id, quantity: 6000 }]);
    expect(result).toMatchObject({ code: "INVALID_INPUT" });
  });

  it("an empty order is INVALID_INPUT", async () => {
    expect(await placeOrder(server, store, [])).toMatchObject({ code: "INVALID_INPUT", field: "lines" });
  });

  it("unknown and malformed item ids are NOT_FOUND", async () => {
    for (const itemId of ["00000000-0000-4000-8000-000000000000", "not-an-id", "'; DROP TABLE items; --"]) {
      expect(await placeOrder(server, store, [{ itemId, quantity: 1 }])).toMatchObject({ code: "NOT_FOUND", field: "lines.0.itemId" });
    }
    const set = await gqlData(server.url, `mutation { setItemQuantity(input: { itemId: "nope", quantity: 1 }) { ... on OperationError { code field } } }`, {}, store.token);
    expect(set.setItemQuantity).toEqual({ code: "NOT_FOUND", field: "itemId" });
    const cancel = await gqlData(server.url, `mutation { changeOrderStatus(input: { orderId: "00000000-0000-4000-8000-000000000000", status: CANCELLED }) { ... on OperationError { code } } }`, {}, store.token);
    expect(cancel.changeOrderStatus.code).toBe("NOT_FOUND");
  });

  it("an unknown store is NOT_FOUND", async () => {
    const result = await gqlData(server.url, `mutation($id: ID!) { placeOrder(store: "no-such-store", input: { lines: [{ itemId: $id, quantity: 1 }] }) { ... on OperationError { code field } } }`, { id: item.id });
    expect(result.placeOrder).toEqual({ code: "NOT_FOUND", field: "store" });
  });

  it("Int overflow is a GraphQL validation error", async () => {
    const result = await gql(server.url, `mutation($id: ID!) { placeOrder(store: "x", input: { lines: [{ itemId: $id, quantity: 2147483648 }] }) { __typename } }`, { id: item.id });
    expect(result.errors?.[0]?.message).toMatch(/Int cannot represent non 32-bit signed integer/);
    const viaVariable = await gql(server.url, `mutation($q: Int!, $id: ID!) { adjustItemQuantity(input: { itemId: $id, delta: $q }) { __typename } }`, { q: 1e12, id: item.id }, store.token);
    expect(viaVariable.errors?.[0]?.message).toMatch(/Int cannot represent/);
  });

  it("stock counts beyond a billion are INVALID_INPUT", async () => {
    const set = await gqlData(server.url, `mutation($id: ID!) { setItemQuantity(input: { itemId: $id, quantity: 2000000000 }) { ... on OperationError { code field } } }`, { id: item.id }, store.token);
    expect(set.setItemQuantity).toEqual({ code: "INVALID_INPUT", field: "quantity" });
    const adjust = await gqlData(server.url, `mutation($id: ID!) { adjustItemQuantity(input: { itemId: $id, delta: 0 }) { ... on OperationError { code field } } }`, { id: item.id }, store.token);
    expect(adjust.adjustItemQuantity).toEqual({ code: "INVALID_INPUT", field: "delta" });
  });

  it("names, SKUs and prices are checked in the domain", async () => {
    const create = (input: Record<string, unknown>) =>
      gqlData(server.url, `mutation($input: CreateItemInput!) { createItem(input: $input) { __typename ... on OperationError { code field message } } }`, { input: { name: "Ok", type: "PRODUCT", price: "1.00", ...input } }, store.token);
    expect((await create({ name: "" })).createItem).toMatchObject({ code: "INVALID_INPUT", field: "name" });
    expect((await create({ name: "x".repeat(201) })).createItem).toMatchObject({ code: "INVALID_INPUT", field: "name" });
    expect((await create({ price: "-1.00" })).createItem).toMatchObject({ code: "INVALID_INPUT", field: "price" });
    expect((await create({ price: "1.999" })).createItem).toMatchObject({ code: "INVALID_INPUT", field: "price" });
    expect((await create({ quantity: -5 })).createItem).toMatchObject({ code: "INVALID_INPUT", field: "quantity" });
    expect((await create({ type: "SERVICE", quantity: 5 })).createItem).toMatchObject({ code: "INVALID_INPUT", field: "quantity" });
    const notDecimal = await gql(server.url, `mutation { createItem(input: { name: "x", type: PRODUCT, price: "abc" }) { __typename } }`, {}, store.token);
    expect(notDecimal.errors?.[0]?.message).toMatch(/Decimal/);
    const { rows } = await server.db.pool.query("SELECT count(*)::int AS n FROM items WHERE store_id = $1", [store.id]);
    expect(rows[0].n).toBe(1);
  });

  it("a SKU is unique per store", async () => {
    const create = (sku: string) =>
      gqlData(server.url, `mutation($sku: String) { createItem(input: { name: "x", type: PRODUCT, price: "1", sku: $sku }) { __typename ... on OperationError { code field } } }`, { sku }, store.token);
    expect((await create("DUP-1")).createItem.__typename).toBe("Item");
    expect((await create("DUP-1")).createItem).toMatchObject({ code: "INVALID_INPUT", field: "sku" });
    await server.db.pool.query("DELETE FROM stock_movements WHERE store_id = $1 AND item_id <> $2", [store.id, item.id]);
    await server.db.pool.query("DELETE FROM items WHERE store_id = $1 AND id <> $2", [store.id, item.id]);
  });

  it("malformed JSON and malformed queries are clear errors, without internals", async () => {
    const badJson = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query": "{ store(slug' });
    expect(badJson.status).toBe(400);
    const body = await badJson.text();
    expect(body).toMatch(/invalid JSON/i);
    expect(body).not.toMatch(/at .*\.ts:\d+/);
    const badQuery = await gql(server.url, "{ store(slug: ) { name } }");
    expect(badQuery.errors?.[0]?.message).toMatch(/Syntax Error/);
    const unknownField = await gql(server.url, `{ store(slug: "x") { password } }`);
    expect(unknownField.errors?.[0]?.message).toMatch(/Cannot query field "password"/);
    const missingVariable = await gql(server.url, PLACE_ORDER_NO_INPUT, {});
    expect(missingVariable.errors?.[0]?.message).toMatch(/\$input/);
  });

  it("bad pagination arguments are clear errors", async () => {
    const tooMany = await gql(server.url, `{ items(first: 100000) { edges { cursor } } }`, {}, store.token);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const badCursor = await gql(server.url, `{ items(after: "garbage") { edges { cursor } } }`, {}, store.token);
    expect(badCursor.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});

const PLACE_ORDER_NO_INPUT = `mutation($input: PlaceOrderInput!) { placeOrder(store: "x", input: $input) { __typename } }`;
