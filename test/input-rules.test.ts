import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gql, gqlData, newItem, newStore, PLACE_ORDER, startTestServer, stockOf, unbalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";

/**
 * The domain's input rules beyond test/bad-input.test.ts: text a database would refuse (control
 * characters), lengths, slugs that cannot exist, and an order worth more than can be recorded.
 * Each is a clear answer, never an internal error, and changes nothing.
 */

let server: TestServer;
let store: TestStore;
let item: { id: string };
let priceless: { id: string };
beforeAll(async () => {
  server = await startTestServer();
  store = await newStore(server.db);
  item = await newItem(server, store, { quantity: 10 });
  priceless = await newItem(server, store, { name: "Obra maestra", price: "9999999999.99", sellWithoutStock: true, quantity: 0 });
});
afterAll(async () => server.close());

afterEach(async () => {
  expect(await stockOf(server.db, store.id, item.id)).toMatchObject({ quantity: 10 });
  expect(await stockOf(server.db, store.id, priceless.id)).toMatchObject({ quantity: 0 });
  const { rows } = await server.db.pool.query(
    "SELECT (SELECT count(*)::int FROM orders WHERE store_id = $1) AS orders, (SELECT count(*)::int FROM items WHERE store_id = $1) AS items",
    [store.id],
  );
  expect(rows[0]).toEqual({ orders: 0, items: 2 });
  expect(await unbalancedLedgers(server.db, store.id)).toEqual([]);
});

const order = (input: Record<string, unknown>, slug = store.slug) =>
  gqlData(server.url, PLACE_ORDER, { store: slug, input: { lines: [{ itemId: item.id, quantity: 1 }], ...input } }).then((data) => data.placeOrder);
const ITEM_RESULT = `__typename ... on OperationError { code field message }`;
const createItem = (input: Record<string, unknown>) =>
  gqlData(server.url, `mutation($input: CreateItemInput!) { createItem(input: $input) { ${ITEM_RESULT} } }`, { input: { name: "Ok", type: "PRODUCT", price: "1.00", ...input } }, store.token).then((data) => data.createItem);
const setQuantity = (input: Record<string, unknown>) =>
  gqlData(server.url, `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { ${ITEM_RESULT} } }`, { input: { itemId: item.id, quantity: 3, ...input } }, store.token).then((data) => data.setItemQuantity);

describe("text fields", () => {
  it("control characters (a NUL byte, an escape) are INVALID_INPUT in every text field", async () => {
    for (const bad of ["a\u0000b", "a\u001bb"]) {
      expect(await createItem({ name: bad })).toMatchObject({ code: "INVALID_INPUT", field: "name", message: "name must not contain control characters" });
      expect(await createItem({ sku: bad })).toMatchObject({ code: "INVALID_INPUT", field: "sku" });
      expect(await setQuantity({ note: bad })).toMatchObject({ code: "INVALID_INPUT", field: "note" });
      expect(await order({ customerName: bad })).toMatchObject({ code: "INVALID_INPUT", field: "customerName" });
      expect(await order({ customerEmail: `x${bad}@example.com` })).toMatchObject({ code: "INVALID_INPUT", field: "customerEmail" });
      expect(await order({ idempotencyKey: bad })).toMatchObject({ code: "INVALID_INPUT", field: "idempotencyKey" });
    }
  });

  it("a note may span lines, nothing else may", async () => {
    const multiLine = await setQuantity({ quantity: 10, note: "recount\nshelf 3" }); // the count it has: a movement of 0
    expect(multiLine.__typename).toBe("Item");
    expect(await createItem({ name: "two\nlines" })).toMatchObject({ code: "INVALID_INPUT", field: "name" });
  });

  it.each([
    ["customerName", "x".repeat(201)],
    ["customerEmail", `${"x".repeat(250)}@example.com`],
    ["customerEmail", "not an address"],
    ["idempotencyKey", "k".repeat(201)],
    ["idempotencyKey", "   "],
  ])("placeOrder's %s %#: too long, empty or malformed is INVALID_INPUT", async (field, value) => {
    expect(await order({ [field]: value })).toMatchObject({ code: "INVALID_INPUT", field });
  });

  it("a note over 500 characters is INVALID_INPUT", async () => {
    expect(await setQuantity({ note: "n".repeat(501) })).toMatchObject({ code: "INVALID_INPUT", field: "note" });
  });

  it("a search over 200 characters, or with control characters, is a clear BAD_USER_INPUT", async () => {
    for (const search of ["s".repeat(201), "a\u0000"]) {
      const answer = await gql(server.url, `query($search: String) { items(search: $search) { edges { cursor } } }`, { search }, store.token);
      expect(answer.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^search must/), extensions: { code: "BAD_USER_INPUT" } });
    }
  });
});

describe("store slugs that cannot exist", () => {
  it("are NOT_FOUND for placeOrder, null for store(slug), 404 for the storefront page: no database error", async () => {
    for (const slug of ["a\u0000b", "-x-", "x".repeat(64), "über"]) {
      expect(await order({}, slug)).toMatchObject({ code: "NOT_FOUND", field: "store" });
      expect(await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { name } }`, { slug })).toEqual({ store: null });
    }
    expect((await fetch(`${server.url}/store/a%00b`)).status).toBe(404);
  });
});

describe("an order's total", () => {
  it("over 999,999,999,999.99 (what an order can record) is INVALID_INPUT and takes nothing", async () => {
    const answer = await gqlData(server.url, PLACE_ORDER, { store: store.slug, input: { lines: [{ itemId: priceless.id, quantity: 101 }] } });
    expect(answer.placeOrder).toMatchObject({ code: "INVALID_INPUT", field: "lines", message: "the order's total would be more than 999999999999.99" });
  });

  it("up to it is recorded exactly", async () => {
    const gallery = await newStore(server.db); // its own store: this order is meant to happen
    const painting = await newItem(server, gallery, { price: "9999999999.99", sellWithoutStock: true, quantity: 0 });
    const answer = await gqlData(server.url, PLACE_ORDER, { store: gallery.slug, input: { lines: [{ itemId: painting.id, quantity: 99 }] } });
    expect(answer.placeOrder).toMatchObject({ __typename: "Order", total: "989999999999.01" });
    expect(await unbalancedLedgers(server.db, gallery.id)).toEqual([]);
  });
});
