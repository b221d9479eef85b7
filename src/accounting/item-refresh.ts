import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { lockStoreItemRecords } from "../stock/store-items.ts";
import { readStoreStockSettings } from "../stock/store-stock-settings.ts";
import { BUSY } from "./accounting-lock.ts";
import { lacksWarehouseBreakdown, quantityInWarehouse, setCountsFromAccounting } from "./accounting-stock.ts";
import { openAccountingLink, type AccountingLink } from "./connection.ts";
import { syncIsOn } from "./inventory-sync.ts";

/** Background work waits this long for its store's turn before giving up to the reconciliation. */
export const BACKGROUND_WAIT_MS = 60_000;

/**
 * After a notification: re-reads the named accounting items through the API (the payload is only
 * a hint) and sets each linked store item to what the main warehouse holds now. Absolute counts
 * make a duplicated, late or reordered notification harmless: it sets the same count again, which
 * changes nothing. Runs under the store's accounting lock, so it never interleaves with a sync or
 * an invoice. Items not linked yet are left to the next sync. Throws AccountingUnavailable when
 * the API fails.
 */
export async function refreshItems(deps: Deps, storeId: string, accountingIds: readonly string[]): Promise<void> {
  const link = await openAccountingLink(deps, storeId);
  if (!link || !(await syncIsOn(deps, storeId))) return;
  const outcome = await deps.accounting.locks.run(deps.db.pool, storeId, BACKGROUND_WAIT_MS, async () => {
    const main = await deps.db.prisma.warehouse.findFirst({ where: { storeId, isMain: true }, select: { id: true, accountingId: true } });
    if (!main?.accountingId) return;
    const counts = await readCounts(deps, link, accountingIds, main.accountingId);
    await inTransaction(deps.db.pool, deps.publisher, async (tx) => {
      const items = await lockStoreItemRecords(tx, storeId, { accountingIds: [...counts.keys()] });
      if (!(await readStoreStockSettings(tx, storeId)).accountingSync) return;
      const byItem = new Map(items.map((item) => [item.id, counts.get(item.accountingId!)!]));
      await setCountsFromAccounting(tx, storeId, items, byItem, "accounting notification", main.id);
    });
  });
  if (outcome === BUSY) deps.logger.warn({ storeId }, "accounting notification dropped: the store stayed busy; the reconciliation repairs it");
}

/** The main-warehouse count of each accounting item that still exists and tracks inventory. */
async function readCounts(deps: Deps, link: AccountingLink, accountingIds: readonly string[], warehouseId: string) {
  const counts = new Map<string, number>();
  for (const id of accountingIds) {
    const item = await link.api.item(id);
    if (!item) continue;
    if (lacksWarehouseBreakdown(item)) deps.logger.warn({ item: id }, "accounting item lists no warehouses: its overall quantity was used");
    const quantity = quantityInWarehouse(item, warehouseId);
    if (quantity !== null) counts.set(id, quantity);
  }
  return counts;
}
