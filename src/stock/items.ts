import { z } from "zod";
import { Prisma, type Item } from "../generated/prisma/client.ts";
import { ItemType, type StockMovementReason } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, rules } from "../validation.ts";
import { tracksInventory } from "./availability.ts";
import { changeStock, changeStockSettings, type StockChange } from "./stock-ledger.ts";

export type CreateItemInput = {
  name: string;
  type: ItemType;
  price: string;
  sku?: string | null;
  trackInventory?: boolean | null;
  quantity?: number | null;
  sellWithoutStock?: boolean | null;
};

const CreateItem = z.object({
  name: rules.name,
  type: z.enum(ItemType),
  price: rules.price,
  sku: rules.sku.nullish(),
  trackInventory: z.boolean().nullish(),
  quantity: rules.initialQuantity.nullish(),
  sellWithoutStock: z.boolean().nullish(),
});

/**
 * Creates an item. A product tracks inventory unless told otherwise, a service never does; a
 * tracked product's first count is recorded as an INITIAL_COUNT movement.
 */
export async function createItem(deps: Pick<Deps, "db" | "publisher">, storeId: string, input: CreateItemInput) {
  const valid = check(CreateItem, input);
  if (valid instanceof OperationError) return valid;
  const tracked = tracksInventory({ type: valid.type, trackInventory: valid.trackInventory ?? true });
  if (!tracked && valid.quantity != null && valid.quantity !== 0) {
    return invalidInput("quantity can only be given for a product that tracks inventory", "quantity");
  }
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      // availability starts IN_STOCK; a tracked product's count below recomputes it
      sql`INSERT INTO items (store_id, sku, name, type, price, track_inventory, sell_without_stock)
          VALUES (${storeId}::uuid, ${valid.sku ?? null}, ${valid.name}, ${valid.type}::"ItemType", ${valid.price}::numeric,
                  ${tracked}, ${valid.sellWithoutStock ?? false})
          ON CONFLICT (store_id, sku) DO NOTHING
          RETURNING id`,
    );
    if (!rows[0]) return tx.rollbackWith(duplicateSku(valid.sku));
    const id = rows[0].id;
    if (tracked) {
      const counted = await changeStock(
        tx,
        storeId,
        [{ itemId: id, setQuantity: valid.quantity ?? 0 }],
        { keepAvailableNonNegative: false, refuseWhenSynced: (valid.quantity ?? 0) !== 0 },
        { reason: "INITIAL_COUNT" },
      );
      if (counted.length === 0) return tx.rollbackWith(managedByAccounting());
    }
    return loadItem(tx, storeId, id);
  });
}

export type UpdateItemInput = {
  id: string;
  name?: string | null;
  price?: string | null;
  sku?: string | null;
  trackInventory?: boolean | null;
  sellWithoutStock?: boolean | null;
};

const UpdateItem = z.object({
  id: z.string(),
  name: rules.name.nullish(),
  price: rules.price.nullish(),
  // an empty SKU clears it
  sku: z.union([z.literal(""), rules.sku]).nullish(),
  trackInventory: z.boolean().nullish(),
  sellWithoutStock: z.boolean().nullish(),
});

/**
 * Changes an item's description, price or stock settings. Turning "sell without stock" or
 * inventory tracking on or off recomputes availability at once and tells subscribers.
 */
export async function updateItem(deps: Deps, storeId: string, input: UpdateItemInput) {
  const valid = check(UpdateItem, input);
  if (valid instanceof OperationError) return valid;
  if (!isRecordId(valid.id)) return notFound("Item", "id");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const sku = valid.sku ?? null;
    const { rows } = await tx.query(
      sql`UPDATE items SET
            name = coalesce(${valid.name ?? null}, name),
            price = coalesce(${valid.price ?? null}::numeric, price),
            sku = CASE WHEN ${sku}::text IS NULL THEN sku ELSE nullif(${sku}::text, '') END,
            updated_at = now()
          WHERE store_id = ${storeId}::uuid AND id = ${valid.id}::uuid RETURNING id`,
    ).catch((error: { code?: string }) => {
      if (error.code === "23505") return { rows: null };
      throw error;
    });
    if (rows === null) return tx.rollbackWith(duplicateSku(valid.sku));
    if (rows.length === 0) return tx.rollbackWith(notFound("Item", "id"));
    if (valid.trackInventory != null || valid.sellWithoutStock != null) {
      await changeStockSettings(tx, storeId, valid.id, {
        trackInventory: valid.trackInventory ?? undefined,
        sellWithoutStock: valid.sellWithoutStock ?? undefined,
      });
    }
    return loadItem(tx, storeId, valid.id);
  });
}

/**
 * Sets an item's count ("Registrar cantidad disponible") as a MANUAL_SET movement. With
 * `expectedQuantity` it is a compare-and-set: when the count has moved meanwhile nothing
 * changes and the answer is STALE_QUANTITY.
 */
export async function setItemQuantity(
  deps: Deps,
  storeId: string,
  input: { itemId: string; quantity: number; expectedQuantity?: number | null; note?: string | null },
) {
  const valid = check(
    z.object({ quantity: rules.stockQuantity, expectedQuantity: rules.stockQuantity.nullish(), note: rules.note.nullish() }),
    input,
  );
  if (valid instanceof OperationError) return valid;
  return changeCount(deps, storeId, input.itemId, "MANUAL_SET", valid.note, {
    itemId: input.itemId,
    setQuantity: valid.quantity,
    expectedQuantity: valid.expectedQuantity ?? undefined,
  });
}

/** Adds `delta` (negative to remove) to an item's count as a MANUAL_ADJUSTMENT movement. */
export async function adjustItemQuantity(
  deps: Deps,
  storeId: string,
  input: { itemId: string; delta: number; note?: string | null },
) {
  const valid = check(z.object({ delta: rules.delta, note: rules.note.nullish() }), input);
  if (valid instanceof OperationError) return valid;
  return changeCount(deps, storeId, input.itemId, "MANUAL_ADJUSTMENT", valid.note, {
    itemId: input.itemId,
    addQuantity: valid.delta,
  });
}

async function changeCount(
  deps: Deps,
  storeId: string,
  itemId: string,
  reason: StockMovementReason,
  note: string | null | undefined,
  change: StockChange,
) {
  if (!isRecordId(itemId)) return notFound("Item", "itemId");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const changed = await changeStock(
      tx,
      storeId,
      [change],
      { keepAvailableNonNegative: true, refuseWhenSynced: true },
      { reason, note: note || null },
    );
    if (changed.length === 0) return tx.rollbackWith(await whyCountRefused(tx, storeId, change));
    return loadItem(tx, storeId, itemId);
  });
}

/** Explains a refused manual count change; the change itself already decided under lock. */
async function whyCountRefused(tx: Tx, storeId: string, change: StockChange): Promise<OperationError> {
  const { rows } = await tx.query<Pick<Item, "type" | "trackInventory" | "quantity"> & { accountingSync: boolean }>(
    sql`SELECT i.type, i.track_inventory AS "trackInventory", i.quantity, s.accounting_sync AS "accountingSync"
          FROM items i JOIN stores s ON s.id = i.store_id WHERE i.store_id = ${storeId}::uuid AND i.id = ${change.itemId}::uuid`,
  );
  const item = rows[0];
  if (!item) return notFound("Item", "itemId");
  if (!tracksInventory(item)) {
    return invalidInput("this item does not track inventory; turn on trackInventory first", "itemId");
  }
  if (item.accountingSync) return managedByAccounting();
  if (change.expectedQuantity !== undefined && item.quantity !== change.expectedQuantity) {
    return new OperationError(
      "STALE_QUANTITY",
      `the quantity is ${item.quantity}, not the expected ${change.expectedQuantity}; nothing was changed`,
      "expectedQuantity",
    );
  }
  const field = change.setQuantity !== undefined ? "quantity" : "delta";
  return invalidInput(
    `the quantity cannot go below zero unless the item sells without stock ("Vender sin Stock")`,
    field,
  );
}

const managedByAccounting = () =>
  new OperationError(
    "INVENTORY_MANAGED_BY_ACCOUNTING",
    "stock is managed in the accounting system while inventory sync is on",
  );

const duplicateSku = (sku: string | null | undefined) =>
  invalidInput(`another item of this store already has SKU "${sku}"`, "sku");

/** Reads an item back inside the transaction, as Prisma reads it. */
export async function loadItem(tx: Tx, storeId: string, itemId: string): Promise<Item> {
  const { rows } = await tx.query<Item>(
    sql`SELECT ${columnsOf(Prisma.ItemScalarFieldEnum)} FROM items WHERE store_id = ${storeId}::uuid AND id = ${itemId}::uuid`,
  );
  return rows[0]!;
}
