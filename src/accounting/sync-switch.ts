import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { OperationError } from "../errors.ts";
import { changeStock } from "../stock/stock-ledger.ts";
import { openAccountingLink } from "./connection.ts";
import { syncInventory } from "./inventory-sync.ts";
import { subscribeToNotifications, unsubscribeFromNotifications } from "./webhook-subscriptions.ts";

/**
 * Switches accounting sync on: registers the notification subscriptions, then runs a sync whose
 * transaction also turns the switch, so the store is never "synced" with counts it has not read.
 * From then on orders commit units instead of deducting them and the store's own stock
 * mutations answer INVENTORY_MANAGED_BY_ACCOUNTING. Orders placed before keep what they took:
 * the accounting counts are taken as up to date ("asegúrate de tener el inventario actualizado").
 * Answers the reason when it could not: nothing is switched then.
 */
export async function switchSyncOn(deps: Deps, storeId: string): Promise<OperationError | null> {
  const run = await syncInventory(deps, storeId, {
    trigger: "SYNC_ENABLED",
    turnSyncOn: true,
    beforeReading: subscribeToNotifications,
  });
  if (run instanceof OperationError) return new OperationError(run.code, run.message, "accountingSync");
  if (run.status === "FAILED") {
    return new OperationError("ACCOUNTING_UNAVAILABLE", `sync stays off: the first sync failed: ${run.error}`, "accountingSync");
  }
  return null;
}

/**
 * Switches accounting sync off: the store manages its stock again. In one transaction, every open
 * order still holding committed units has them deducted from `quantity` (SYNC_DISABLED movements)
 * and becomes an ordinary deducting order, so cancelling it later gives them back as usual, and
 * `committedQuantity` returns to 0. The notification subscriptions are then removed; the
 * accounting system being down does not keep the store from switching (a notification that still
 * arrives is ignored while sync is off).
 */
export async function switchSyncOff(deps: Deps, storeId: string): Promise<void> {
  await inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    // Items first, in id order, then the store row: the order in which placeOrder takes them.
    await tx.query("SELECT 1 FROM items WHERE store_id = $1 ORDER BY id FOR UPDATE", [storeId]);
    const { rows } = await tx.query("SELECT accounting_sync FROM stores WHERE id = $1 FOR UPDATE", [storeId]);
    if (!rows[0].accounting_sync) return;
    await tx.query("UPDATE stores SET accounting_sync = false, updated_at = now() WHERE id = $1", [storeId]);
    await deductCommittedOrders(tx, storeId);
  });
  const link = await openAccountingLink(deps, storeId);
  if (!link) return;
  await unsubscribeFromNotifications(link).catch((error: Error) =>
    deps.logger.warn({ storeId, err: error }, "could not remove the accounting webhook subscriptions"),
  );
}

async function deductCommittedOrders(tx: Tx, storeId: string) {
  const { rows: orders } = await tx.query<{ id: string }>(
    `UPDATE orders SET holds_committed = false, updated_at = now()
      WHERE store_id = $1 AND holds_committed AND invoice_accounting_id IS NULL AND status <> 'CANCELLED'
      RETURNING id`,
    [storeId],
  );
  const { rows: lines } = await tx.query<{ orderId: string; itemId: string; quantity: number }>(
    `SELECT order_id AS "orderId", item_id AS "itemId", quantity FROM order_lines
      WHERE store_id = $1 AND order_id = ANY($2::uuid[]) AND stock_taken`,
    [storeId, orders.map((order) => order.id)],
  );
  for (const order of orders) {
    await changeStock(
      tx,
      storeId,
      lines
        .filter((line) => line.orderId === order.id)
        .map((line) => ({ itemId: line.itemId, addQuantity: -line.quantity, addCommitted: -line.quantity })),
      { keepAvailableNonNegative: false, refuseWhenSynced: false, onlyTracked: false },
      { reason: "SYNC_DISABLED", orderId: order.id },
    );
  }
}
