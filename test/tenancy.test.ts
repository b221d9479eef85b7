import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql, gqlData, newItem, newStore, placeOrder, startTestServer, type TestServer } from "./support/harness.ts";

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server.close());

describe("stores, tokens and tenants", () => {
  it("stores only a hash of the admin token, never the token", async () => {
    const s = await newStore(server.db);
    const { rows } = await server.db.pool.query("SELECT * FROM stores WHERE id = $1", [s.id]);
    const stored = JSON.stringify(rows[0]);
    const secret = /^sk_[0-9a-f]{32}_(.+)$/.exec(s.token)![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(43); // 256 random bits, base64url
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(Buffer.from(secret).toString("hex"));
  });

  it("admin fields without a token are UNAUTHENTICATED, with a bad token too", async () => {
    const s = await newStore(server.db);
    for (const token of [undefined, "sk_nope", `${s.token.slice(0, -2)}xx`]) {
      const result = await gql(server.url, "{ items { edges { node { id } } } }", {}, token);
      expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      const mutation = await gql(server.url, `mutation { createItem(input: { name: "x", type: PRODUCT, price: "1" }) { __typename } }`, {}, token);
      expect(mutation.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    }
  });

  it("another store's token never reaches this store's data", async () => {
    const mine = await newStore(server.db);
    const theirs = await newStore(server.db);
    const item = await newItem(server, mine, { quantity: 5 });
    const order = await placeOrder(server, mine, [{ itemId: item.id, quantity: 1 }]);

    const asThem = (query: string, variables: Record<string, unknown> = {}) => gql(server.url, query, variables, theirs.token);
    expect((await asThem(`query($id: ID!) { item(id: $id) { id } }`, { id: item.id })).data.item).toBeNull();
    expect((await asThem(`query($id: ID!) { order(id: $id) { id } }`, { id: order.id })).data.order).toBeNull();
    expect((await asThem(`{ items { edges { node { id } } } }`)).data.items.edges).toEqual([]);
    expect((await asThem(`{ orders { edges { node { id } } } }`)).data.orders.edges).toEqual([]);

    const set = await asThem(`mutation($id: ID!) { setItemQuantity(input: { itemId: $id, quantity: 99 }) { ... on OperationError { code } } }`, { id: item.id });
    expect(set.data.setItemQuantity.code).toBe("NOT_FOUND");
    const adjust = await asThem(`mutation($id: ID!) { adjustItemQuantity(input: { itemId: $id, delta: 1 }) { ... on OperationError { code } } }`, { id: item.id });
    expect(adjust.data.adjustItemQuantity.code).toBe("NOT_FOUND");
    const update = await asThem(`mutation($id: ID!) { updateItem(input: { id: $id, name: "hack" }) { ... on OperationError { code } } }`, { id: item.id });
    expect(update.data.updateItem.code).toBe("NOT_FOUND");
    const cancel = await asThem(`mutation($id: ID!) { changeOrderStatus(input: { orderId: $id, status: CANCELLED }) { ... on OperationError { code } } }`, { id: order.id });
    expect(cancel.data.changeOrderStatus.code).toBe("NOT_FOUND");

    const settings = await asThem(`query($slug: String!) { store(slug: $slug) { inventorySettings { outOfStockBehavior } } }`, { slug: mine.slug });
    expect(settings.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const movements = await asThem(`query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { stockMovements { edges { node { id } } } } } }`, { slug: mine.slug, id: item.id });
    expect(movements.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    const { rows } = await server.db.pool.query("SELECT quantity, name FROM items WHERE id = $1", [item.id]);
    expect(rows[0]).toEqual({ quantity: 4, name: "Bolso de cuero" });
    const status = await gqlData(server.url, `query($id: ID!) { order(id: $id) { status } }`, { id: order.id }, mine.token);
    expect(status.order.status).toBe("PENDING");
  });

  it("an order names items of its own store only", async () => {
    const mine = await newStore(server.db);
    const theirs = await newStore(server.db);
    const theirItem = await newItem(server, theirs, { quantity: 5 });
    const result = await placeOrder(server, mine, [{ itemId: theirItem.id, quantity: 1 }]);
    expect(result).toMatchObject({ __typename: "OperationError", code: "NOT_FOUND", field: "lines.0.itemId" });
    const { rows } = await server.db.pool.query("SELECT quantity FROM items WHERE id = $1", [theirItem.id]);
    expect(rows[0].quantity).toBe(5);
  });

  it("the public storefront reads a store by slug; unknown slugs are null", async () => {
    const s = await newStore(server.db, "Tienda Ejemplar");
    await newItem(server, s, { name: "Bolso", quantity: 2 });
    const data = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { slug name items { edges { node { name quantity availableQuantity availability } } } } }`, { slug: s.slug });
    expect(data.store).toEqual({
      slug: s.slug,
      name: "Tienda Ejemplar",
      items: { edges: [{ node: { name: "Bolso", quantity: 2, availableQuantity: 2, availability: "IN_STOCK" } }] },
    });
    expect((await gqlData(server.url, `{ store(slug: "no-such-store") { name } }`)).store).toBeNull();
  });
});
