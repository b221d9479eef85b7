import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Item, Variant } from "../generated/prisma/client.ts";
import type { StockMovementReason } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import {
  BulkQuantitiesRefused,
  InsufficientStockError,
  invalidInput,
  notFound,
  OperationError,
  type BulkEntryError,
} from "../errors.ts";
import { check, isRecordId, rules } from "../validation.ts";
import { loadItem } from "./items.ts";
import { tracksInventory } from "./availability.ts";
import { changeLockedStock, changeStock, lockItems, pastLimit, type RefusalReason, type StockChange, type StockRefusal } from "./stock-ledger.ts";
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
  return countRefusal(refused[0]?.reason, level.quantity, change);
}

/** A count's refusal, by stock_change()'s reason, in the terms of the count and at its field at fault. */
function countRefusal(reason: RefusalReason | undefined, quantity: number, change: StockChange): OperationError {
  const field = change.setQuantity !== undefined ? "quantity" : "delta";
  switch (reason) {
    case "NOT_TRACKED":
      return invalidInput("this item does not track inventory; turn on trackInventory first", "itemId");
    case "MANAGED_BY_ACCOUNTING":
      return managedByAccounting();
    case "STALE_QUANTITY":
      return new OperationError("STALE_QUANTITY", `the quantity is ${quantity}, not the expected ${change.expectedQuantity}; nothing was changed`, "expectedQuantity");
    default:
      return (
        (reason && pastLimit([{ change: 0, reason }], field)) ??
        invalidInput(`the quantity cannot go below zero unless the item sells without stock ("Vender sin Stock")`, field)
      );
  }
}

/** At most this many entries in one bulk count, as Shopify's inventorySetQuantities. */
export const MAX_BULK_ENTRIES = 250;

/** One entry of a bulk count: a level, its new count and, optionally, the count it must still have. */
export type BulkCountEntry = LevelInput & { quantity: number; expectedQuantity?: number | null; note?: string | null };

/** What a bulk count did: the variants it changed (each once, in the order of the entries) and how many entries changed a count. */
export type BulkQuantitiesSet = { variantIds: string[]; changed: number };

/**
 * `setItemQuantities`: the whole shop counted at once. Each entry is a setItemQuantity (a
 * variant and warehouse, a MANUAL_SET count, `expectedQuantity` as its compare-and-set), and all
 * of them apply in one transaction or none does: a refusal lists every entry at fault with its
 * index. The items are locked once, in id order (the one global lock order, as orders take
 * them), the levels read under those locks, and the counts that change written by one guarded
 * statement (stock_change(), all or nothing, which says why it refuses each entry it refuses)
 * with `note` on every movement; an entry giving the count the level already has changes
 * nothing and writes no movement.
 */
export async function setItemQuantities(
  deps: Deps,
  storeId: string,
  input: { entries: readonly BulkCountEntry[]; note?: string | null },
): Promise<BulkQuantitiesSet | BulkQuantitiesRefused | OperationError> {
  const { entries } = input;
  if (entries.length === 0 || entries.length > MAX_BULK_ENTRIES) {
    return invalidInput(`must have 1 to ${MAX_BULK_ENTRIES} entries (${entries.length} given)`, "entries");
  }
  const note = check(z.object({ note: rules.note.nullish() }), input);
  if (note instanceof OperationError) return note;
  const faults = new Map<number, Omit<BulkEntryError, "index">>();
  const fault = (index: number, error: OperationError) => faults.set(index, { code: error.code, message: error.message, field: error.field });
  entries.forEach((entry, index) => {
    const wrong = entryShapeFault(entry, note.note || null);
    if (wrong) fault(index, wrong);
  });
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const named = entries.map((entry, index) => (faults.has(index) ? null : entry));
    await lockItems(tx, storeId, [...new Set(named.flatMap((entry) => (entry ? [entry.itemId] : [])))]);
    const levels = await findLevels(tx, storeId, named);
    const byLevel = new Map<string, number[]>();
    levels.forEach((level, index) => {
      if (level instanceof OperationError) return fault(index, level);
      if (!level) return;
      const key = `${level.variantId}/${level.warehouseId}`;
      byLevel.set(key, [...(byLevel.get(key) ?? []), index]);
    });
    for (const indexes of byLevel.values()) {
      if (indexes.length < 2) continue;
      for (const index of indexes) {
        fault(index, invalidInput(`entries ${indexes.join(", ")} all count this stock level (variant and warehouse): name each level once`, "variantId"));
      }
    }
    // the entries that change a count go to stock_change(), all or nothing, which says why it
    // refuses any; one that gives the level's count changes nothing, and is refused only for what
    // does not depend on a change (untracked, managed by accounting, a stale expectedQuantity)
    const changing: { index: number; change: StockChange; quantity: number }[] = [];
    levels.forEach((level, index) => {
      if (!level || level instanceof OperationError || faults.has(index)) return;
      const entry = entries[index]!;
      const change = { variantId: level.variantId, warehouseId: level.warehouseId, setQuantity: entry.quantity, expectedQuantity: entry.expectedQuantity ?? undefined };
      if (entry.quantity !== level.quantity) return void changing.push({ index, change, quantity: level.quantity });
      const reason = unchangedRefusal(level, change);
      if (reason) fault(index, countRefusal(reason, level.quantity, change));
    });
    const changed = await changeLockedStock(
      tx,
      storeId,
      changing.map(({ change }) => change),
      { keepAvailableNonNegative: true, refuseWhenSynced: true, allOrNothing: true },
      { reason: "MANUAL_SET", note: note.note || null },
    );
    for (const refusal of changed.refused) {
      const { index, change, quantity } = changing[refusal.change]!;
      fault(index, countRefusal(refusal.reason, quantity, change));
    }
    if (faults.size > 0) {
      const errors = [...faults].map(([index, error]) => ({ index, ...error })).sort((a, b) => a.index - b.index);
      return tx.rollbackWith(new BulkQuantitiesRefused(errors));
    }
    const variantIds = [...new Set(changing.map(({ change }) => change.variantId))];
    return { variantIds, changed: changing.length };
  });
}

/** What is wrong with an entry before any lookup: its numbers, its ids, its own note. */
function entryShapeFault(entry: BulkCountEntry, note: string | null): OperationError | null {
  const valid = check(z.object({ quantity: rules.stockQuantity, expectedQuantity: rules.stockQuantity.nullish() }), entry);
  if (valid instanceof OperationError) return valid;
  if (!isRecordId(entry.itemId)) return notFound("Item", "itemId");
  if (entry.variantId != null && !isRecordId(entry.variantId)) return notFound("Variant", "variantId");
  if (entry.warehouseId != null && !isRecordId(entry.warehouseId)) return notFound("Warehouse", "warehouseId");
  // one statement writes every movement of the count, so they share the input's note
  if (entry.note != null && (entry.note.trim() || null) !== note) {
    return invalidInput("a bulk count has one note for all its movements: give it as the input's note", "note");
  }
  return null;
}

type CountedLevel = FoundLevel & { accountingSync: boolean };

/**
 * The stock level each entry names, as findLevel finds one (null where the entry is already at
 * fault), with what the guard of a count looks at; one statement for all the entries.
 */
async function findLevels(tx: Tx, storeId: string, entries: readonly (LevelInput | null)[]): Promise<(CountedLevel | OperationError | null)[]> {
  const column = (key: keyof LevelInput) => entries.map((entry) => entry?.[key] ?? null);
  const { rows } = await tx.query<{
    itemFound: boolean;
    type: Item["type"];
    trackInventory: boolean;
    accountingSync: boolean;
    variantId: string | null;
    warehouseId: string | null;
    quantity: number | null;
  }>(
    sql`SELECT i.id IS NOT NULL AS "itemFound", i.type, i.track_inventory AS "trackInventory", s.accounting_sync AS "accountingSync",
               v.id AS "variantId", l.warehouse_id AS "warehouseId", l.quantity
          FROM unnest(${column("itemId")}::uuid[], ${column("variantId")}::uuid[], ${column("warehouseId")}::uuid[])
               WITH ORDINALITY AS e(item_id, variant_id, warehouse_id, position)
          JOIN stores s ON s.id = ${storeId}::uuid
          LEFT JOIN items i ON i.store_id = s.id AND i.id = e.item_id
          LEFT JOIN variants v ON v.store_id = s.id AND v.item_id = i.id
               AND (v.id = e.variant_id OR (e.variant_id IS NULL AND v.is_default))
          LEFT JOIN stock_levels l ON l.store_id = s.id AND l.variant_id = v.id
               AND l.warehouse_id = coalesce(e.warehouse_id, (SELECT w.id FROM warehouses w WHERE w.store_id = s.id AND w.is_main))
         ORDER BY e.position`,
  );
  return rows.map((row, index) => {
    const entry = entries[index];
    if (!entry) return null;
    if (!row.itemFound) return notFound("Item", "itemId");
    if (!row.variantId) {
      return entry.variantId ? notFound("Variant", "variantId") : invalidInput("this item is sold in variants: say which one (variantId)", "variantId");
    }
    if (row.quantity === null) return notFound("Warehouse", "warehouseId");
    return {
      variantId: row.variantId,
      warehouseId: row.warehouseId!,
      quantity: row.quantity,
      accountingSync: row.accountingSync,
      item: { type: row.type, trackInventory: row.trackInventory },
    };
  });
}

/** Why stock_change() would refuse an entry that changes nothing, as it decides for a change. */
function unchangedRefusal(level: CountedLevel, change: StockChange): RefusalReason | null {
  if (!tracksInventory(level.item)) return "NOT_TRACKED";
  if (level.accountingSync) return "MANAGED_BY_ACCOUNTING";
  if (change.expectedQuantity !== undefined && level.quantity !== change.expectedQuantity) return "STALE_QUANTITY";
  return null;
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
