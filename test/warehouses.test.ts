import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeStatus, gql, gqlData, newItem, startTestServer, storesWithBalancedLedgers, type TestServer } from "./support/harness.ts";
import {
  allocationsOf,
  countStock,
  createWarehouse,
  deleteWarehouse,
  levelQuantity,
  mainWarehouseOf,
  newWarehouse,
  orderVariants,
  publicItem,
  readItem,
  readVariant,
  rowCounts,
  transferStock,
  tshirt,
  updateWarehouse,
  variantOf,
} from "./support/variants.ts";

let server: TestServer;
beforeAll(async () => (server = await startTestServer({ poolSize: 20 })));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const WAREHOUSES = `query($slug: String!) {
  store(slug: $slug) { inventorySettings { mainWarehouse { id } warehouses { id name isMain fulfilsOnlineOrders priority accountingId } } }
}`;
const warehousesOf = async (s: { slug: string; token: string }) =>
  (await gqlData(server.url, WAREHOUSES, { slug: s.slug }, s.token)).store.inventorySettings;

const MOVEMENTS = `query($id: ID!) {
  item(id: $id) { stockMovements(first: 20) { edges { node { reason delta quantityAfter variantId warehouseId transferId orderId note } } } }
}`;
const movementsOf = async (s: { token: string }, itemId: string) =>
  (await gqlData(server.url, MOVEMENTS, { id: itemId }, s.token)).item.stockMovements.edges.map((edge: any) => edge.node);

/** A store's T-shirt (one variant, "M/Negro") with `main` units in the main warehouse and `north` in a second, fulfilling one. */
async function shirtInTwoWarehouses(main: number, north: number, options: { sellWithoutStock?: boolean; northFirst?: boolean } = {}) {
  const s = await store();
  const mainId = await mainWarehouseOf(server, s);
  const northWarehouse = await newWarehouse(server, s, { name: "Bodega Norte", fulfilsOnlineOrders: true, priority: options.northFirst ? 0 : 10 });
  if (options.northFirst) await updateWarehouse(server, s, { id: mainId, priority: 5 });
  const shirt = await tshirt(server, s, { "M/Negro": main }, { sellWithoutStock: options.sellWithoutStock ?? false });
  const variant = variantOf(shirt, "M/Negro");
  if (north) await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, warehouseId: northWarehouse.id, quantity: north });
  return { s, shirt, variant, main: mainId, north: northWarehouse.id };
}

describe("warehouses of a store", () => {
  it("a store has its main warehouse from its creation, fulfilling online orders", async () => {
    const s = await store();
    const settings = await warehousesOf(s);
    expect(settings.warehouses).toEqual([
      { id: settings.mainWarehouse.id, name: "Principal", isMain: true, fulfilsOnlineOrders: true, priority: 0, accountingId: null },
    ]);
  });

  it("new ones do not fulfil unless told and come after the others; lists show the main one first, then by priority", async () => {
    const s = await store();
    const north = await newWarehouse(server, s, { name: "Bodega Norte" });
    const south = await newWarehouse(server, s, { name: "Bodega Sur", fulfilsOnlineOrders: true });
    expect(north).toMatchObject({ fulfilsOnlineOrders: false, priority: 1 });
    expect(south).toMatchObject({ fulfilsOnlineOrders: true, priority: 2 });
    const main = await mainWarehouseOf(server, s);
    await updateWarehouse(server, s, { id: main, priority: 7 });
    expect(await updateWarehouse(server, s, { id: south.id, priority: 0, name: "Bodega Sur 2" })).toMatchObject({
      __typename: "Warehouse",
      name: "Bodega Sur 2",
      priority: 0,
    });
    expect((await warehousesOf(s)).warehouses.map((w: any) => [w.name, w.priority])).toEqual([
      ["Principal", 7],
      ["Bodega Sur 2", 0],
      ["Bodega Norte", 1],
    ]);
  });

  it("every variant has a level in every warehouse, the new one's empty", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 2, "M/Negro": 1 });
    const north = await newWarehouse(server, s);
    const variant = await readVariant(server, s, variantOf(shirt, "S/Negro").id);
    expect(variant.stockLevels.map((level: any) => [level.warehouse.name, level.quantity])).toEqual([
      ["Principal", 2],
      ["Bodega Norte", 0],
    ]);
    expect(variant.stockLevels[1].warehouse.id).toBe(north.id);
  });

  it("refuses a bad name, a negative priority and a 51st warehouse (INVALID_INPUT at the field), changing nothing", async () => {
    const s = await store();
    const before = await rowCounts(server.db, s.id);
    expect(await createWarehouse(server, s, { name: "  " })).toMatchObject({ code: "INVALID_INPUT", field: "name" });
    expect(await createWarehouse(server, s, { name: "Norte", priority: -1 })).toMatchObject({ code: "INVALID_INPUT", field: "priority" });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
    await tshirt(server, s, { "S/Negro": 1 });
    for (let index = 1; index < 50; index++) await newWarehouse(server, s, { name: `Bodega ${index}` });
    const full = await rowCounts(server.db, s.id);
    expect(full.warehouses).toBe(50);
    expect(await createWarehouse(server, s, { name: "Bodega 51" })).toMatchObject({ code: "INVALID_INPUT", field: "name" });
    expect(await rowCounts(server.db, s.id)).toEqual(full);
  });

  it("warehouse mutations are the store admin's only; another store's warehouse is NOT_FOUND", async () => {
    const s = await store();
    const other = await store();
    const anonymous = await gql(server.url, `mutation { createWarehouse(input: { name: "X" }) { __typename } }`);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const theirs = await newWarehouse(server, other);
    expect(await updateWarehouse(server, s, { id: theirs.id, name: "Mía" })).toMatchObject({ code: "NOT_FOUND", field: "id" });
    expect(await deleteWarehouse(server, s, theirs.id)).toMatchObject({ code: "NOT_FOUND", field: "id" });
    expect(await deleteWarehouse(server, s, "nope")).toMatchObject({ code: "NOT_FOUND", field: "id" });
    expect((await warehousesOf(other)).warehouses.map((w: any) => w.name)).toEqual(["Principal", "Bodega Norte"]);
  });
});

describe("deleting a warehouse", () => {
  it("never the main one", async () => {
    const s = await store();
    const main = await mainWarehouseOf(server, s);
    expect(await deleteWarehouse(server, s, main)).toMatchObject({ code: "INVALID_INPUT", field: "id" });
    expect((await warehousesOf(s)).warehouses).toHaveLength(1);
  });

  it("not while it holds stock; once emptied by a transfer it goes, with its levels", async () => {
    const { s, shirt, variant, main, north } = await shirtInTwoWarehouses(0, 3);
    const before = await rowCounts(server.db, s.id);
    expect(await deleteWarehouse(server, s, north)).toMatchObject({ code: "INVALID_INPUT", field: "id" });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
    await transferStock(server, s, { variantId: variant.id, fromWarehouseId: north, toWarehouseId: main, quantity: 3 });
    expect(await deleteWarehouse(server, s, north)).toMatchObject({ __typename: "Warehouse", id: north });
    expect((await readVariant(server, s, variant.id)).stockLevels).toEqual([expect.objectContaining({ quantity: 3 })]);
    expect(await readItem(server, s, shirt.id)).toMatchObject({ quantity: 3 });
    // its movements stay, naming it
    expect((await movementsOf(s, shirt.id)).filter((m: any) => m.warehouseId === north)).toHaveLength(2);
  });

  it("not while open orders took units from it; the order's allocations still show it once it is gone", async () => {
    const { s, shirt, variant, north } = await shirtInTwoWarehouses(0, 2);
    const order = await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 2 }]);
    expect(order.__typename).toBe("Order");
    expect(await levelQuantity(server.db, s.id, variant.id, north)).toBe(0);
    expect(await deleteWarehouse(server, s, north)).toMatchObject({ code: "INVALID_INPUT", field: "id" });
    for (const status of ["CONFIRMED", "SHIPPED", "DELIVERED"]) expect((await changeStatus(server, s, order.id, status)).status).toBe(status);
    expect(await deleteWarehouse(server, s, north)).toMatchObject({ __typename: "Warehouse" });
    expect((await allocationsOf(server, s, order.id)).lines[0]!.allocations).toEqual([
      { warehouse: { id: north, name: "Bodega eliminada" }, quantity: 2 },
    ]);
  });
});

describe("which warehouses fulfil online orders", () => {
  it("switching one on or off recomputes its variants' quantities and availability at once", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 0, "M/Negro": 1 });
    const north = await newWarehouse(server, s);
    const small = variantOf(shirt, "S/Negro");
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: small.id, warehouseId: north.id, quantity: 5 });
    // stock in a warehouse that does not fulfil is not for sale
    expect(await publicItem(server, s, shirt.id)).toMatchObject({
      quantity: 1,
      variants: [{ id: small.id, quantity: 0, availability: "SOLD_OUT" }, { quantity: 1 }],
    });
    const versionBefore = (await readVariant(server, s, small.id)).version;
    expect(await updateWarehouse(server, s, { id: north.id, fulfilsOnlineOrders: true })).toMatchObject({ fulfilsOnlineOrders: true });
    const on = await publicItem(server, s, shirt.id);
    expect(on).toMatchObject({ quantity: 6, availableQuantity: 6, variants: [{ quantity: 5, availability: "IN_STOCK" }, { quantity: 1 }] });
    expect((await readVariant(server, s, small.id)).version).toBeGreaterThan(versionBefore);

    const main = await mainWarehouseOf(server, s);
    await updateWarehouse(server, s, { id: main, fulfilsOnlineOrders: false });
    expect(await publicItem(server, s, shirt.id)).toMatchObject({
      quantity: 5,
      variants: [{ quantity: 5, availability: "IN_STOCK" }, { quantity: 0, availability: "SOLD_OUT" }],
    });
    await updateWarehouse(server, s, { id: north.id, fulfilsOnlineOrders: false });
    expect(await publicItem(server, s, shirt.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
  });
});

describe("allocation of orders", () => {
  it("takes from the fulfilling warehouses in ascending priority, splitting a line where one has too few", async () => {
    const { s, shirt, variant, main, north } = await shirtInTwoWarehouses(4, 3, { northFirst: true });
    const order = await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 5 }]);
    expect(order.__typename).toBe("Order");
    const { lines } = await allocationsOf(server, s, order.id);
    expect(lines).toEqual([
      {
        variant: { id: variant.id },
        quantity: 5,
        allocations: expect.arrayContaining([
          { warehouse: { id: north, name: "Bodega Norte" }, quantity: 3 },
          { warehouse: { id: main, name: "Principal" }, quantity: 2 },
        ]),
      },
    ]);
    expect(lines[0]!.allocations).toHaveLength(2);
    expect(await levelQuantity(server.db, s.id, variant.id, north)).toBe(0);
    expect(await levelQuantity(server.db, s.id, variant.id, main)).toBe(2);
    expect(await readItem(server, s, shirt.id)).toMatchObject({ quantity: 2, variants: [{ quantity: 2 }] });
    const taken = (await movementsOf(s, shirt.id)).filter((m: any) => m.reason === "ORDER_PLACED");
    expect(taken).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ warehouseId: north, delta: -3, quantityAfter: 0, orderId: order.id }),
        expect.objectContaining({ warehouseId: main, delta: -2, quantityAfter: 2, orderId: order.id }),
      ]),
    );
  });

  it('with "Vender sin Stock" what no warehouse has comes from the first, which goes negative; cancelling gives each back', async () => {
    const { s, shirt, variant, main, north } = await shirtInTwoWarehouses(1, 3, { northFirst: true, sellWithoutStock: true });
    const order = await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 6 }]);
    expect(order.__typename).toBe("Order");
    const { lines } = await allocationsOf(server, s, order.id);
    expect(lines[0]!.allocations).toEqual(
      expect.arrayContaining([
        { warehouse: { id: north, name: "Bodega Norte" }, quantity: 5 },
        { warehouse: { id: main, name: "Principal" }, quantity: 1 },
      ]),
    );
    expect(await levelQuantity(server.db, s.id, variant.id, north)).toBe(-2);
    expect(await levelQuantity(server.db, s.id, variant.id, main)).toBe(0);
    expect(await readItem(server, s, shirt.id)).toMatchObject({ quantity: -2, availability: "BACKORDER" });

    expect((await changeStatus(server, s, order.id, "CANCELLED")).status).toBe("CANCELLED");
    expect(await levelQuantity(server.db, s.id, variant.id, north)).toBe(3);
    expect(await levelQuantity(server.db, s.id, variant.id, main)).toBe(1);
    expect(await readItem(server, s, shirt.id)).toMatchObject({ quantity: 4, availability: "IN_STOCK" });
    const returned = (await movementsOf(s, shirt.id)).filter((m: any) => m.reason === "ORDER_CANCELLED");
    expect(returned).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ warehouseId: north, delta: 5, orderId: order.id }),
        expect.objectContaining({ warehouseId: main, delta: 1, orderId: order.id }),
      ]),
    );
  });

  it("a warehouse that does not fulfil is never taken from", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "M/Negro": 1 });
    const variant = variantOf(shirt, "M/Negro");
    const north = await newWarehouse(server, s);
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, warehouseId: north.id, quantity: 10 });
    const refused = await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 2 }]);
    expect(refused).toMatchObject({ __typename: "InsufficientStockError", shortages: [{ variantId: variant.id, requested: 2, available: 1 }] });
    expect(await levelQuantity(server.db, s.id, variant.id, north.id)).toBe(10);
  });

  it("allocations are the admin's only", async () => {
    const { s, shirt, variant } = await shirtInTwoWarehouses(2, 0);
    const answer = await gql(
      server.url,
      `mutation($store: String!, $input: PlaceOrderInput!) { placeOrder(store: $store, input: $input) { ... on Order { lines { allocations { quantity } } } } }`,
      { store: s.slug, input: { lines: [{ itemId: shirt.id, variantId: variant.id, quantity: 1 }] } },
    );
    expect(answer.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("counts per warehouse", () => {
  it("set and adjust name a warehouse (default the main one); expectedQuantity compares that level", async () => {
    const { s, shirt, variant, main, north } = await shirtInTwoWarehouses(4, 3);
    const before = await rowCounts(server.db, s.id);
    // 4 is the main level's count and the variant's is 7: neither is the north level's
    for (const expectedQuantity of [4, 7]) {
      expect(
        await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, warehouseId: north, quantity: 10, expectedQuantity }),
      ).toMatchObject({ code: "STALE_QUANTITY", field: "expectedQuantity" });
    }
    expect(await rowCounts(server.db, s.id)).toEqual(before);
    const set = await countStock(server, s, "setItemQuantity", {
      itemId: shirt.id,
      variantId: variant.id,
      warehouseId: north,
      quantity: 10,
      expectedQuantity: 3,
    });
    expect(set).toMatchObject({ __typename: "Item", quantity: 14 });
    expect(set.variants[0].stockLevels.map((level: any) => [level.warehouse.id, level.quantity])).toEqual([
      [main, 4],
      [north, 10],
    ]);
    const adjusted = await countStock(server, s, "adjustItemQuantity", { itemId: shirt.id, variantId: variant.id, delta: -1, note: "roto" });
    expect(adjusted).toMatchObject({ quantity: 13 });
    expect(await levelQuantity(server.db, s.id, variant.id, main)).toBe(3);
    expect(await movementsOf(s, shirt.id)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: "MANUAL_SET", delta: 7, quantityAfter: 10, warehouseId: north }),
        expect.objectContaining({ reason: "MANUAL_ADJUSTMENT", delta: -1, quantityAfter: 3, warehouseId: main, note: "roto" }),
      ]),
    );
  });

  it("refuses a level below zero, a missing variant of an item with options, an unknown or another store's warehouse", async () => {
    const { s, shirt, variant, north } = await shirtInTwoWarehouses(4, 3);
    const other = await store();
    const theirs = await newWarehouse(server, other);
    const before = await rowCounts(server.db, s.id);
    const level = { itemId: shirt.id, variantId: variant.id };
    expect(await countStock(server, s, "adjustItemQuantity", { ...level, warehouseId: north, delta: -4 })).toMatchObject({ code: "INVALID_INPUT", field: "delta" });
    expect(await countStock(server, s, "setItemQuantity", { itemId: shirt.id, quantity: 1 })).toMatchObject({ code: "INVALID_INPUT", field: "variantId" });
    expect(await countStock(server, s, "setItemQuantity", { ...level, warehouseId: theirs.id, quantity: 1 })).toMatchObject({ code: "NOT_FOUND", field: "warehouseId" });
    expect(await countStock(server, s, "setItemQuantity", { ...level, warehouseId: "x", quantity: 1 })).toMatchObject({ code: "NOT_FOUND", field: "warehouseId" });
    const bag = await newItem(server, s, { quantity: 1 });
    expect(await countStock(server, s, "setItemQuantity", { itemId: bag.id, variantId: variant.id, quantity: 1 })).toMatchObject({
      code: "NOT_FOUND",
      field: "variantId",
    });
    const afterBag = await rowCounts(server.db, s.id);
    expect(afterBag).toEqual({ ...before, items: before.items! + 1, variants: before.variants! + 1, levels: before.levels! + 2, movements: before.movements! + 1, units: before.units! + 1 });
  });
});

describe("transferStock", () => {
  it("moves units in one transaction: two TRANSFER movements sharing a transferId", async () => {
    const { s, shirt, variant, main, north } = await shirtInTwoWarehouses(5, 0);
    const moved = await transferStock(server, s, { variantId: variant.id, fromWarehouseId: main, toWarehouseId: north, quantity: 3, note: "reparto" });
    expect(moved).toMatchObject({ __typename: "Variant", id: variant.id, quantity: 5 });
    expect(moved.stockLevels.map((level: any) => [level.warehouse.id, level.quantity])).toEqual([
      [main, 2],
      [north, 3],
    ]);
    const transfers = (await movementsOf(s, shirt.id)).filter((m: any) => m.reason === "TRANSFER");
    expect(transfers).toHaveLength(2);
    expect(transfers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ warehouseId: main, delta: -3, quantityAfter: 2, note: "reparto" }),
        expect.objectContaining({ warehouseId: north, delta: 3, quantityAfter: 3, note: "reparto" }),
      ]),
    );
    expect(transfers[0].transferId).toEqual(expect.any(String));
    expect(transfers[1].transferId).toBe(transfers[0].transferId);
  });

  it("into a warehouse that does not fulfil, the units leave the storefront", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "M/Negro": 2 });
    const variant = variantOf(shirt, "M/Negro");
    const main = await mainWarehouseOf(server, s);
    const north = await newWarehouse(server, s);
    const moved = await transferStock(server, s, { variantId: variant.id, fromWarehouseId: main, toWarehouseId: north.id, quantity: 2 });
    expect(moved).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
    expect(await publicItem(server, s, shirt.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
  });

  it('never takes the source below zero, even with "Vender sin Stock": InsufficientStockError, nothing moved', async () => {
    for (const sellWithoutStock of [false, true]) {
      const { s, variant, main, north } = await shirtInTwoWarehouses(2, 0, { sellWithoutStock });
      const before = await rowCounts(server.db, s.id);
      const refused = await transferStock(server, s, { variantId: variant.id, fromWarehouseId: main, toWarehouseId: north, quantity: 3 });
      expect(refused).toMatchObject({
        __typename: "InsufficientStockError",
        code: "INSUFFICIENT_STOCK",
        shortages: [{ variantId: variant.id, requested: 3, available: 2 }],
      });
      expect(await rowCounts(server.db, s.id)).toEqual(before);
    }
  });

  it("refuses a bad quantity, one warehouse twice, an unknown variant or warehouse", async () => {
    const { s, variant, main, north } = await shirtInTwoWarehouses(2, 0);
    const other = await store();
    const theirs = await newWarehouse(server, other);
    const before = await rowCounts(server.db, s.id);
    const transfer = { variantId: variant.id, fromWarehouseId: main, toWarehouseId: north, quantity: 1 };
    expect(await transferStock(server, s, { ...transfer, quantity: 0 })).toMatchObject({ code: "INVALID_INPUT", field: "quantity" });
    expect(await transferStock(server, s, { ...transfer, toWarehouseId: main })).toMatchObject({ code: "INVALID_INPUT", field: "toWarehouseId" });
    expect(await transferStock(server, s, { ...transfer, toWarehouseId: theirs.id })).toMatchObject({ code: "NOT_FOUND", field: "toWarehouseId" });
    expect(await transferStock(server, s, { ...transfer, fromWarehouseId: theirs.id })).toMatchObject({ code: "NOT_FOUND", field: "fromWarehouseId" });
    expect(await transferStock(server, s, { ...transfer, variantId: theirs.id })).toMatchObject({ code: "NOT_FOUND", field: "variantId" });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
    const anonymous = await gql(
      server.url,
      `mutation($input: TransferStockInput!) { transferStock(input: $input) { __typename } }`,
      { input: transfer },
    );
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
