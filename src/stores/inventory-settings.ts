import { switchSyncOff, switchSyncOn } from "../accounting/sync-switch.ts";
import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { OperationError } from "../errors.ts";
import { recomputeStoreAvailability } from "../stock/stock-ledger.ts";

export type OutOfStockBehavior = "MARK_SOLD_OUT" | "HIDE";

export type InventorySettings = {
  storeId: string;
  outOfStockBehavior: OutOfStockBehavior;
  accountingSync: boolean;
  accountingConnected: boolean;
};

export async function loadInventorySettings(db: { query: Tx["query"] }, storeId: string) {
  const { rows } = await db.query<InventorySettings>(
    `SELECT id AS "storeId", out_of_stock_behavior AS "outOfStockBehavior", accounting_sync AS "accountingSync",
            EXISTS (SELECT 1 FROM accounting_connections c WHERE c.store_id = stores.id) AS "accountingConnected"
       FROM stores WHERE id = $1`,
    [storeId],
  );
  return rows[0]!;
}

/**
 * "Ocultar producto" / "Marcar como agotado": changing the out-of-stock behaviour recomputes the
 * availability of every item of the store at once, and subscribers hear of each item that moved.
 * Switching accounting sync on or off (src/accounting/sync-switch.ts) comes first: when switching
 * on fails (not connected, accounting unreachable), nothing at all is changed.
 */
export async function updateInventorySettings(
  deps: Deps,
  storeId: string,
  input: { outOfStockBehavior?: OutOfStockBehavior | null; accountingSync?: boolean | null },
): Promise<InventorySettings | OperationError> {
  const before = await loadInventorySettings(deps.db.pool, storeId);
  if (input.accountingSync === true && !before.accountingSync) {
    const refused = await switchSyncOn(deps, storeId);
    if (refused) return refused;
  }
  if (input.accountingSync === false && before.accountingSync) await switchSyncOff(deps, storeId);
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const current = await loadInventorySettings(tx, storeId);
    if (input.outOfStockBehavior && input.outOfStockBehavior !== current.outOfStockBehavior) {
      // Items first, in id order, then the store row: the order in which placeOrder takes them,
      // so the two never deadlock, and no order slips in with the old behaviour.
      await tx.query("SELECT 1 FROM items WHERE store_id = $1 ORDER BY id FOR UPDATE", [storeId]);
      await tx.query("UPDATE stores SET out_of_stock_behavior = $2, updated_at = now() WHERE id = $1", [
        storeId,
        input.outOfStockBehavior,
      ]);
      await recomputeStoreAvailability(tx, storeId);
    }
    return loadInventorySettings(tx, storeId);
  });
}
