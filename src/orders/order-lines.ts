import { z } from "zod";
import type { Tx } from "../db/transaction.ts";
import { sql } from "../db/sql.ts";
import { invalidInput, notFound, type OperationError } from "../errors.ts";
import { isRecordId, rules } from "../validation.ts";

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

export const MAX_ORDER_LINES = 100;
export const MAX_UNITS_PER_LINE = 10_000;

/** An order's lines, as a cart hold's too: 1 to MAX_ORDER_LINES, counted as sent. */
export const OrderLines = z
  .array(z.object({ itemId: z.string(), variantId: z.string().nullish(), quantity: rules.orderQuantity }))
  .min(1, "must have at least one line")
  .max(MAX_ORDER_LINES, `must have at most ${MAX_ORDER_LINES} lines`);

/** A line as asked: `index` is its first position in the request, for the field of an error. */
export type LineRequest = { index: number; itemId: string; variantId: string | null; quantity: number };

/** Repeated lines of one item (and variant) in one order are one line with their quantities summed. */
export function sumRepeatedLines(lines: readonly { itemId: string; variantId?: string | null; quantity: number }[]): LineRequest[] | OperationError {
  const sums = new Map<string, LineRequest>();
  for (const [index, line] of lines.entries()) {
    if (!isRecordId(line.itemId)) return notFound("Item", `lines.${index}.itemId`);
    if (line.variantId != null && !isRecordId(line.variantId)) return notFound("Variant", `lines.${index}.variantId`);
    const itemId = line.itemId.toLowerCase();
    const variantId = line.variantId?.toLowerCase() ?? null;
    const key = `${itemId}/${variantId ?? ""}`;
    const same = sums.get(key);
    sums.set(key, { index: same?.index ?? index, itemId, variantId, quantity: (same?.quantity ?? 0) + line.quantity });
  }
  for (const line of sums.values()) {
    if (line.quantity > MAX_UNITS_PER_LINE) return invalidInput(`at most ${MAX_UNITS_PER_LINE} units of item ${line.itemId} per order`, "lines");
  }
  return [...sums.values()];
}

/** Lines in one order whatever order they were sent in, for a request's hash. */
export function canonicalLines(lines: readonly LineRequest[]) {
  return (
    lines
      .map((line) => [line.itemId, line.variantId, line.quantity] as const)
      .sort((a, b) => `${a[0]}/${a[1] ?? ""}`.localeCompare(`${b[0]}/${b[1] ?? ""}`))
      // requests made before variants hashed [itemId, quantity]; an option-less line still does
      .map(([itemId, variantId, quantity]) => (variantId ? [itemId, variantId, quantity] : [itemId, quantity]))
  );
}

