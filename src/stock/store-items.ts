import { sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";

/**
 * Locks every item of the store in id order (the order every stock change takes them), before a
 * change of the store row that stock statements read (stock-policy.ts): taking items
 * first, then the store, is the order the checkout takes them, so the two never deadlock and no
 * order slips in under the old setting.
 */
export async function lockStoreItems(tx: Tx, storeId: string): Promise<void> {
  await tx.query(sql`SELECT 1 FROM items WHERE store_id = ${storeId}::uuid ORDER BY id FOR UPDATE`);
}
