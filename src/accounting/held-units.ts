import type { Tx } from "../db/transaction.ts";
import { allocationsOf } from "../orders/order-lines.ts";
import { changeStock, RETURNING_UNITS } from "../stock/stock-ledger.ts";

/**
 * Deducts from `quantity` the units the orders held as committed and releases them, from each
 * stock level they were allocated from: one movement per allocation (ORDER_INVOICED when the
 * invoice is issued, SYNC_DISABLED when sync is switched off), so `availableQuantity` never moves. The callers have ended the orders' holds in the same
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
