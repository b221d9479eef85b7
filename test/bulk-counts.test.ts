import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql, gqlData, newItem, newStore, placeOrder, startTestServer, storesWithBalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";
import { liveClient, stockUpdates, untilLive, setQuantity } from "./support/live.ts";
import { levelQuantity, mainWarehouseOf, newWarehouse, rowCounts, tshirt, variantOf } from "./support/variants.ts";

/** SPEC section 9, "Bulk counts": setItemQuantities, all or nothing. */

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const SET_QUANTITIES = `mutation($input: SetItemQuantitiesInput!) {
  setItemQuantities(input: $input) {
    __typename
    ... on BulkQuantitiesSet { changed variants { id itemId quantity availableQuantity availability version } }
    ... on BulkQuantitiesRefused { errors { index code message field } }
    ... on OperationError { code message field }
  }
}`;

type Entry = { itemId: string; quantity: number; variantId?: string; warehouseId?: string; expectedQuantity?: number; note?: string };

async function setQuantities(s: TestStore, entries: Entry[], note?: string) {
  const data = await gqlData(server.url, SET_QUANTITIES, { input: { entries, note } }, s.token);
  return data.setItemQuantities;
}

async function movementsOf(s: TestStore) {
  const { rows } = await server.db.pool.query(
    `SELECT variant_id AS "variantId", warehouse_id AS "warehouseId", delta, quantity_after AS "quantityAfter", reason, note
       FROM stock_movements WHERE store_id = $1 AND reason = 'MANUAL_SET' ORDER BY id`,
    [s.id],
  );
  return rows;
}

describe("setItemQuantities: the whole shop counted at once", () => {
  it("sets every entry's level as MANUAL_SET with the input's note, and answers each changed variant once", async () => {
    const s = await store();
    const north = await newWarehouse(server, s, { name: "Bodega Norte" });
    const main = await mainWarehouseOf(server, s);
    const shirt = await tshirt(server, s, { "S/Negro": 3, "M/Negro": 5 });
    const bag = await newItem(server, s, { quantity: 7, sku: "BOLSO-1" });
    const small = variantOf(shirt, "S/Negro");
    const result = await setQuantities(
      s,
      [
        { itemId: shirt.id, variantId: small.id, quantity: 10 },
        { itemId: shirt.id, variantId: small.id, warehouseId: north.id, quantity: 4, expectedQuantity: 0 },
        { itemId: bag.id, quantity: 2 },
      ],
      "conteo de fin de mes",
    );
    expect(result.__typename).toBe("BulkQuantitiesSet");
    expect(result.changed).toBe(3);
    expect(result.variants.map((v: any) => v.id)).toEqual([small.id, (await defaultVariantOf(s, bag.id))]);
    // the variant's quantity is over its fulfilling warehouses: the north one does not fulfil by default
    expect(result.variants[0]).toMatchObject({ quantity: 10, availableQuantity: 10, availability: "IN_STOCK" });
    expect(result.variants[1]).toMatchObject({ quantity: 2 });
    expect(await levelQuantity(server.db, s.id, small.id, north.id)).toBe(4);
    expect(await levelQuantity(server.db, s.id, small.id, main)).toBe(10);
    const movements = await movementsOf(s);
    expect(movements).toHaveLength(3);
    expect(movements.map((m) => [m.delta, m.quantityAfter])).toEqual(expect.arrayContaining([[7, 10], [4, 4], [-5, 2]]));
    for (const movement of movements) expect(movement.note).toBe("conteo de fin de mes");
  });

  it("an entry that sets the current count changes nothing and writes no movement", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 7 });
    const belt = await newItem(server, s, { name: "Cinturón", quantity: 3 });
    const before = await gqlData(server.url, `query($id: ID!) { item(id: $id) { version } }`, { id: bag.id }, s.token);
    const result = await setQuantities(s, [
      { itemId: bag.id, quantity: 7, expectedQuantity: 7 },
      { itemId: belt.id, quantity: 4 },
    ]);
    expect(result).toMatchObject({ __typename: "BulkQuantitiesSet", changed: 1 });
    expect(result.variants).toHaveLength(1);
    expect(result.variants[0]).toMatchObject({ itemId: belt.id, quantity: 4 });
    const after = await gqlData(server.url, `query($id: ID!) { item(id: $id) { version } }`, { id: bag.id }, s.token);
    expect(after.item.version).toBe(before.item.version);
    expect((await movementsOf(s)).map((m) => m.delta)).toEqual([1]);
    // all unchanged: a success that changes nothing
    expect(await setQuantities(s, [{ itemId: bag.id, quantity: 7 }])).toEqual({ __typename: "BulkQuantitiesSet", changed: 0, variants: [] });
  });

  it("is all or nothing: one stale entry refuses the whole count, and says which", async () => {
    const s = await store();
    const items = await Promise.all([1, 2, 3].map((n) => newItem(server, s, { name: `Bolso ${n}`, quantity: 10 })));
    await placeOrder(server, s, [{ itemId: items[1]!.id, quantity: 1 }]); // a sale since the count was read: 9
    const before = await rowCounts(server.db, s.id);
    const result = await setQuantities(
      s,
      items.map((item) => ({ itemId: item.id, quantity: 20, expectedQuantity: 10 })),
    );
    expect(result).toEqual({
      __typename: "BulkQuantitiesRefused",
      errors: [{ index: 1, code: "STALE_QUANTITY", field: "expectedQuantity", message: expect.stringContaining("9") }],
    });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
  });

  it("lists every entry at fault with its index and reason, not only the first", async () => {
    const s = await store();
    const other = await newStore(server.db, "Otra tienda");
    const foreign = await newItem(server, other, { quantity: 1 });
    const bag = await newItem(server, s, { quantity: 5 });
    const backorder = await newItem(server, s, { name: "Pedido", quantity: 0, sellWithoutStock: true });
    const untracked = await newItem(server, s, { name: "Sin inventario", trackInventory: false });
    const service = await newItem(server, s, { name: "Instalación", type: "SERVICE" });
    const shirt = await tshirt(server, s, { "S/Negro": 3 });
    const belt = await newItem(server, s, { name: "Cinturón", quantity: 5 });
    const entries: Entry[] = [
      { itemId: bag.id, quantity: 6 }, // 0: fine
      { itemId: "not-an-id", quantity: 1 }, // 1
      { itemId: foreign.id, quantity: 1 }, // 2: another store's item is not found
      { itemId: shirt.id, quantity: 1 }, // 3: which variant?
      { itemId: shirt.id, variantId: foreign.id, quantity: 1 }, // 4
      { itemId: bag.id, warehouseId: "00000000-0000-4000-8000-000000000000", quantity: 1 }, // 5
      { itemId: belt.id, quantity: -1 }, // 6: below zero without "Vender sin Stock"
      { itemId: backorder.id, quantity: -3 }, // 7: fine, it sells without stock
      { itemId: untracked.id, quantity: 2 }, // 8
      { itemId: service.id, quantity: 2 }, // 9
      { itemId: belt.id, quantity: 2_000_000_000 }, // 10: beyond the quantity rule
      { itemId: belt.id, quantity: 1, note: "otra nota" }, // 11: one note for all movements
    ];
    const before = await rowCounts(server.db, s.id);
    const result = await setQuantities(s, entries);
    expect(result.__typename).toBe("BulkQuantitiesRefused");
    expect(result.errors.map((e: any) => [e.index, e.code, e.field])).toEqual([
      [1, "NOT_FOUND", "itemId"],
      [2, "NOT_FOUND", "itemId"],
      [3, "INVALID_INPUT", "variantId"],
      [4, "NOT_FOUND", "variantId"],
      [5, "NOT_FOUND", "warehouseId"],
      [6, "INVALID_INPUT", "quantity"],
      [8, "INVALID_INPUT", "itemId"],
      [9, "INVALID_INPUT", "itemId"],
      [10, "INVALID_INPUT", "quantity"],
      [11, "INVALID_INPUT", "note"],
    ]);
    for (const error of result.errors) expect(error.message).not.toBe("");
    expect(await rowCounts(server.db, s.id)).toEqual(before);
  });

  it("one stock level named twice is INVALID_INPUT for each of its entries, however it is named", async () => {
    const s = await store();
    const main = await mainWarehouseOf(server, s);
    const bag = await newItem(server, s, { quantity: 5 });
    const belt = await newItem(server, s, { name: "Cinturón", quantity: 5 });
    const result = await setQuantities(s, [
      { itemId: bag.id, quantity: 1 },
      { itemId: belt.id, quantity: 2 },
      { itemId: bag.id, warehouseId: main, quantity: 1 }, // the same level: the default warehouse is the main one
    ]);
    expect(result.__typename).toBe("BulkQuantitiesRefused");
    expect(result.errors.map((e: any) => [e.index, e.code])).toEqual([
      [0, "INVALID_INPUT"],
      [2, "INVALID_INPUT"],
    ]);
    expect(result.errors[0].message).toContain("0, 2");
    expect(await levelQuantity(server.db, s.id, await defaultVariantOf(s, belt.id), main)).toBe(5);
  });

  it("refuses every entry while the store's inventory is managed by accounting", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 5 });
    const belt = await newItem(server, s, { name: "Cinturón", quantity: 5 });
    // sync's switch alone (test setup): a count is refused while it is on, whatever the connection
    await server.db.pool.query(`UPDATE stores SET accounting_sync = true WHERE id = $1`, [s.id]);
    try {
      const result = await setQuantities(s, [
        { itemId: bag.id, quantity: 1 },
        { itemId: belt.id, quantity: 2 },
      ]);
      expect(result.errors.map((e: any) => [e.index, e.code])).toEqual([
        [0, "INVENTORY_MANAGED_BY_ACCOUNTING"],
        [1, "INVENTORY_MANAGED_BY_ACCOUNTING"],
      ]);
    } finally {
      await server.db.pool.query(`UPDATE stores SET accounting_sync = false WHERE id = $1`, [s.id]);
    }
  });

  it("takes 1 to 250 entries: none or 251 is INVALID_INPUT on entries, 250 apply", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 5 });
    expect(await setQuantities(s, [])).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "entries" });
    const items = await Promise.all(Array.from({ length: 25 }, (_, n) => newItem(server, s, { name: `Artículo ${n}`, quantity: 0 })));
    const warehouses = [await mainWarehouseOf(server, s)];
    for (let n = 1; n < 10; n++) warehouses.push((await newWarehouse(server, s, { name: `Bodega ${n}` })).id);
    const entries = items.flatMap((item, i) => warehouses.map((warehouseId, w) => ({ itemId: item.id, warehouseId, quantity: i + w + 1 })));
    expect(entries).toHaveLength(250);
    const tooMany = await setQuantities(s, [...entries, { itemId: bag.id, quantity: 1 }]);
    expect(tooMany).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "entries" });
    const applied = await setQuantities(s, entries, "inventario");
    expect(applied).toMatchObject({ __typename: "BulkQuantitiesSet", changed: 250 });
    expect(applied.variants).toHaveLength(25);
    expect(await movementsOf(s)).toHaveLength(250);
  });

  it("pushes one StockUpdate per changed variant after COMMIT, none for an unchanged entry or a refused count", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 5 });
    const belt = await newItem(server, s, { name: "Cinturón", quantity: 5 });
    const client = liveClient(server.url);
    try {
      const updates = stockUpdates(client, s.slug);
      let probe = 100;
      await untilLive(updates, () => setQuantity(server, s, bag.id, probe++));
      const refused = await setQuantities(s, [{ itemId: bag.id, quantity: 1 }, { itemId: belt.id, quantity: -1 }]);
      expect(refused.__typename).toBe("BulkQuantitiesRefused");
      const applied = await setQuantities(s, [{ itemId: bag.id, quantity: probe - 1 }, { itemId: belt.id, quantity: 0 }]);
      expect(applied.changed).toBe(1);
      await updates.until((received) => received.some((u) => u.itemId === belt.id), "the belt's update");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(updates.updates).toEqual([expect.objectContaining({ itemId: belt.id, availability: "SOLD_OUT", availableQuantity: 0 })]);
      updates.close();
    } finally {
      await client.dispose();
    }
  });

  it("is for the store's admin only", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 5 });
    const anonymous = await gql(server.url, SET_QUANTITIES, { input: { entries: [{ itemId: bag.id, quantity: 1 }] } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const other = await newStore(server.db, "Otra");
    const foreign = await gqlData(server.url, SET_QUANTITIES, { input: { entries: [{ itemId: bag.id, quantity: 1 }] } }, other.token);
    expect(foreign.setItemQuantities.errors).toEqual([expect.objectContaining({ index: 0, code: "NOT_FOUND", field: "itemId" })]);
    expect(await levelQuantity(server.db, s.id, await defaultVariantOf(s, bag.id), await mainWarehouseOf(server, s))).toBe(5);
  });
});

async function defaultVariantOf(s: TestStore, itemId: string): Promise<string> {
  const { rows } = await server.db.pool.query(`SELECT id FROM variants WHERE store_id = $1 AND item_id = $2 AND is_default`, [s.id, itemId]);
  return rows[0].id;
}
