import type { Tx } from "../db/transaction.ts";
import { sql } from "../db/sql.ts";

/**
 * Locks the items of the order's lines in id order, before the order row: the one global lock
 * order takes a store's items first (src/stock/stock-ledger.ts), as the checkout does. An order's
 * lines never change once placed, so they are read before any lock is held.
 */
export async function lockItemsOfOrder(tx: Tx, storeId: string, orderId: string): Promise<void> {
  await tx.query(
    sql`SELECT 1 FROM items WHERE store_id = ${storeId}::uuid
          AND id IN (SELECT item_id FROM order_lines WHERE store_id = ${storeId}::uuid AND order_id = ${orderId}::uuid)
        ORDER BY id FOR UPDATE`,
  );
}

/** Units an order line took from one warehouse's stock of one variant. */
export type Allocation = { orderId: string; itemId: string; variantId: string; warehouseId: string; quantity: number };

/**
 * Where the orders' units were taken from (the allocations of their lines that took stock:
 * tracked products at the time): what cancelling gives back, what an invoice deducts from the
 * committed units, and what switching accounting sync off deducts. In a stable order.
 */
export async function allocationsOf(tx: Tx, storeId: string, orderIds: readonly string[]): Promise<Allocation[]> {
  const { rows } = await tx.query<Allocation>(
    sql`SELECT a.order_id AS "orderId", l.item_id AS "itemId", a.variant_id AS "variantId", a.warehouse_id AS "warehouseId", a.quantity
          FROM order_line_allocations a
          JOIN order_lines l ON l.store_id = a.store_id AND l.order_id = a.order_id AND l.variant_id = a.variant_id
         WHERE a.store_id = ${storeId}::uuid AND a.order_id = ANY(${orderIds}::uuid[]) AND l.stock_taken
         ORDER BY a.order_id, a.variant_id, a.warehouse_id`,
  );
  return rows;
}
