import type { Logger } from "../logger.ts";
import type { LevelCount, VariantToLink, WarehouseToCount } from "../stock/external-counts.ts";
import { MAX_ABS_QUANTITY } from "../validation.ts";
import { AccountingUnavailable, type AccountingItem, type AccountingWarehouse } from "./accounting-api.ts";

/**
 * Which of the accounting system's warehouses is which of the store's, and what each stock level
 * of a matched variant takes from its accounting item.
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

/** Whether an accounting item gives only its overall quantity (the doc's assumed case), not one per warehouse. */
export const lacksWarehouseBreakdown = (item: AccountingItem) => Boolean(item.inventory && !item.inventory.warehouses);

/**
 * What each stock level of the matched variants takes from its accounting item (SPEC section
 * 8): a level in a warehouse carrying an accounting id takes that accounting warehouse's
 * quantity (0 when the item lists none there); levels in the store's own warehouses (no
 * accounting id) are left out. An accounting item without a warehouse breakdown gives its overall
 * quantity to the main warehouse only. Counts are whole units (a fraction is rounded down: the
 * store sells whole units) within the store's bounds. Variants of items that do not track
 * inventory, and accounting items that do not (services), give nothing.
 */
export function levelCounts(
  matches: readonly { variant: Pick<VariantToLink, "id" | "tracked">; accountingItem: AccountingItem }[],
  warehouses: readonly WarehouseToCount[],
): LevelCount[] {
  const main = warehouses.find((warehouse) => warehouse.isMain);
  const counts: LevelCount[] = [];
  for (const { variant, accountingItem } of matches) {
    const inventory = accountingItem.inventory;
    if (!variant.tracked || !inventory) continue;
    const breakdown = inventory.warehouses;
    if (!breakdown) {
      if (main) counts.push({ variantId: variant.id, warehouseId: main.id, quantity: wholeUnits(inventory.availableQuantity ?? 0) });
      continue;
    }
    for (const warehouse of warehouses) {
      if (warehouse.accountingId === null) continue;
      const held = breakdown.find((entry) => entry.id === warehouse.accountingId)?.availableQuantity ?? 0;
      counts.push({ variantId: variant.id, warehouseId: warehouse.id, quantity: wholeUnits(held) });
    }
  }
  return counts;
}

function wholeUnits(quantity: number): number {
  if (Number.isNaN(quantity)) return 0;
  return Math.max(-MAX_ABS_QUANTITY, Math.min(MAX_ABS_QUANTITY, Math.floor(quantity)));
}
