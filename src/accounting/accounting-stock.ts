import type { Tx } from "../db/transaction.ts";
import type { Logger } from "../logger.ts";
import { changeStock } from "../stock/stock-ledger.ts";
import { AccountingUnavailable, type AccountingItem, type AccountingWarehouse } from "./accounting-api.ts";

/**
 * How the accounting system's stock becomes the store's: which warehouse is the main one, what an
 * accounting item holds there, and the ACCOUNTING_SYNC write of those counts.
 */

/** The main warehouse ("bodega principal"): the default one; else the first active one; else the first. */
export function pickMainWarehouse(warehouses: readonly AccountingWarehouse[], logger: Logger): AccountingWarehouse {
  if (warehouses.length === 0) throw new AccountingUnavailable("the accounting system lists no warehouse");
  if (warehouses.every((warehouse) => warehouse.isDefault === undefined)) {
    logger.info("accounting warehouses carry no isDefault: the first active one is the main warehouse");
  }
  const active = warehouses.filter((warehouse) => !warehouse.status || warehouse.status === "active");
  return (
    active.find((warehouse) => warehouse.isDefault) ??
    warehouses.find((warehouse) => warehouse.isDefault) ??
    active[0] ??
    warehouses[0]!
  );
}

/**
 * What an accounting item holds in `warehouseId`, in whole units (a fractional count is rounded
 * down: the store sells whole units only). Null for an item that does not track inventory. When
 * the item lists no warehouses (the doc's assumed case) its overall available quantity is used.
 */
export function quantityInWarehouse(item: AccountingItem, warehouseId: string): number | null {
  if (!item.inventory) return null;
  const perWarehouse = item.inventory.warehouses;
  const quantity = perWarehouse
    ? (perWarehouse.find((warehouse) => warehouse.id === warehouseId)?.availableQuantity ?? 0)
    : (item.inventory.availableQuantity ?? 0);
  return Math.floor(quantity);
}

/** Whether `quantityInWarehouse` had to fall back to the item's overall quantity. */
export const lacksWarehouseBreakdown = (item: AccountingItem) => Boolean(item.inventory && !item.inventory.warehouses);

export type StockedStoreItem = { id: string; quantity: number; tracked: boolean };

/**
 * Sets each tracked item to the count the accounting system gave for it (absolute values, so a
 * repeated or late reading cannot add up twice), one ACCOUNTING_SYNC movement per item whose count
 * differs. The items must already be locked by the caller's transaction. Returns how many changed.
 */
export async function setCountsFromAccounting(
  tx: Tx,
  storeId: string,
  items: readonly StockedStoreItem[],
  counts: ReadonlyMap<string, number>,
  note: string,
): Promise<number> {
  const changes = items
    .filter((item) => item.tracked && counts.has(item.id) && counts.get(item.id) !== item.quantity)
    .map((item) => ({ itemId: item.id, setQuantity: counts.get(item.id)! }));
  const changed = await changeStock(
    tx,
    storeId,
    changes,
    { keepAvailableNonNegative: false, refuseWhenSynced: false },
    { reason: "ACCOUNTING_SYNC", note },
  );
  return changed.length;
}

/** Locks the store's items in id order (the order every stock change takes them) and reads them. */
export async function lockStoreItems(tx: Tx, storeId: string, onlyAccountingIds?: readonly string[]) {
  const { rows } = await tx.query<{
    id: string;
    sku: string | null;
    accountingId: string | null;
    warehouseId: string | null;
    quantity: number;
    tracked: boolean;
  }>(
    `SELECT id, sku, accounting_id AS "accountingId", warehouse_id AS "warehouseId", quantity,
            type = 'PRODUCT' AND track_inventory AS tracked
       FROM items WHERE store_id = $1 AND ($2::text[] IS NULL OR accounting_id = ANY($2::text[]))
      ORDER BY id FOR UPDATE`,
    [storeId, onlyAccountingIds ?? null],
  );
  return rows;
}
