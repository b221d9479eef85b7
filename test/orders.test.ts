import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  changeStatus,
  gqlData,
  newItem,
  storesWithBalancedLedgers,
  placeOrder,
  startTestServer,
  stockOf,
  uniqueKey,
  type TestServer,
} from "./support/harness.ts";

let server: TestServer;
beforeAll(async () => (server = await startTestServer({ poolSize: 20 })));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const ORDER = `query($id: ID!) { order(id: $id) { id number status total lines { quantity unitPrice item { id name } } } }`;

describe("placing orders", () => {
  it('the help article\'s example: 5 bags, "Vender sin Stock", an order of 10 leaves -5', async () => {
    const s = await store();
    const bag = await newItem(server, s, { name: "Bolso", quantity: 5, sellWithoutStock: true, price: "120000" });
    const order = await placeOrder(server, s, [{ itemId: bag.id, quantity: 10 }]);
    expect(order).toMatchObject({ __typename: "Order", status: "PENDING", total: "1200000.00" });
    expect(await stockOf(server.db, s.id, bag.id)).toMatchObject({ quantity: -5, availability: "BACKORDER" });
  });

  it("selling the last unit gives SOLD_OUT and refuses the next order", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 1 });
    expect((await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])).__typename).toBe("Order");
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
    const refused = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    expect(refused).toMatchObject({
      __typename: "InsufficientStockError",
      code: "INSUFFICIENT_STOCK",
      shortages: [{ itemId: item.id, requested: 1, available: 0 }],
    });
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(0);
  });

  it("an order is all lines or nothing, and lists every short line", async () => {
    const s = await store();
    const plenty = await newItem(server, s, { name: "A", quantity: 10 });
    const short1 = await newItem(server, s, { name: "B", quantity: 2 });
    const short2 = await newItem(server, s, { name: "C", quantity: 0 });
    const before = await Promise.all([plenty, short1, short2].map((i) => stockOf(server.db, s.id, i.id)));
    const refused = await placeOrder(server, s, [
      { itemId: plenty.id, quantity: 3 },
      { itemId: short1.id, quantity: 3 },
      { itemId: short2.id, quantity: 1 },
    ]);
    expect(refused.__typename).toBe("InsufficientStockError");
    expect(refused.shortages).toHaveLength(2);
    expect(refused.shortages).toEqual(
      expect.arrayContaining([
        { itemId: short1.id, requested: 3, available: 2 },
        { itemId: short2.id, requested: 1, available: 0 },
      ]),
    );
    const after = await Promise.all([plenty, short1, short2].map((i) => stockOf(server.db, s.id, i.id)));
    expect(after).toEqual(before);
  });

  it("captures unit prices, sums repeated items and accepts services and untracked items", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 10, price: "19.90" });
    const service = await newItem(server, s, { type: "SERVICE", price: "5.05" });
    const order = await placeOrder(server, s, [
      { itemId: item.id, quantity: 2 },
      { itemId: service.id, quantity: 1 },
      { itemId: item.id, quantity: 3 },
    ]);
    expect(order.__typename).toBe("Order");
    expect(order.total).toBe("104.55");
    expect(order.lines).toHaveLength(2);
    expect(order.lines).toEqual(expect.arrayContaining([{ quantity: 5, unitPrice: "19.90", item: { id: item.id } }]));
    await gqlData(server.url, `mutation($id: ID!) { updateItem(input: { id: $id, price: "25.00" }) { __typename } }`, { id: item.id }, s.token);
    const stored = await gqlData(server.url, ORDER, { id: order.id }, s.token);
    expect(stored.order.lines.find((l: any) => l.item.id === item.id).unitPrice).toBe("19.90");
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(5);
  });

  it("numbers orders 1, 2, 3... per store, without gaps from refused orders", async () => {
    const s = await store();
    const other = await store();
    const item = await newItem(server, s, { quantity: 2 });
    const otherItem = await newItem(server, other, { quantity: 5 });
    const numbers: number[] = [];
    numbers.push((await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])).number);
    expect((await placeOrder(server, s, [{ itemId: item.id, quantity: 5 }])).__typename).toBe("InsufficientStockError");
    expect((await placeOrder(server, other, [{ itemId: otherItem.id, quantity: 1 }])).number).toBe(1);
    numbers.push((await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])).number);
    expect(numbers).toEqual([1, 2]);
  });

  it("200 concurrent orders for the last 50 units sell exactly 50", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 50 });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])),
    );
    expect(results.filter((r) => r.__typename === "Order")).toHaveLength(50);
    expect(results.filter((r) => r.__typename === "InsufficientStockError")).toHaveLength(150);
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
    const numbers = results.filter((r) => r.__typename === "Order").map((r) => r.number).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("multi-line orders on shared items in opposite orders never deadlock into errors", async () => {
    const s = await store();
    const items = await Promise.all(Array.from({ length: 4 }, (_, i) => newItem(server, s, { name: `I${i}`, quantity: 1000 })));
    const ids = items.map((i) => i.id);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) => {
        const order = n % 2 === 0 ? ids : [...ids].reverse();
        return placeOrder(server, s, order.map((itemId) => ({ itemId, quantity: 1 + (n % 3) })));
      }),
    );
    expect(results.every((r) => r.__typename === "Order")).toBe(true);
    const taken = results.reduce((sum, _, n) => sum + 1 + (n % 3), 0);
    for (const id of ids) expect((await stockOf(server.db, s.id, id)).quantity).toBe(1000 - taken);
  });
});

describe("idempotency keys", () => {
  it("a retried order with the same key returns the first order and changes nothing", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 10 });
    const key = uniqueKey();
    const first = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }], { idempotencyKey: key });
    const after = await stockOf(server.db, s.id, item.id);
    const retry = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }], { idempotencyKey: key });
    expect(retry).toEqual(first);
    expect(await stockOf(server.db, s.id, item.id)).toEqual(after);
  });

  it("the same key with a different request is IDEMPOTENCY_CONFLICT", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 10 });
    const key = uniqueKey();
    await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }], { idempotencyKey: key });
    const after = await stockOf(server.db, s.id, item.id);
    const conflict = await placeOrder(server, s, [{ itemId: item.id, quantity: 3 }], { idempotencyKey: key });
    expect(conflict).toMatchObject({ __typename: "OperationError", code: "IDEMPOTENCY_CONFLICT", field: "idempotencyKey" });
    expect(await stockOf(server.db, s.id, item.id)).toEqual(after);
  });

  it("keys are per store", async () => {
    const a = await store();
    const b = await store();
    const itemA = await newItem(server, a, { quantity: 10 });
    const itemB = await newItem(server, b, { quantity: 10 });
    const key = uniqueKey();
    const orderA = await placeOrder(server, a, [{ itemId: itemA.id, quantity: 1 }], { idempotencyKey: key });
    const orderB = await placeOrder(server, b, [{ itemId: itemB.id, quantity: 1 }], { idempotencyKey: key });
    expect(orderB.__typename).toBe("Order");
    expect(orderB.id).not.toBe(orderA.id);
  });

  it("identical requests racing make one order; the others answer that order", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 100 });
    const key = uniqueKey();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => placeOrder(server, s, [{ itemId: item.id, quantity: 3 }], { idempotencyKey: key })),
    );
    const orderIds = new Set(results.filter((r) => r.__typename === "Order").map((r) => r.id));
    expect(orderIds.size).toBe(1);
    for (const result of results) {
      expect(result.__typename === "Order" || result.code === "IDEMPOTENCY_CONFLICT").toBe(true);
    }
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(97);
  });
});

describe('changing status ("Cambiar estado")', () => {
  it("follows PENDING -> CONFIRMED -> SHIPPED -> DELIVERED, and DELIVERED is final", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 5 });
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    for (const status of ["CONFIRMED", "SHIPPED", "DELIVERED"]) {
      expect(await changeStatus(server, s, order.id, status)).toMatchObject({ __typename: "Order", status });
    }
    for (const status of ["PENDING", "SHIPPED", "CANCELLED"]) {
      expect(await changeStatus(server, s, order.id, status)).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
    }
    expect(await changeStatus(server, s, order.id, "DELIVERED")).toMatchObject({ __typename: "Order", status: "DELIVERED" });
  });

  it("PENDING may only become CONFIRMED or CANCELLED; setting the current status again is a no-op", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 5 });
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    expect(await changeStatus(server, s, order.id, "SHIPPED")).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
    expect(await changeStatus(server, s, order.id, "DELIVERED")).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
    expect(await changeStatus(server, s, order.id, "PENDING")).toMatchObject({ __typename: "Order", status: "PENDING" });
  });

  it('cancelling ("Anulado") restores exactly what the order took, with ORDER_CANCELLED movements', async () => {
    const s = await store();
    const a = await newItem(server, s, { name: "A", quantity: 5 });
    const b = await newItem(server, s, { name: "B", quantity: 1, sellWithoutStock: true });
    const order = await placeOrder(server, s, [{ itemId: a.id, quantity: 5 }, { itemId: b.id, quantity: 4 }]);
    expect(await stockOf(server.db, s.id, a.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
    expect((await changeStatus(server, s, order.id, "CANCELLED")).status).toBe("CANCELLED");
    expect(await stockOf(server.db, s.id, a.id)).toMatchObject({ quantity: 5, availability: "IN_STOCK" });
    expect((await stockOf(server.db, s.id, b.id)).quantity).toBe(1);
    const movements = await gqlData(server.url, `query($id: ID!) { item(id: $id) { stockMovements(first: 1) { edges { node { delta reason orderId } } } } }`, { id: a.id }, s.token);
    expect(movements.item.stockMovements.edges[0].node).toEqual({ delta: 5, reason: "ORDER_CANCELLED", orderId: order.id });
    // out of CANCELLED there is no way, and cancelling again is a no-op success
    expect(await changeStatus(server, s, order.id, "CONFIRMED")).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject({ status: "CANCELLED" });
    expect((await stockOf(server.db, s.id, a.id)).quantity).toBe(5);
  });

  it("cancelling twice at once restores the stock once", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 10 });
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 4 }]);
    const results = await Promise.all(Array.from({ length: 8 }, () => changeStatus(server, s, order.id, "CANCELLED")));
    expect(results.every((r) => r.status === "CANCELLED")).toBe(true);
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(10);
    const { rows } = await server.db.pool.query(
      `SELECT count(*)::int AS n FROM stock_movements WHERE store_id = $1 AND order_id = $2 AND reason = 'ORDER_CANCELLED'`,
      [s.id, order.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it("a cancelled order gives back to an item whose tracking was switched off since", async () => {
    const s = await store();
    const item = await newItem(server, s, { quantity: 3 });
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    await gqlData(server.url, `mutation($id: ID!) { updateItem(input: { id: $id, trackInventory: false }) { __typename } }`, { id: item.id }, s.token);
    await changeStatus(server, s, order.id, "CANCELLED");
    const back = await gqlData(server.url, `mutation($id: ID!) { updateItem(input: { id: $id, trackInventory: true }) { ... on Item { quantity } } }`, { id: item.id }, s.token);
    expect(back.updateItem.quantity).toBe(3);
  });
});
