import { sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";

/**
 * Makes the store's warehouse mirrored from accounting warehouse `accountingId` its main one
 * ("bodega principal") and places every item of the store in it, in one statement. Part of a
 * sync's transaction, with the counts read from that warehouse, so an item never shows the main
 * warehouse of one sync with the counts of another. The warehouse row must exist already.
 */
export async function makeMainWarehouse(tx: Tx, storeId: string, accountingId: string): Promise<void> {
  const { rows } = await tx.query<{ found: boolean | null }>(
    sql`WITH marked AS (
          UPDATE warehouses SET is_main = coalesce(accounting_id = ${accountingId}, false)
           WHERE store_id = ${storeId}::uuid
          RETURNING id, is_main
        ), placed AS (
          UPDATE items i SET warehouse_id = m.id, updated_at = now()
            FROM marked m
           WHERE m.is_main AND i.store_id = ${storeId}::uuid AND i.warehouse_id IS DISTINCT FROM m.id
        )
        SELECT bool_or(is_main) AS found FROM marked`,
  );
  if (!rows[0]?.found) throw new Error(`store ${storeId} has no warehouse mirrored from accounting warehouse ${accountingId}`);
}
