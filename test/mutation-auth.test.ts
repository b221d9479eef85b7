import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStorefrontToken } from "../src/stores/storefront-tokens.ts";
import { gql, newItem, newStore, startTestServer, stockOf, type TestServer, type TestStore } from "./support/harness.ts";

/**
 * A mutation is authorized whole before it runs (src/graphql/selection-auth.ts): asking an
 * admin-only field in its answer without the right token refuses the operation, and nothing is
 * done; the shopper is never left with an order placed and its answer withheld.
 */
const ORDER_WITH_ALLOCATIONS = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number lines { quantity allocations { quantity warehouse { id } } } }
    ... on OperationError { code message }
  }
}`;
const ORDER_PLAIN = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) { __typename ... on Order { id number lines { quantity } } ... on OperationError { code message } }
}`;

let server: TestServer;
let store: TestStore;
let other: TestStore;
let bag: { id: string };
beforeAll(async () => {
  server = await startTestServer();
  [store, other] = [await newStore(server.db), await newStore(server.db)];
  bag = await newItem(server, store, { quantity: 10 });
});
afterAll(() => server.close());

const orders = async () =>
  (await server.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [store.id])).rows[0]!.n;
const order = (query: string, token?: string, extra: Record<string, unknown> = {}) =>
  gql(server.url, query, { store: store.slug, input: { lines: [{ itemId: bag.id, quantity: 1 }], ...extra } }, token);

describe("a mutation asking an admin-only field is refused whole, before it runs", () => {
  it("placeOrder without a token asking lines { allocations }: UNAUTHENTICATED, no order, no stock taken; without the field it orders", async () => {
    const before = await orders();
    // asked twice, as a shopper retrying without an idempotency key would: still nothing ordered
    for (let attempt = 0; attempt < 2; attempt++) {
      const refused = await order(ORDER_WITH_ALLOCATIONS);
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: "UNAUTHENTICATED" }) })]);
    }
    expect(await orders()).toBe(before);
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 10 });

    const placed = await order(ORDER_PLAIN);
    expect(placed.errors).toBeUndefined();
    expect(placed.data.placeOrder).toMatchObject({ __typename: "Order", lines: [{ quantity: 1 }] });
    expect(await orders()).toBe(before + 1);
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 9 });
  });

  it("the same through a fragment, and another store's admin token: FORBIDDEN, nothing ordered", async () => {
    const before = await orders();
    const viaFragment = `mutation($store: String!, $input: PlaceOrderInput!) {
      placeOrder(store: $store, input: $input) { ... on Order { id lines { ...Where } } } }
      fragment Where on OrderLine { allocations { quantity } }`;
    expect((await order(viaFragment)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const refused = await order(ORDER_WITH_ALLOCATIONS, other.token);
    expect(refused.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: "FORBIDDEN" }) })]);
    const storefront = await createStorefrontToken(server.db.prisma, store.id, "shop");
    if (!("token" in storefront)) throw new Error("no storefront token");
    expect((await order(ORDER_WITH_ALLOCATIONS, storefront.token)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(await orders()).toBe(before);
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 9 });
  });

  it("the store's own admin token gets the order with its allocations; a field left out by @include is not asked", async () => {
    const placed = await order(ORDER_WITH_ALLOCATIONS, store.token);
    expect(placed.errors).toBeUndefined();
    expect(placed.data.placeOrder.lines[0].allocations).toEqual([{ quantity: 1, warehouse: { id: expect.any(String) } }]);
    const optional = `mutation($store: String!, $input: PlaceOrderInput!, $admin: Boolean!) {
      placeOrder(store: $store, input: $input) { ... on Order { id lines { quantity allocations @include(if: $admin) { quantity } } } } }`;
    const shopper = await gql(server.url, optional, { store: store.slug, input: { lines: [{ itemId: bag.id, quantity: 1 }] }, admin: false });
    expect(shopper.errors).toBeUndefined();
    expect(shopper.data.placeOrder.lines).toEqual([{ quantity: 1 }]);
  });

  it("no mutation of an operation runs when a later one would be refused", async () => {
    const before = await orders();
    const both = `mutation($store: String!, $input: PlaceOrderInput!, $item: ID!) {
      placeOrder(store: $store, input: $input) { __typename }
      setItemQuantity(input: { itemId: $item, quantity: 50 }) { __typename } }`;
    const refused = await gql(server.url, both, { store: store.slug, input: { lines: [{ itemId: bag.id, quantity: 1 }] }, item: bag.id });
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await orders()).toBe(before);
  });
});
