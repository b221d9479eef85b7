import type { Tx } from "../db/transaction.ts";
import { sql } from "../db/sql.ts";

export type StockTakingLine = { orderId: string; itemId: string; quantity: number };

/**
 * The lines of `orderIds` whose units were taken from stock when the order was placed (tracked
 * products at the time): what cancelling gives back, what an invoice deducts from the committed
 * units, and what switching accounting sync off deducts. Item ids in ascending order per order.
 */
export async function linesThatTookStock(tx: Tx, storeId: string, orderIds: readonly string[]): Promise<StockTakingLine[]> {
  const { rows } = await tx.query<StockTakingLine>(
    sql`SELECT order_id AS "orderId", item_id AS "itemId", quantity FROM order_lines
         WHERE store_id = ${storeId}::uuid AND order_id = ANY(${orderIds}::uuid[]) AND stock_taken
         ORDER BY order_id, item_id`,
  );
  return rows;
}
