import type { Store } from "../generated/prisma/client.ts";
import type { OutOfStockBehavior } from "../generated/prisma/enums.ts";
import { sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";
import { recomputeStoreAvailability } from "./stock-ledger.ts";
import { setStoreLowStockThreshold } from "./low-stock.ts";
import { lockStoreItems } from "./store-items.ts";

/**
 * The store's stock policy, the two settings that every stock statement reads (the merchant sets
 * them in "Configuración de inventario", src/stores/inventory-settings.ts): whether its accounting system manages
 * the stock (`accountingSync`: orders commit units instead of deducting them, manual counts are
 * refused) and what an item with nothing available becomes (`outOfStockBehavior`). They change
 * only under the locks of the store's items, taken first and in id order, then the store row: the
 * order in which the checkout takes them, so the two never deadlock and no order slips in under
 * the old setting.
 */

export type StockPolicy = Pick<Store, "accountingSync" | "outOfStockBehavior">;

/**
 * Reads the store's stock settings in the transaction. They change only under every item lock of
 * the store, so a transaction that holds the locks of the items it works on (some or all) reads
 * them as they stay until it commits, without locking the store row the checkout writes.
 */
export async function readStockPolicy(tx: Tx, storeId: string): Promise<StockPolicy> {
  const { rows } = await tx.query<StockPolicy>(
    sql`SELECT accounting_sync AS "accountingSync", out_of_stock_behavior AS "outOfStockBehavior"
          FROM stores WHERE id = ${storeId}::uuid`,
  );
  if (!rows[0]) throw new Error(`no store ${storeId}`);
  return rows[0];
}

/**
 * Hands the store's stock to its accounting system, or takes it back. The caller holds every item
 * lock of the store (lockStoreItems) and does in the same transaction what the switch implies for
 * the units orders hold.
 */
export async function setManagedByAccounting(tx: Tx, storeId: string, managed: boolean): Promise<void> {
  await tx.query(sql`UPDATE stores SET accounting_sync = ${managed}, updated_at = now() WHERE id = ${storeId}::uuid`);
}

/**
 * "Ocultar producto" / "Marcar como agotado": changes what an item with nothing available becomes
 * and recomputes the availability of every item of the store at once; subscribers hear of each
 * item that moved. Takes the store's item locks itself.
 */
export async function changeOutOfStockBehavior(tx: Tx, storeId: string, behavior: OutOfStockBehavior): Promise<void> {
  await lockStoreItems(tx, storeId);
  const { rowCount } = await tx.query(
    sql`UPDATE stores SET out_of_stock_behavior = ${behavior}::"OutOfStockBehavior", updated_at = now()
         WHERE id = ${storeId}::uuid AND out_of_stock_behavior <> ${behavior}::"OutOfStockBehavior"`,
  );
  if (rowCount) await recomputeStoreAvailability(tx, storeId);
}

/**
 * The store's low-stock threshold (null: none): every variant that follows it and already meets
 * it records an alert, all in this transaction. Takes the store's item locks itself.
 */
export async function changeLowStockThreshold(tx: Tx, storeId: string, threshold: number | null): Promise<void> {
  await lockStoreItems(tx, storeId);
  await setStoreLowStockThreshold(tx, storeId, threshold);
}
