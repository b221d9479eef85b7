import { Prisma, type Order } from "../generated/prisma/client.ts";
import type { OrderStatus } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { holdLeaseInTransaction } from "../db/lease.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { notFound, OperationError } from "../errors.ts";
import { changeStock, pastLimit, RETURNING_UNITS } from "../stock/stock-ledger.ts";
import { isRecordId } from "../validation.ts";
import { allocationsOf, lockItemsOfOrder } from "./order-lines.ts";
import { orderInvoicingKey } from "./order-locks.ts";

/** "Cambiar estado": where each status may go. DELIVERED and CANCELLED are final. */
const NEXT_STATUSES: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ["CONFIRMED", "CANCELLED"],
  CONFIRMED: ["SHIPPED", "CANCELLED"],
  SHIPPED: ["DELIVERED", "CANCELLED"],
  DELIVERED: [],
  CANCELLED: [],
};

const ORDER = columnsOf(Prisma.OrderScalarFieldEnum);

/**
 * Moves an order to `status`. The order row is locked before it is read, so of two racing
 * cancellations one restores the stock and the other finds the order already CANCELLED (a no-op
 * success). Cancelling ("Anulado") gives back exactly what the order took, in the same
 * transaction, with the order's items locked before the order row (the global lock order).
 */
export async function changeOrderStatus(
  deps: Deps,
  storeId: string,
  input: { orderId: string; status: OrderStatus },
): Promise<Order | OperationError> {
  if (!isRecordId(input.orderId)) return notFound("Order", "orderId");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    if (input.status === "CANCELLED") await lockItemsOfOrder(tx, storeId, input.orderId);
    const { rows } = await tx.query<Order>(
      sql`SELECT ${ORDER} FROM orders WHERE store_id = ${storeId}::uuid AND id = ${input.orderId}::uuid FOR UPDATE`,
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
      const restored = await restoreStock(tx, order);
      if (restored) return tx.rollbackWith(restored);
    }
    const updated = await tx.query<Order>(
      sql`UPDATE orders SET status = ${input.status}::"OrderStatus", updated_at = now()
           WHERE store_id = ${storeId}::uuid AND id = ${order.id}::uuid RETURNING ${ORDER}`,
    );
    return updated.rows[0]!;
  });
}

/**
 * An invoiced order is cancelled by voiding its invoice in the accounting system first; one whose
 * invoice is being issued right now (its invoicing lease is held) must wait for the outcome. An
 * order that is not being invoiced stays so until this transaction ends.
 */
async function whyNotCancellable(tx: Tx, order: Order): Promise<OperationError | null> {
  if (order.invoiceAccountingId) {
    return new OperationError(
      "INVALID_STATUS_TRANSITION",
      "this order has an invoice: void it in the accounting system before cancelling",
      "status",
    );
  }
  if (!(await holdLeaseInTransaction(tx, order.storeId, orderInvoicingKey(order.id)))) {
    return new OperationError("INVALID_STATUS_TRANSITION", "this order's invoice is being issued right now; try again in a moment", "status");
  }
  return null;
}

/**
 * Gives back what the order's lines took, each allocation to its warehouse: units deducted return
 * to `quantity` (ORDER_CANCELLED movements); units only committed while accounting sync was on
 * are released. All of it or nothing: INVALID_INPUT when a count would then pass the limit (the
 * merchant recounted it up to the cap meanwhile).
 */
async function restoreStock(tx: Tx, order: Order): Promise<OperationError | null> {
  const allocations = await allocationsOf(tx, order.storeId, [order.id]);
  const { refused } = await changeStock(
    tx,
    order.storeId,
    allocations.map(({ variantId, warehouseId, quantity }) =>
      order.holdsCommitted ? { variantId, warehouseId, addCommitted: -quantity } : { variantId, warehouseId, addQuantity: quantity },
    ),
    { ...RETURNING_UNITS, allOrNothing: true },
    { reason: "ORDER_CANCELLED", orderId: order.id },
  );
  return pastLimit(refused, "status", "giving this order's units back");
}
