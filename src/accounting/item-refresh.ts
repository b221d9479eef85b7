import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { lockVariantsToLink, setLevelsFromAccounting, warehousesToCount } from "../stock/external-counts.ts";
import { readStockPolicy } from "../stock/stock-policy.ts";
import type { AccountingItem } from "./accounting-api.ts";
import { BUSY } from "./accounting-lock.ts";
import { lacksWarehouseBreakdown, levelCounts } from "./warehouse-mapping.ts";
import { openAccountingLink, type AccountingLink } from "./connection.ts";
import { syncIsOn } from "./inventory-sync.ts";

/** Background work waits this long for its store's turn before giving up to the reconciliation. */
export const BACKGROUND_WAIT_MS = 60_000;

/**
 * After a notification: re-reads the named accounting items through the API (the payload is only
 * a hint) and sets every stock level of the variants linked to them, in every warehouse mapped to
 * an accounting warehouse, to what that warehouse holds now (as a sync does). Absolute counts
 * make a duplicated, late or reordered notification harmless: it sets the same counts again,
 * which changes nothing. Runs under the store's accounting lock, so it never interleaves with a
 * sync or an invoice. Variants not linked yet are left to the next sync. Throws
 * AccountingUnavailable when the API fails.
 */
export async function refreshItems(deps: Deps, storeId: string, accountingIds: readonly string[]): Promise<void> {
  const link = await openAccountingLink(deps, storeId);
  if (!link || !(await syncIsOn(deps, storeId))) return;
  const outcome = await deps.accounting.locks.run(deps.db.pool, storeId, BACKGROUND_WAIT_MS, async () => {
    const accountingItems = await readItems(deps, link, accountingIds);
    if (accountingItems.size === 0) return;
    await inTransaction(deps.db.pool, deps.publisher, async (tx) => {
      const variants = await lockVariantsToLink(tx, storeId, { accountingIds: [...accountingItems.keys()] });
      if (!(await readStockPolicy(tx, storeId)).accountingSync) return;
      const matches = variants.map((variant) => ({ variant, accountingItem: accountingItems.get(variant.accountingId!)! }));
      const { notApplied } = await setLevelsFromAccounting(tx, storeId, levelCounts(matches, await warehousesToCount(tx, storeId)), "accounting notification");
      // the next sync reports them in its run
      if (notApplied.length > 0) deps.logger.warn({ storeId, notApplied }, "accounting counts past the stock limit were not applied");
    });
  });
  if (outcome === BUSY) deps.logger.warn({ storeId }, "accounting notification dropped: the store stayed busy; the reconciliation repairs it");
}

/** The named accounting items that still exist and track inventory, by id. */
async function readItems(deps: Deps, link: AccountingLink, accountingIds: readonly string[]) {
  const items = new Map<string, AccountingItem>();
  for (const id of accountingIds) {
    const item = await link.api.item(id);
    if (!item?.inventory) continue;
    if (lacksWarehouseBreakdown(item)) {
      deps.logger.warn({ item: id }, "accounting item lists no warehouses: its overall quantity went to the main warehouse only");
    }
    items.set(id, item);
  }
  return items;
}
