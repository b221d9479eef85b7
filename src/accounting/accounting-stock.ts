import type { Deps } from "../deps.ts";
import type { Tx } from "../db/transaction.ts";
import type { Item } from "../generated/prisma/client.ts";
import type { Logger } from "../logger.ts";
import { allocationsOf } from "../orders/order-lines.ts";
import { tracksInventory } from "../stock/availability.ts";
import { changeStock, RETURNING_UNITS } from "../stock/stock-ledger.ts";
import { defaultVariantsOf } from "../stock/store-items.ts";
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

/** The accounting id of the store's main warehouse, or null before the first sync. */
export async function mainWarehouseOf(deps: Deps, storeId: string): Promise<string | null> {
  const main = await deps.db.prisma.warehouse.findFirst({ where: { storeId, isMain: true }, select: { accountingId: true } });
  return main?.accountingId ?? null;
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

/**
 * Sets each tracked item's stock in `warehouseId` (the store's main warehouse) to the count the
 * accounting system gave for it (absolute values, so a repeated or late reading cannot add up
 * twice), one ACCOUNTING_SYNC movement per item whose count differs. The items must already be
 * locked by the caller's transaction. Returns how many changed.
 */
export async function setCountsFromAccounting(
  tx: Tx,
  storeId: string,
  items: readonly Pick<Item, "id" | "type" | "trackInventory" | "quantity">[],
  counts: ReadonlyMap<string, number>,
  note: string,
  warehouseId: string,
): Promise<number> {
  const counted = items.filter((item) => tracksInventory(item) && counts.has(item.id) && counts.get(item.id) !== item.quantity);
  const variants = await defaultVariantsOf(tx, storeId, counted.map((item) => item.id));
  const changes = counted.map((item) => ({ variantId: variants.get(item.id)!, warehouseId, setQuantity: counts.get(item.id)! }));
  const changed = await changeStock(
    tx,
    storeId,
    changes,
    { keepAvailableNonNegative: false, refuseWhenSynced: false },
    { reason: "ACCOUNTING_SYNC", note },
  );
  return changed.levels;
}

/**
 * Deducts from `quantity` the units the orders held as committed and releases them, one movement
 * per order (ORDER_INVOICED when the invoice is issued, SYNC_DISABLED when sync is switched off),
 * so `availableQuantity` never moves. The callers have ended the orders' holds in the same
 * transaction (src/orders/committed-orders.ts).
 */
export async function deductHeldUnits(
  tx: Tx,
  storeId: string,
  orderIds: readonly string[],
  movement: { reason: "ORDER_INVOICED" | "SYNC_DISABLED"; note?: string },
): Promise<void> {
  if (orderIds.length === 0) return;
  const allocations = await allocationsOf(tx, storeId, orderIds);
  for (const orderId of orderIds) {
    await changeStock(
      tx,
      storeId,
      allocations
        .filter((allocation) => allocation.orderId === orderId)
        .map(({ variantId, warehouseId, quantity }) => ({ variantId, warehouseId, addQuantity: -quantity, addCommitted: -quantity })),
      RETURNING_UNITS,
      { ...movement, orderId },
    );
  }
}
