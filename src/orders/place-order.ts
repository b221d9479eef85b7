import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { Prisma, type Order } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { inTransaction } from "../db/transaction.ts";
import { InsufficientStockError, invalidInput, notFound, OperationError, type StockShortage } from "../errors.ts";
import { tracksInventory, UNORDERABLE } from "../stock/availability.ts";
import { changeStockThen, lockItemsForOrder, type LockedItem, type LockedVariant, type StockChange } from "../stock/stock-ledger.ts";
import { storeIdForSlug } from "../stores/stores.ts";
import { check, isRecordId, isStoreSlug, rules } from "../validation.ts";

export type PlaceOrderInput = {
  lines: { itemId: string; variantId?: string | null; quantity: number }[];
  idempotencyKey?: string | null;
  customerName?: string | null;
  customerEmail?: string | null;
};

export const MAX_ORDER_LINES = 100;
export const MAX_UNITS_PER_LINE = 10_000;

const PlaceOrder = z.object({
  lines: z
    .array(z.object({ itemId: z.string(), variantId: z.string().nullish(), quantity: rules.orderQuantity }))
    .min(1, "must have at least one line")
    .max(MAX_ORDER_LINES, `must have at most ${MAX_ORDER_LINES} lines`),
  idempotencyKey: rules.idempotencyKey.nullish(),
  customerName: rules.customerName.nullish(),
  customerEmail: rules.customerEmail.nullish(),
});

/** A line as asked: `index` is its first position in the request, for the field of an error. */
type LineRequest = { index: number; itemId: string; variantId: string | null; quantity: number };

/** A line once its item is locked: the variant it sells and where its units come from. */
type OrderLine = {
  item: LockedItem;
  variant: LockedVariant;
  quantity: number;
  unitPrice: Prisma.Decimal;
  takesStock: boolean;
  allocations: { warehouseId: string; quantity: number }[];
};

/**
 * The storefront checkout: takes the stock of every line and records the order, all lines or
 * nothing, in one transaction (SPEC sections 2 and 8). The order's items are locked in id order,
 * so concurrent orders on shared items queue instead of deadlocking. Each line's units are taken
 * from the warehouses that fulfil online orders in ascending priority (a line splits where one
 * warehouse has too few; with "Vender sin Stock" what none has comes from the first), each take a
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
  const requested = sumRepeatedLines(valid.lines);
  if (requested instanceof OperationError) return requested;

  if (!isStoreSlug(storeSlug)) return notFound("Store", "store");
  const storeId = await storeIdForSlug(deps.db.prisma, storeSlug);
  if (!storeId) return notFound("Store", "store");

  const key = valid.idempotencyKey ?? null;
  const requestHash = key ? hashRequest(requested, valid) : null;
  if (key) {
    const earlier = await orderForKey(deps, storeId, key, requestHash!);
    if (earlier) return earlier;
  }

  try {
    return await inTransaction(deps.db.pool, deps.publisher, async (tx) => {
      const locked = await lockItemsForOrder(tx, storeId, [...new Set(requested.map((line) => line.itemId))]);
      const lines = resolveLines(requested, new Map(locked.map((item) => [item.id, item])));
      if (!Array.isArray(lines)) return tx.rollbackWith(lines);
      if (totalCents(lines) > MAX_ORDER_TOTAL_CENTS) {
        return tx.rollbackWith(invalidInput("the order's total would be more than 999999999999.99", "lines"));
      }

      const orderId = randomUUID();
      const changes: StockChange[] = lines.flatMap((line) =>
        line.allocations.map((allocation) => ({ variantId: line.variant.id, warehouseId: allocation.warehouseId, take: allocation.quantity })),
      );
      const allocations = lines.flatMap((line) => line.allocations.map((allocation) => ({ ...allocation, variantId: line.variant.id })));
      // The stock is taken and the order written in one statement: one round trip while the
      // items are locked. The store's accounting_sync is read by that statement, after the locks
      // (switching sync locks every item of the store first), for the take and holds_committed alike.
      const { stock, result: order } = await changeStockThen<Order>(
        tx,
        storeId,
        changes,
        { keepAvailableNonNegative: true, refuseWhenSynced: false },
        { reason: "ORDER_PLACED", orderId },
        sql`next AS (
             UPDATE stores SET last_order_number = last_order_number + 1
              WHERE id = ${storeId}::uuid AND (SELECT count(*) FROM changed_levels) = ${changes.length}
             RETURNING last_order_number, accounting_sync
           ), line AS (
             SELECT * FROM unnest(${lines.map((line) => line.item.id)}::uuid[], ${lines.map((line) => line.variant.id)}::uuid[],
                                  ${lines.map((line) => line.quantity)}::int[], ${lines.map((line) => line.unitPrice.toFixed(2))}::numeric[],
                                  ${lines.map((line) => line.takesStock)}::bool[])
               AS l(item_id, variant_id, quantity, unit_price, stock_taken)
           ), created AS (
             INSERT INTO orders (store_id, id, number, total, customer_name, customer_email, idempotency_key, request_hash, holds_committed)
             SELECT ${storeId}::uuid, ${orderId}::uuid, next.last_order_number, (SELECT coalesce(sum(unit_price * quantity), 0) FROM line),
                    ${valid.customerName || null}, ${valid.customerEmail || null}, ${key}, ${requestHash}, next.accounting_sync
               FROM next
             RETURNING *
           ), created_lines AS (
             INSERT INTO order_lines (store_id, order_id, item_id, variant_id, quantity, unit_price, stock_taken)
             SELECT ${storeId}::uuid, ${orderId}::uuid, item_id, variant_id, quantity, unit_price, stock_taken
               FROM line WHERE EXISTS (SELECT FROM created)
           ), created_allocations AS (
             INSERT INTO order_line_allocations (store_id, order_id, variant_id, warehouse_id, quantity)
             SELECT ${storeId}::uuid, ${orderId}::uuid, a.variant_id, a.warehouse_id, a.quantity
               FROM unnest(${allocations.map((a) => a.variantId)}::uuid[], ${allocations.map((a) => a.warehouseId)}::uuid[],
                           ${allocations.map((a) => a.quantity)}::int[]) AS a(variant_id, warehouse_id, quantity)
              WHERE EXISTS (SELECT FROM created)
           ), result AS (
             SELECT ${columnsOf(Prisma.OrderScalarFieldEnum)} FROM created
           )`,
      );
      // Under the row locks taken above nothing can differ from what the allocation saw.
      if (!order || stock.levels !== changes.length) throw new Error("stock changed under lock while placing an order");
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

/**
 * Each requested line with its variant and allocations, or why the order cannot be placed: an
 * item or variant that is not the store's (NOT_FOUND), an item with options without a variant
 * (INVALID_INPUT), or every short line (InsufficientStockError).
 */
function resolveLines(requested: readonly LineRequest[], items: Map<string, LockedItem>): OrderLine[] | OperationError | InsufficientStockError {
  const byVariant = new Map<string, OrderLine>();
  for (const line of requested) {
    const item = items.get(line.itemId);
    if (!item) return notFound("Item", `lines.${line.index}.itemId`);
    let variant: LockedVariant | undefined;
    if (line.variantId) {
      variant = item.variants.find((candidate) => candidate.id === line.variantId);
      if (!variant) return notFound("Variant", `lines.${line.index}.variantId`);
    } else if (item.hasOptions) {
      return invalidInput("this item is sold in variants: say which one (variantId)", `lines.${line.index}.variantId`);
    } else {
      variant = item.variants.find((candidate) => candidate.isDefault)!;
    }
    const same = byVariant.get(variant.id);
    const quantity = (same?.quantity ?? 0) + line.quantity;
    if (quantity > MAX_UNITS_PER_LINE) return invalidInput(`at most ${MAX_UNITS_PER_LINE} units of one variant per order`, "lines");
    byVariant.set(variant.id, {
      item,
      variant,
      quantity,
      unitPrice: variant.price ? new Prisma.Decimal(variant.price) : item.price,
      takesStock: tracksInventory(item),
      allocations: [],
    });
  }
  const lines = [...byVariant.values()];
  const shortages: StockShortage[] = [];
  for (const line of lines) {
    if (!line.takesStock) continue;
    const allocated = allocate(line);
    if (allocated) line.allocations = allocated;
    else {
      const available = levelsOf(line).reduce((sum, level) => sum + level.available, 0);
      shortages.push({ itemId: line.item.id, variantId: line.variant.id, requested: line.quantity, available: Math.max(0, available) });
    }
  }
  return shortages.length > 0 ? new InsufficientStockError(shortages) : lines;
}

const levelsOf = (line: OrderLine) => line.item.levels.filter((level) => level.variantId === line.variant.id);

/**
 * Where a line's units come from: the fulfilling warehouses in ascending priority, each giving
 * what it has; with "Vender sin Stock" the rest from the first, which goes negative. Null when
 * the line cannot be served: a sold-out or hidden variant, or too few units without "Vender sin
 * Stock".
 */
function allocate(line: OrderLine): { warehouseId: string; quantity: number }[] | null {
  const levels = levelsOf(line);
  if (!line.item.sellWithoutStock && UNORDERABLE.has(line.variant.availability)) return null;
  const allocations: { warehouseId: string; quantity: number }[] = [];
  let rest = line.quantity;
  for (const level of levels) {
    const quantity = Math.min(rest, Math.max(0, level.available));
    if (quantity > 0) allocations.push({ warehouseId: level.warehouseId, quantity });
    rest -= quantity;
    if (rest === 0) return allocations;
  }
  if (!line.item.sellWithoutStock || levels.length === 0) return null;
  const first = allocations.find((allocation) => allocation.warehouseId === levels[0]!.warehouseId);
  if (first) first.quantity += rest;
  else allocations.unshift({ warehouseId: levels[0]!.warehouseId, quantity: rest });
  return allocations;
}

/** orders.total is DECIMAL(14,2): no order can be worth more. */
const MAX_ORDER_TOTAL_CENTS = 99_999_999_999_999n;

/** The order's total in exact cents. */
function totalCents(lines: readonly OrderLine[]): bigint {
  return lines.reduce((sum, line) => sum + BigInt(line.unitPrice.mul(100).toFixed(0)) * BigInt(line.quantity), 0n);
}

/** Repeated lines of one item (and variant) in one order are one line with their quantities summed. */
function sumRepeatedLines(lines: readonly { itemId: string; variantId?: string | null; quantity: number }[]): LineRequest[] | OperationError {
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

function hashRequest(lines: readonly LineRequest[], input: z.infer<typeof PlaceOrder>) {
  const canonical = JSON.stringify({
    lines: lines
      .map((line) => [line.itemId, line.variantId, line.quantity] as const)
      .sort((a, b) => `${a[0]}/${a[1] ?? ""}`.localeCompare(`${b[0]}/${b[1] ?? ""}`))
      // requests made before variants hashed [itemId, quantity]; an option-less line still does
      .map(([itemId, variantId, quantity]) => (variantId ? [itemId, variantId, quantity] : [itemId, quantity])),
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
