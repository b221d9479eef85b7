import { Prisma, type Order } from "../generated/prisma/client.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";
import { lockItemsOfOrder } from "./order-lines.ts";

/**
 * While accounting sync is on, an order holds its units in `committedQuantity` instead of
 * deducting them (`holdsCommitted`). Two things end the hold, each in the caller's stock
 * transaction, which deducts the held units in it (linesThatTookStock): the order's sales
 * invoice (recordOrderInvoice), and switching sync off (endCommittedHolds).
 */

/**
 * Records the invoice issued for the order and ends its hold. Answers the order as recorded and
 * whether it held units until now (a cancelled order released them already), or null when the
 * store has no such order. Locks the order's items, then the order row, as cancelling does.
 */
export async function recordOrderInvoice(
  tx: Tx,
  storeId: string,
  orderId: string,
  invoice: { accountingId: string; number: string | null },
): Promise<{ order: Order; heldUnits: boolean } | null> {
  await lockItemsOfOrder(tx, storeId, orderId);
  const { rows } = await tx.query<Order & { heldUnits: boolean }>(
    sql`WITH before AS (
          SELECT id, holds_committed AND status <> 'CANCELLED' AS held FROM orders
           WHERE store_id = ${storeId}::uuid AND id = ${orderId}::uuid FOR UPDATE
        )
        UPDATE orders o SET invoice_accounting_id = ${invoice.accountingId}, invoice_number = ${invoice.number},
               invoiced_at = now(), holds_committed = false, updated_at = now()
          FROM before b
         WHERE o.store_id = ${storeId}::uuid AND o.id = b.id
        RETURNING ${columnsOf(Prisma.OrderScalarFieldEnum, "o")}, b.held AS "heldUnits"`,
  );
  if (!rows[0]) return null;
  const { heldUnits, ...order } = rows[0];
  return { order, heldUnits };
}

/**
 * Switching sync off: every open order of the store that holds units and has no invoice stops
 * holding them. Answers their ids; the caller deducts their units. The caller holds every item
 * lock of the store (the global lock order: items, then orders).
 */
export async function endCommittedHolds(tx: Tx, storeId: string): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    sql`UPDATE orders SET holds_committed = false, updated_at = now()
         WHERE store_id = ${storeId}::uuid AND holds_committed AND invoice_accounting_id IS NULL AND status <> 'CANCELLED'
        RETURNING id`,
  );
  return rows.map((row) => row.id);
}
