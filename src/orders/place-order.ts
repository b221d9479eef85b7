import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { Prisma, type Order } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { InsufficientStockError, invalidInput, notFound, OperationError, type StockShortage } from "../errors.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { tracksInventory, UNORDERABLE } from "../stock/availability.ts";
import { changeStockThen, lockItems, type LockedItem } from "../stock/stock-ledger.ts";
import { storeIdForSlug } from "../stores/stores.ts";
import { check, isRecordId, isStoreSlug, rules } from "../validation.ts";

export type PlaceOrderInput = {
  lines: { itemId: string; quantity: number }[];
  idempotencyKey?: string | null;
  customerName?: string | null;
  customerEmail?: string | null;
};

export const MAX_ORDER_LINES = 100;

const PlaceOrder = z.object({
  lines: z
    .array(z.object({ itemId: z.string(), quantity: rules.orderQuantity }))
    .min(1, "must have at least one line")
    .max(MAX_ORDER_LINES, `must have at most ${MAX_ORDER_LINES} lines`),
  idempotencyKey: rules.idempotencyKey.nullish(),
  customerName: rules.customerName.nullish(),
  customerEmail: rules.customerEmail.nullish(),
});


/**
 * The storefront checkout: takes the stock of every line and records the order, all lines or
 * nothing, in one transaction (SPEC section 2). The order's items are locked in id order, so
 * concurrent orders on shared items queue instead of deadlocking, and each line's take is a
 * guarded update that can never oversell. While accounting sync is on, the units are committed
 * instead of deducted. A retry carrying the same idempotency key answers the first order.
 */
export async function placeOrder(
  deps: Deps,
  storeSlug: string,
  input: PlaceOrderInput,
): Promise<Order | InsufficientStockError | OperationError> {
  const valid = check(PlaceOrder, input);
  if (valid instanceof OperationError) return valid;
  const lines = sumRepeatedItems(valid.lines);
  if (lines instanceof OperationError) return lines;

  if (!isStoreSlug(storeSlug)) return notFound("Store", "store");
  const storeId = await storeIdForSlug(deps.db.prisma, storeSlug);
  if (!storeId) return notFound("Store", "store");

  const key = valid.idempotencyKey ?? null;
  const requestHash = key ? hashRequest(lines, valid) : null;
  if (key) {
    const earlier = await orderForKey(deps, storeId, key, requestHash!);
    if (earlier) return earlier;
  }

  try {
    return await inTransaction(deps.db.pool, deps.publisher, async (tx) => {
      const locked = await lockItems(tx, storeId, lines.map((line) => line.itemId));
      const items = new Map(locked.map((item) => [item.id, item]));
      const missing = lines.findIndex((line) => !items.has(line.itemId));
      if (missing >= 0) return tx.rollbackWith(notFound("Item", `lines.${missing}.itemId`));

      const shortages = findShortages(lines, items);
      if (shortages.length > 0) return tx.rollbackWith(new InsufficientStockError(shortages));
      if (totalCents(lines, items) > MAX_ORDER_TOTAL_CENTS) {
        return tx.rollbackWith(invalidInput("the order's total would be more than 999999999999.99", "lines"));
      }

      const orderId = randomUUID();
      const stockLines = lines.filter((line) => tracksInventory(items.get(line.itemId)!));
      // The stock is taken and the order written in one statement: one round trip less while the
      // items are locked. The store's accounting_sync is read by that statement, after the locks
      // (switching sync locks every item of the store first), for the take and holds_committed alike.
      const { items: taken, result: order } = await changeStockThen<Order>(
        tx,
        storeId,
        stockLines.map((line) => ({ itemId: line.itemId, take: line.quantity })),
        { keepAvailableNonNegative: true, refuseWhenSynced: false },
        { reason: "ORDER_PLACED", orderId },
        sql`next AS (
             UPDATE stores SET last_order_number = last_order_number + 1
              WHERE id = ${storeId}::uuid AND (SELECT count(*) FROM changed) = ${stockLines.length}
             RETURNING last_order_number, accounting_sync
           ), line AS (
             SELECT l.item_id, l.quantity, l.stock_taken, i.price
               FROM unnest(${lines.map((line) => line.itemId)}::uuid[], ${lines.map((line) => line.quantity)}::int[],
                           ${lines.map((line) => tracksInventory(items.get(line.itemId)!))}::bool[]) AS l(item_id, quantity, stock_taken)
               JOIN items i ON i.store_id = ${storeId}::uuid AND i.id = l.item_id
           ), created AS (
             INSERT INTO orders (store_id, id, number, total, customer_name, customer_email, idempotency_key, request_hash, holds_committed)
             SELECT ${storeId}::uuid, ${orderId}::uuid, next.last_order_number, (SELECT coalesce(sum(price * quantity), 0) FROM line),
                    ${valid.customerName || null}, ${valid.customerEmail || null}, ${key}, ${requestHash}, next.accounting_sync
               FROM next
             RETURNING *
           ), created_lines AS (
             INSERT INTO order_lines (store_id, order_id, item_id, quantity, unit_price, stock_taken)
             SELECT ${storeId}::uuid, ${orderId}::uuid, item_id, quantity, price, stock_taken FROM line WHERE EXISTS (SELECT FROM created)
           ), result AS (
             SELECT ${columnsOf(Prisma.OrderScalarFieldEnum)} FROM created
           )`,
      );
      // Under the row locks taken above nothing can differ from what findShortages saw.
      if (!order || taken.length !== stockLines.length) throw new Error("stock changed under lock while placing an order");
      return order;
    });
  } catch (error) {
    // The same key committed meanwhile by a racing request: answer with that order.
    if (key && (error as { constraint?: string }).constraint === "orders_store_id_idempotency_key_key") {
      const earlier = await orderForKey(deps, storeId, key, requestHash!);
      if (earlier) return earlier;
    }
    throw error;
  }
}

/** orders.total is DECIMAL(14,2): no order can be worth more. */
const MAX_ORDER_TOTAL_CENTS = 99_999_999_999_999n;

/** The order's total in exact cents, from the locked items' prices. */
function totalCents(lines: readonly OrderLineRequest[], items: Map<string, LockedItem>): bigint {
  return lines.reduce((sum, line) => sum + cents(items.get(line.itemId)!.price) * BigInt(line.quantity), 0n);
}

/** A DECIMAL(12,2) price in cents. */
const cents = (price: Prisma.Decimal) => BigInt(price.mul(100).toFixed(0));

function findShortages(lines: readonly OrderLineRequest[], items: Map<string, LockedItem>): StockShortage[] {
  const shortages: StockShortage[] = [];
  for (const line of lines) {
    const item = items.get(line.itemId)!;
    if (!tracksInventory(item) || item.sellWithoutStock) continue;
    if (UNORDERABLE.has(item.availability) || line.quantity > item.available) {
      shortages.push({ itemId: line.itemId, requested: line.quantity, available: Math.max(0, item.available) });
    }
  }
  return shortages;
}

type OrderLineRequest = { itemId: string; quantity: number };

/** Repeated item ids in one order are one line with their quantities summed. */
function sumRepeatedItems(lines: readonly OrderLineRequest[]): OrderLineRequest[] | OperationError {
  const sums = new Map<string, number>();
  for (const [index, line] of lines.entries()) {
    if (!isRecordId(line.itemId)) return notFound("Item", `lines.${index}.itemId`);
    const itemId = line.itemId.toLowerCase();
    sums.set(itemId, (sums.get(itemId) ?? 0) + line.quantity);
  }
  for (const [itemId, quantity] of sums) {
    if (quantity > 10_000) return invalidInput(`at most 10000 units of item ${itemId} per order`, "lines");
  }
  return [...sums].map(([itemId, quantity]) => ({ itemId, quantity }));
}

function hashRequest(lines: readonly OrderLineRequest[], input: z.infer<typeof PlaceOrder>) {
  const canonical = JSON.stringify({
    lines: [...lines].sort((a, b) => a.itemId.localeCompare(b.itemId)).map((line) => [line.itemId, line.quantity]),
    customerName: input.customerName || null,
    customerEmail: input.customerEmail || null,
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/** The order placed earlier with this idempotency key, IDEMPOTENCY_CONFLICT for another request, or null. */
async function orderForKey(deps: Deps, storeId: string, key: string, requestHash: string) {
  const earlier = await deps.db.prisma.order.findUnique({ where: { storeId_idempotencyKey: { storeId, idempotencyKey: key } } });
  if (!earlier) return null;
  if (earlier.requestHash !== requestHash) {
    return new OperationError(
      "IDEMPOTENCY_CONFLICT",
      "this idempotency key was already used for a different order",
      "idempotencyKey",
    );
  }
  return earlier;
}
