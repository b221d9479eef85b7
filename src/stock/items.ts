import { z } from "zod";
import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, rules } from "../validation.ts";
import { changeStock, changeStockSettings, type StockChange, type StockMovementReason } from "./stock-ledger.ts";

export type CreateItemInput = {
  name: string;
  type: "PRODUCT" | "SERVICE";
  price: string;
  sku?: string | null;
  trackInventory?: boolean | null;
  quantity?: number | null;
  sellWithoutStock?: boolean | null;
};

const CreateItem = z.object({
  name: rules.name,
  type: z.enum(["PRODUCT", "SERVICE"]),
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
  const tracked = valid.type === "PRODUCT" && (valid.trackInventory ?? true);
  if (!tracked && valid.quantity != null && valid.quantity !== 0) {
    return invalidInput("quantity can only be given for a product that tracks inventory", "quantity");
  }
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      // availability starts IN_STOCK; a tracked product's count below recomputes it
      `INSERT INTO items (store_id, sku, name, type, price, track_inventory, sell_without_stock)
       VALUES ($1, $2, $3, $4::"ItemType", $5::numeric, $6, $7)
       ON CONFLICT (store_id, sku) DO NOTHING
       RETURNING id`,
      [storeId, valid.sku ?? null, valid.name, valid.type, valid.price, tracked, valid.sellWithoutStock ?? false],
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
    const { rows } = await tx.query(
      `UPDATE items SET
         name = coalesce($3, name),
         price = coalesce($4::numeric, price),
         sku = CASE WHEN $5::text IS NULL THEN sku ELSE nullif($5::text, '') END,
         updated_at = now()
       WHERE store_id = $1 AND id = $2 RETURNING id`,
      [storeId, valid.id, valid.name ?? null, valid.price ?? null, valid.sku ?? null],
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
  const { rows } = await tx.query(
    `SELECT i.type, i.track_inventory, i.quantity, i.sell_without_stock, s.accounting_sync
       FROM items i JOIN stores s ON s.id = i.store_id WHERE i.store_id = $1 AND i.id = $2`,
    [storeId, change.itemId],
  );
  const item = rows[0];
  if (!item) return notFound("Item", "itemId");
  if (item.type !== "PRODUCT" || !item.track_inventory) {
    return invalidInput("this item does not track inventory; turn on trackInventory first", "itemId");
  }
  if (item.accounting_sync) return managedByAccounting();
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

/** Reads an item back inside the transaction, in the shape of the Prisma `Item` model. */
export async function loadItem(tx: Tx, storeId: string, itemId: string) {
  const { rows } = await tx.query(`SELECT ${ITEM_COLUMNS} FROM items WHERE store_id = $1 AND id = $2`, [storeId, itemId]);
  return rows[0] as ItemRow;
}

export type ItemRow = {
  storeId: string;
  id: string;
  sku: string | null;
  name: string;
  type: "PRODUCT" | "SERVICE";
  price: string;
  trackInventory: boolean;
  sellWithoutStock: boolean;
  quantity: number;
  committedQuantity: number;
  availability: string;
  version: number;
  warehouseId: string | null;
  accountingId: string | null;
  createdAt: Date;
  updatedAt: Date;
};

export const ITEM_COLUMNS = `store_id AS "storeId", id, sku, name, type, price, track_inventory AS "trackInventory",
  sell_without_stock AS "sellWithoutStock", quantity, committed_quantity AS "committedQuantity", availability,
  version, warehouse_id AS "warehouseId", accounting_id AS "accountingId", created_at AS "createdAt", updated_at AS "updatedAt"`;
