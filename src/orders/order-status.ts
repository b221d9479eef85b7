import type { Deps } from "../deps.ts";
import { tryTransactionLock } from "../db/advisory-lock.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { notFound, OperationError } from "../errors.ts";
import { changeStock } from "../stock/stock-ledger.ts";
import { isRecordId } from "../validation.ts";
import { orderInvoicingKey } from "./order-locks.ts";
import { ORDER_COLUMNS, type OrderRow, type OrderStatus } from "./order-row.ts";

/** "Cambiar estado": where each status may go. DELIVERED and CANCELLED are final. */
const NEXT_STATUSES: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ["CONFIRMED", "CANCELLED"],
  CONFIRMED: ["SHIPPED", "CANCELLED"],
  SHIPPED: ["DELIVERED", "CANCELLED"],
  DELIVERED: [],
  CANCELLED: [],
};

/**
 * Moves an order to `status`. The order row is locked first, so of two racing cancellations one
 * restores the stock and the other finds the order already CANCELLED (a no-op success).
 * Cancelling ("Anulado") gives back exactly what the order took, in the same transaction.
 */
export async function changeOrderStatus(
  deps: Deps,
  storeId: string,
  input: { orderId: string; status: OrderStatus },
): Promise<OrderRow | OperationError> {
  if (!isRecordId(input.orderId)) return notFound("Order", "orderId");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const { rows } = await tx.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE store_id = $1 AND id = $2 FOR UPDATE`,
      [storeId, input.orderId],
    );
    const order = rows[0];
    if (!order) return tx.rollbackWith(notFound("Order", "orderId"));
    if (order.status === input.status) return order;
    if (!NEXT_STATUSES[order.status].includes(input.status)) {
      return tx.rollbackWith(
        new OperationError(
          "INVALID_STATUS_TRANSITION",
          `an order that is ${order.status} cannot become ${input.status}`,
          "status",
        ),
      );
    }
    if (input.status === "CANCELLED") {
      const refusal = await whyNotCancellable(tx, order);
      if (refusal) return tx.rollbackWith(refusal);
      await restoreStock(tx, order);
    }
    const updated = await tx.query<OrderRow>(
      `UPDATE orders SET status = $3, updated_at = now() WHERE store_id = $1 AND id = $2 RETURNING ${ORDER_COLUMNS}`,
      [storeId, order.id, input.status],
    );
    return updated.rows[0]!;
  });
}

/**
 * An invoiced order is cancelled by voiding its invoice in the accounting system first; one whose
 * invoice is being issued right now (invoiceOrder holds its lock) must wait for the outcome.
 */
async function whyNotCancellable(tx: Tx, order: OrderRow): Promise<OperationError | null> {
  if (order.invoiceAccountingId) {
    return new OperationError(
      "INVALID_STATUS_TRANSITION",
      "this order has an invoice: void it in the accounting system before cancelling",
      "status",
    );
  }
  if (!(await tryTransactionLock(tx, orderInvoicingKey(order.id)))) {
    return new OperationError("INVALID_STATUS_TRANSITION", "this order's invoice is being issued right now; try again in a moment", "status");
  }
  return null;
}

/**
 * Gives back what the order's lines took: units deducted return to `quantity` (ORDER_CANCELLED
 * movements); units only committed while accounting sync was on are released.
 */
async function restoreStock(tx: Tx, order: OrderRow) {
  const { rows: lines } = await tx.query<{ itemId: string; quantity: number }>(
    `SELECT item_id AS "itemId", quantity FROM order_lines WHERE store_id = $1 AND order_id = $2 AND stock_taken`,
    [order.storeId, order.id],
  );
  await changeStock(
    tx,
    order.storeId,
    lines.map((line) =>
      order.holdsCommitted
        ? { itemId: line.itemId, addCommitted: -line.quantity }
        : { itemId: line.itemId, addQuantity: line.quantity },
    ),
    { keepAvailableNonNegative: false, refuseWhenSynced: false, onlyTracked: false },
    { reason: "ORDER_CANCELLED", orderId: order.id },
  );
}
