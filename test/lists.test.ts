import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeStatus, gql, gqlData, newItem, newStore, placeOrder, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server.close());

const ORDERS = `query($first: Int, $after: String, $status: OrderStatus) {
  orders(first: $first, after: $after, status: $status) { edges { cursor node { number status } } pageInfo { hasNextPage endCursor } }
}`;
const MOVEMENTS = `query($id: ID!, $first: Int, $after: String) {
  item(id: $id) { stockMovements(first: $first, after: $after) { edges { node { delta quantityAfter reason } } pageInfo { hasNextPage endCursor } } }
}`;
const STORE_ITEMS = `query($slug: String!, $after: String) { store(slug: $slug) { items(first: 1, after: $after) { edges { node { name } } pageInfo { endCursor } } } }`;

/** Every page of a list, `first` nodes at a time, following endCursor. */
async function allPages<T>(read: (after: string | null) => Promise<{ edges: { node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }>) {
  const pages: T[][] = [];
  for (let after: string | null = null; ; ) {
    const page = await read(after);
    pages.push(page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return pages;
    after = page.pageInfo.endCursor;
  }
}

describe("lists in pages", () => {
  let store: TestStore;
  let other: TestStore;
  beforeAll(async () => {
    [store, other] = [await newStore(server.db), await newStore(server.db)];
  });

  it("orders come newest first, page by page, and filtered by status", async () => {
    const mug = await newItem(server, store, { name: "Taza", quantity: 50 });
    const orders = [];
    for (let n = 0; n < 5; n++) orders.push(await placeOrder(server, store, [{ itemId: mug.id, quantity: 1 }]));
    await changeStatus(server, store, orders[1].id, "CANCELLED");
    await changeStatus(server, store, orders[3].id, "CANCELLED");

    const pages = await allPages<{ number: number }>((after) => gqlData(server.url, ORDERS, { first: 2, after }, store.token).then((data) => data.orders));
    expect(pages.map((page) => page.map((order) => order.number))).toEqual([[5, 4], [3, 2], [1]]);
    const cancelled = await gqlData(server.url, ORDERS, { status: "CANCELLED" }, store.token);
    expect(cancelled.orders.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      { number: 4, status: "CANCELLED" },
      { number: 2, status: "CANCELLED" },
    ]);
  });

  it("an item's stock movements come newest first, page by page", async () => {
    const bag = await newItem(server, store, { quantity: 3 });
    for (const delta of [1, 2, -4]) {
      await gqlData(server.url, `mutation($id: ID!, $delta: Int!) { adjustItemQuantity(input: { itemId: $id, delta: $delta }) { __typename } }`, { id: bag.id, delta }, store.token);
    }
    const pages = await allPages<{ delta: number }>((after) =>
      gqlData(server.url, MOVEMENTS, { id: bag.id, first: 3, after }, store.token).then((data) => data.item.stockMovements),
    );
    expect(pages.flat().map((movement) => movement.delta)).toEqual([-4, 2, 1, 3]);
    expect(pages.map((page) => page.length)).toEqual([3, 1]);
    expect(pages[0]![0]).toEqual({ delta: -4, quantityAfter: 2, reason: "MANUAL_ADJUSTMENT" });
  });

  it("a page holds 1 to 100 nodes: more, or none, is a clear BAD_USER_INPUT", async () => {
    for (const first of [0, -1, 101]) {
      const answer = await gql(server.url, ORDERS, { first }, store.token);
      expect(answer.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
    const bag = await newItem(server, store, { quantity: 1 });
    const movements = await gql(server.url, MOVEMENTS, { id: bag.id, first: 101 }, store.token);
    expect(movements.errors?.[0]).toMatchObject({ message: "first must be between 1 and 100", extensions: { code: "BAD_USER_INPUT" } });
  });

  it("a cursor that is not of this list is BAD_USER_INPUT: made up, or of another store's list", async () => {
    await newItem(server, other, { name: "A" });
    await newItem(server, other, { name: "B" });
    const theirs = await gqlData(server.url, STORE_ITEMS, { slug: other.slug });
    const theirCursor = theirs.store.items.pageInfo.endCursor;
    expect((await gqlData(server.url, STORE_ITEMS, { slug: other.slug, after: theirCursor })).store.items.edges).toEqual([{ node: { name: "B" } }]);

    const onMine = await gql(server.url, STORE_ITEMS, { slug: store.slug, after: theirCursor });
    expect(onMine.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const asAdmin = await gql(server.url, `query($after: String) { items(after: $after) { edges { cursor } } }`, { after: theirCursor }, store.token);
    expect(asAdmin.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    for (const after of ["garbage", Buffer.from('GPC:T:["x","y"]').toString("base64")]) {
      const orders = await gql(server.url, ORDERS, { after }, store.token);
      expect(orders.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
  });

  it("lists have no relay node lookups", async () => {
    const answer = await gql(server.url, `{ node(id: "x") { id } }`);
    expect(answer.errors?.[0]?.message).toMatch(/Cannot query field "node"/);
  });
});

describe("an item's warehouse", () => {
  it("is admin only: UNAUTHENTICATED for the public, FORBIDDEN for another store's admin, null before any sync", async () => {
    const store = await newStore(server.db);
    const other = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 1 });
    const query = `query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { name warehouse { id } } } }`;
    const variables = { slug: store.slug, id: bag.id };

    expect((await gql(server.url, query, variables)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect((await gql(server.url, query, variables, other.token)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(await gqlData(server.url, query, variables, store.token)).toEqual({ store: { item: { name: "Bolso de cuero", warehouse: null } } });
  });
});
