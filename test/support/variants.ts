import { randomBytes } from "node:crypto";
import type { Database } from "../../src/db/pool.ts";
import { gql, gqlData, type TestStore } from "./harness.ts";

/**
 * Helpers for the variants and warehouses tests (SPEC section 8): items with options through
 * the admin API, warehouses, counts per level, orders naming variants, and the store's row counts
 * to show that a refused request changed nothing.
 */

type Server = { url: string };

export const VARIANT_FIELDS = `id itemId sku options { name value } price quantity committedQuantity availableQuantity availability version`;
export const LEVEL_FIELDS = `stockLevels { warehouse { id name isMain } quantity committedQuantity availableQuantity }`;
export const ITEM_WITH_VARIANTS = `id sku name quantity committedQuantity availableQuantity availability version options { name values }
  variants { ${VARIANT_FIELDS} }`;
const ERROR_FIELDS = `... on OperationError { code message field }`;
const STOCK_ERROR_FIELDS = `${ERROR_FIELDS} ... on InsufficientStockError { code message shortages { itemId variantId requested available } }`;

export type Option = { name: string; values: string[] };
export type VariantInput = { options: { name: string; value: string }[]; sku?: string; price?: string; quantity?: number };

/** A variant's combination as the API takes it: `{ Talla: "M", Color: "Negro" }`. */
export const combination = (values: Record<string, string>) => Object.entries(values).map(([name, value]) => ({ name, value }));

/** createItem's answer, whatever it is. */
export async function createItem(server: Server, store: TestStore, input: Record<string, unknown>) {
  const data = await gqlData(
    server.url,
    `mutation($input: CreateItemInput!) { createItem(input: $input) { __typename ... on Item { ${ITEM_WITH_VARIANTS} } ${ERROR_FIELDS} } }`,
    { input: { name: "Camiseta", type: "PRODUCT", price: "20.00", ...input } },
    store.token,
  );
  return data.createItem;
}

export type TestVariant = { id: string; sku: string | null; options: { name: string; value: string }[]; price: string; quantity: number | null };
export type TestItem = { id: string; variants: TestVariant[]; availability: string; quantity: number | null };

/**
 * A T-shirt in sizes (S, M, L) and colours (Negro, Café), sold as the combinations given by
 * `quantities` ("S/Negro": 3), each with its SKU; fails the test when refused.
 */
export async function tshirt(server: Server, store: TestStore, quantities: Record<string, number>, input: Record<string, unknown> = {}) {
  const skuPrefix = randomBytes(3).toString("hex").toUpperCase();
  const item = await createItem(server, store, {
    options: [
      { name: "Talla", values: ["S", "M", "L"] },
      { name: "Color", values: ["Negro", "Café"] },
    ],
    variants: Object.entries(quantities).map(([key, quantity]) => {
      const [size, colour] = key.split("/");
      return { options: combination({ Talla: size!, Color: colour! }), sku: `${skuPrefix}-${size}-${colour}`, quantity };
    }),
    ...input,
  });
  if (item.__typename !== "Item") throw new Error(`createItem failed: ${JSON.stringify(item)}`);
  return item as TestItem;
}

/** The variant of an item with these option values ("M/Negro"). */
export function variantOf(item: TestItem, key: string) {
  const values = key.split("/");
  const found = item.variants.find((variant) => variant.options.every((option, index) => option.value === values[index]));
  if (!found) throw new Error(`no variant ${key}`);
  return found;
}

export async function createWarehouse(server: Server, store: TestStore, input: Record<string, unknown>) {
  const data = await gqlData(
    server.url,
    `mutation($input: CreateWarehouseInput!) {
      createWarehouse(input: $input) { __typename ... on Warehouse { id name isMain fulfilsOnlineOrders priority } ${ERROR_FIELDS} }
    }`,
    { input },
    store.token,
  );
  return data.createWarehouse;
}

/** A second warehouse; fails the test when refused. */
export async function newWarehouse(server: Server, store: TestStore, input: Record<string, unknown> = {}) {
  const warehouse = await createWarehouse(server, store, { name: "Bodega Norte", ...input });
  if (warehouse.__typename !== "Warehouse") throw new Error(`createWarehouse failed: ${JSON.stringify(warehouse)}`);
  return warehouse as { id: string; name: string; priority: number; fulfilsOnlineOrders: boolean };
}

export async function updateWarehouse(server: Server, store: TestStore, input: Record<string, unknown>) {
  const data = await gqlData(
    server.url,
    `mutation($input: UpdateWarehouseInput!) {
      updateWarehouse(input: $input) { __typename ... on Warehouse { id name isMain fulfilsOnlineOrders priority } ${ERROR_FIELDS} }
    }`,
    { input },
    store.token,
  );
  return data.updateWarehouse;
}

export async function deleteWarehouse(server: Server, store: TestStore, id: string) {
  const data = await gqlData(
    server.url,
    `mutation($id: ID!) { deleteWarehouse(id: $id) { __typename ... on Warehouse { id } ${ERROR_FIELDS} } }`,
    { id },
    store.token,
  );
  return data.deleteWarehouse;
}

/** The store's main warehouse id. */
export async function mainWarehouseOf(server: Server, store: TestStore): Promise<string> {
  const data = await gqlData(
    server.url,
    `query($slug: String!) { store(slug: $slug) { inventorySettings { mainWarehouse { id } } } }`,
    { slug: store.slug },
    store.token,
  );
  return data.store.inventorySettings.mainWarehouse.id;
}

/** setItemQuantity's or adjustItemQuantity's answer, with the item's variants and their levels. */
export async function countStock(server: Server, store: TestStore, mutation: "setItemQuantity" | "adjustItemQuantity", input: Record<string, unknown>) {
  const data = await gqlData(
    server.url,
    `mutation($input: ${mutation === "setItemQuantity" ? "SetItemQuantityInput" : "AdjustItemQuantityInput"}!) {
      ${mutation}(input: $input) { __typename ... on Item { id quantity availability variants { id quantity availability ${LEVEL_FIELDS} } } ${ERROR_FIELDS} }
    }`,
    { input },
    store.token,
  );
  return data[mutation];
}

export async function transferStock(server: Server, store: TestStore, input: Record<string, unknown>) {
  const data = await gqlData(
    server.url,
    `mutation($input: TransferStockInput!) { transferStock(input: $input) { __typename ... on Variant { ${VARIANT_FIELDS} ${LEVEL_FIELDS} } ${STOCK_ERROR_FIELDS} } }`,
    { input },
    store.token,
  );
  return data.transferStock;
}

export const PLACE_VARIANT_ORDER = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id status total lines { quantity unitPrice item { id } variant { id sku } } }
    ${STOCK_ERROR_FIELDS}
  }
}`;

export async function orderVariants(
  server: Server,
  store: TestStore,
  lines: { itemId: string; variantId?: string; quantity: number }[],
) {
  const data = await gqlData(server.url, PLACE_VARIANT_ORDER, { store: store.slug, input: { lines } });
  return data.placeOrder;
}

/** An order's lines as the admin reads them, with where their units were taken from. */
export async function allocationsOf(server: Server, store: TestStore, orderId: string) {
  const data = await gqlData(
    server.url,
    `query($id: ID!) { order(id: $id) { status lines { variant { id } quantity allocations { warehouse { id name } quantity } } } }`,
    { id: orderId },
    store.token,
  );
  return data.order as { status: string; lines: { variant: { id: string }; quantity: number; allocations: { warehouse: { id: string; name: string }; quantity: number }[] }[] };
}

/** A variant as the admin reads it, with its levels (main first). */
export async function readVariant(server: Server, store: TestStore, id: string) {
  const data = await gqlData(server.url, `query($id: ID!) { variant(id: $id) { ${VARIANT_FIELDS} ${LEVEL_FIELDS} } }`, { id }, store.token);
  return data.variant;
}

/** An item as the admin reads it, with its variants. */
export async function readItem(server: Server, store: TestStore, id: string) {
  const data = await gqlData(server.url, `query($id: ID!) { item(id: $id) { ${ITEM_WITH_VARIANTS} } }`, { id }, store.token);
  return data.item;
}

/** An item as the public storefront reads it (null when HIDDEN). */
export async function publicItem(server: Server, store: TestStore, id: string) {
  const data = await gqlData(
    server.url,
    `query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { ${ITEM_WITH_VARIANTS} } } }`,
    { slug: store.slug, id },
  );
  return data.store.item;
}

/** A stock level's quantity, straight from the database. */
export async function levelQuantity(db: Database, storeId: string, variantId: string, warehouseId: string) {
  const { rows } = await db.pool.query(
    `SELECT quantity, committed_quantity AS "committedQuantity" FROM stock_levels WHERE store_id = $1 AND variant_id = $2 AND warehouse_id = $3`,
    [storeId, variantId, warehouseId],
  );
  return rows[0]?.quantity as number | undefined;
}

/** How many rows of each kind the store has: a refused request leaves them all as they were. */
export async function rowCounts(db: Database, storeId: string) {
  const { rows } = await db.pool.query(
    `SELECT (SELECT count(*) FROM items WHERE store_id = $1)::int AS items,
            (SELECT count(*) FROM variants WHERE store_id = $1)::int AS variants,
            (SELECT count(*) FROM stock_levels WHERE store_id = $1)::int AS levels,
            (SELECT count(*) FROM stock_movements WHERE store_id = $1)::int AS movements,
            (SELECT count(*) FROM warehouses WHERE store_id = $1)::int AS warehouses,
            (SELECT count(*) FROM orders WHERE store_id = $1)::int AS orders,
            (SELECT coalesce(sum(quantity), 0) FROM stock_levels WHERE store_id = $1)::int AS units`,
    [storeId],
  );
  return rows[0] as Record<string, number>;
}

export { gql };
