import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Item, Variant } from "../generated/prisma/client.ts";
import type { StockMovementReason } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { InsufficientStockError, invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, rules } from "../validation.ts";
import { loadItem } from "./items.ts";
import { changeStock, lockItems, pastLimit, type StockChange, type StockRefusal } from "./stock-ledger.ts";
import { loadVariant, mainWarehouseId, managedByAccounting } from "./variants.ts";

/**
 * The merchant's own counts: "Registrar cantidad disponible" (set), adjustments, and transfers
 * between warehouses. Each names a variant (an item without options: its default one) and a
 * warehouse (default: the main one), and changes that stock level.
 */

/** Which level a count is about, as the caller names it. */
type LevelInput = { itemId: string; variantId?: string | null; warehouseId?: string | null };

/**
 * Sets a level's count ("Registrar cantidad disponible") as a MANUAL_SET movement. With
 * `expectedQuantity` it is a compare-and-set of that level: when its count has moved meanwhile
 * nothing changes and the answer is STALE_QUANTITY.
 */
export async function setItemQuantity(
  deps: Deps,
  storeId: string,
  input: LevelInput & { quantity: number; expectedQuantity?: number | null; note?: string | null },
): Promise<Item | OperationError> {
  const valid = check(
    z.object({ quantity: rules.stockQuantity, expectedQuantity: rules.stockQuantity.nullish(), note: rules.note.nullish() }),
    input,
  );
  if (valid instanceof OperationError) return valid;
  return changeCount(deps, storeId, input, "MANUAL_SET", valid.note, {
    setQuantity: valid.quantity,
    expectedQuantity: valid.expectedQuantity ?? undefined,
  });
}

/** Adds `delta` (negative to remove) to a level's count as a MANUAL_ADJUSTMENT movement. */
export async function adjustItemQuantity(
  deps: Deps,
  storeId: string,
  input: LevelInput & { delta: number; note?: string | null },
): Promise<Item | OperationError> {
  const valid = check(z.object({ delta: rules.delta, note: rules.note.nullish() }), input);
  if (valid instanceof OperationError) return valid;
  return changeCount(deps, storeId, input, "MANUAL_ADJUSTMENT", valid.note, { addQuantity: valid.delta });
}

async function changeCount(
  deps: Deps,
  storeId: string,
  level: LevelInput,
  reason: StockMovementReason,
  note: string | null | undefined,
  change: Omit<StockChange, "variantId" | "warehouseId">,
): Promise<Item | OperationError> {
  if (!isRecordId(level.itemId)) return notFound("Item", "itemId");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    await lockItems(tx, storeId, [level.itemId]);
    const target = await findLevel(tx, storeId, level);
    if (target instanceof OperationError) return tx.rollbackWith(target);
    const full = { ...change, variantId: target.variantId, warehouseId: target.warehouseId };
    const changed = await changeStock(tx, storeId, [full], { keepAvailableNonNegative: true, refuseWhenSynced: true }, { reason, note: note || null });
    if (changed.levels === 0) return tx.rollbackWith(whyCountRefused(target, full, changed.refused));
    return loadItem(tx, storeId, level.itemId);
  });
}

type FoundLevel = { variantId: string; warehouseId: string; quantity: number; item: Pick<Item, "type" | "trackInventory"> };

/**
 * The stock level a count names: the item's variant (required when it has options) in the
 * warehouse (default: the main one). NOT_FOUND or INVALID_INPUT at the field at fault.
 */
async function findLevel(tx: Tx, storeId: string, level: LevelInput): Promise<FoundLevel | OperationError> {
  if (level.variantId != null && !isRecordId(level.variantId)) return notFound("Variant", "variantId");
  if (level.warehouseId != null && !isRecordId(level.warehouseId)) return notFound("Warehouse", "warehouseId");
  const { rows } = await tx.query<{ hasOptions: boolean; type: Item["type"]; trackInventory: boolean; variantId: string | null }>(
    sql`SELECT jsonb_array_length(i.options) > 0 AS "hasOptions", i.type, i.track_inventory AS "trackInventory",
               (SELECT v.id FROM variants v
                 WHERE v.store_id = i.store_id AND v.item_id = i.id
                   AND (v.id = ${level.variantId ?? null}::uuid OR (${level.variantId ?? null}::uuid IS NULL AND v.is_default))) AS "variantId"
          FROM items i WHERE i.store_id = ${storeId}::uuid AND i.id = ${level.itemId}::uuid`,
  );
  const item = rows[0];
  if (!item) return notFound("Item", "itemId");
  if (!item.variantId) {
    return level.variantId ? notFound("Variant", "variantId") : invalidInput("this item is sold in variants: say which one (variantId)", "variantId");
  }
  const warehouseId = level.warehouseId ?? (await mainWarehouseId(tx, storeId));
  const found = await tx.query<{ quantity: number }>(
    sql`SELECT quantity FROM stock_levels
         WHERE store_id = ${storeId}::uuid AND variant_id = ${item.variantId}::uuid AND warehouse_id = ${warehouseId}::uuid`,
  );
  if (!found.rows[0]) return notFound("Warehouse", "warehouseId");
  return { variantId: item.variantId, warehouseId, quantity: found.rows[0].quantity, item };
}

/** Explains a refused manual count change by the reason stock_change() gave, at the field at fault. */
function whyCountRefused(level: FoundLevel, change: StockChange, refused: readonly StockRefusal[]): OperationError {
  const field = change.setQuantity !== undefined ? "quantity" : "delta";
  switch (refused[0]?.reason) {
    case "NOT_TRACKED":
      return invalidInput("this item does not track inventory; turn on trackInventory first", "itemId");
    case "MANAGED_BY_ACCOUNTING":
      return managedByAccounting();
    case "STALE_QUANTITY":
      return new OperationError(
        "STALE_QUANTITY",
        `the quantity is ${level.quantity}, not the expected ${change.expectedQuantity}; nothing was changed`,
        "expectedQuantity",
      );
    default:
      return (
        pastLimit(refused, field) ??
        invalidInput(`the quantity cannot go below zero unless the item sells without stock ("Vender sin Stock")`, field)
      );
  }
}

const TransferInput = z.object({
  variantId: z.string(),
  fromWarehouseId: z.string(),
  toWarehouseId: z.string(),
  quantity: z.number().int().min(1, "must be at least 1").max(1_000_000_000),
  note: rules.note.nullish(),
});

/**
 * `transferStock`: moves units of a variant from one warehouse of the store to another in one
 * statement, as two TRANSFER movements sharing a transfer id: both sides or neither (SPEC
 * section 8). It never takes the source below zero, "Vender sin Stock" or not: a short source is
 * InsufficientStockError with what it has; a target (or a sum) the units would take past the
 * limit is INVALID_INPUT at quantity.
 */
export async function transferStock(
  deps: Deps,
  storeId: string,
  input: z.input<typeof TransferInput>,
): Promise<Variant | InsufficientStockError | OperationError> {
  const valid = check(TransferInput, input);
  if (valid instanceof OperationError) return valid;
  for (const field of ["variantId", "fromWarehouseId", "toWarehouseId"] as const) {
    if (!isRecordId(valid[field])) return notFound(field === "variantId" ? "Variant" : "Warehouse", field);
  }
  if (valid.fromWarehouseId === valid.toWarehouseId) return invalidInput("the two warehouses must differ", "toWarehouseId");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const { rows } = await tx.query<{ itemId: string; tracked: boolean }>(
      sql`SELECT v.item_id AS "itemId", (i.type = 'PRODUCT' AND i.track_inventory) AS tracked
            FROM variants v JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
           WHERE v.store_id = ${storeId}::uuid AND v.id = ${valid.variantId}::uuid`,
    );
    const variant = rows[0];
    if (!variant) return tx.rollbackWith(notFound("Variant", "variantId"));
    if (!variant.tracked) return tx.rollbackWith(invalidInput("this item does not track inventory", "variantId"));
    await lockItems(tx, storeId, [variant.itemId]);
    const levels = await tx.query<{ warehouseId: string; available: number }>(
      sql`SELECT warehouse_id AS "warehouseId", quantity - committed_quantity AS available FROM stock_levels
           WHERE store_id = ${storeId}::uuid AND variant_id = ${valid.variantId}::uuid
             AND warehouse_id = ANY(${[valid.fromWarehouseId, valid.toWarehouseId]}::uuid[])`,
    );
    const source = levels.rows.find((level) => level.warehouseId === valid.fromWarehouseId);
    if (!source) return tx.rollbackWith(notFound("Warehouse", "fromWarehouseId"));
    if (!levels.rows.some((level) => level.warehouseId === valid.toWarehouseId)) return tx.rollbackWith(notFound("Warehouse", "toWarehouseId"));
    const movement = { reason: "TRANSFER" as const, transferId: randomUUID(), note: valid.note || null };
    // one statement, both sides or neither: the source never goes below zero ("Vender sin Stock" or
    // not), the target takes whatever comes in, and neither may pass the limit
    const moved = await changeStock(
      tx,
      storeId,
      [
        { variantId: valid.variantId, warehouseId: valid.fromWarehouseId, addQuantity: -valid.quantity },
        { variantId: valid.variantId, warehouseId: valid.toWarehouseId, addQuantity: valid.quantity },
      ],
      { keepAvailableNonNegative: true, neverBelowZero: true, refuseWhenSynced: true, allOrNothing: true },
      movement,
    );
    if (moved.levels !== 2) {
      const reason = moved.refused[0]?.reason;
      if (reason === "MANAGED_BY_ACCOUNTING") return tx.rollbackWith(managedByAccounting());
      const beyond = pastLimit(moved.refused, "quantity", "this transfer");
      if (beyond) return tx.rollbackWith(beyond);
      if (reason !== "BELOW_ZERO") throw new Error(`transfer refused under lock: ${JSON.stringify(moved.refused)}`);
      return tx.rollbackWith(
        new InsufficientStockError([
          { itemId: variant.itemId, variantId: valid.variantId, requested: valid.quantity, available: Math.max(0, source.available) },
        ]),
      );
    }
    return loadVariant(tx, storeId, valid.variantId);
  });
}
