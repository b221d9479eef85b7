import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { Prisma, type Order } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { sql } from "../db/sql.ts";
import { inOneStatement } from "../db/transaction.ts";
import { InsufficientStockError, invalidInput, notFound, OperationError, type StockShortage } from "../errors.ts";
import { queueStockEvents, type StockAnswer } from "../stock/stock-ledger.ts";
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

/**
 * The storefront checkout: takes the stock of every line and records the order, all lines or
 * nothing (SPEC sections 2 and 8), in one call of the SQL function place_order() that is its own
 * transaction, so no lock is held across a round trip. The order's items are locked in id order,
 * so concurrent orders on shared items queue instead of deadlocking. Each line's units are taken
 * from the warehouses that fulfil online orders in ascending priority (a line splits where one
 * warehouse has too few; with "Vender sin Stock" what none has comes from the first), each take a
 * guarded update that can never oversell. While accounting sync is on, the units are committed
 * instead of deducted. A retry carrying the same idempotency key answers the first order. A
 * store's checkouts go to PostgreSQL a few at a time (deps.checkoutTurns).
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
    return await deps.checkoutTurns.run(storeId, () => inOneStatement(deps.db.pool, deps.publisher, async (statement) => {
      const { rows } = await statement.query<{ answer: CheckoutAnswer }>(
        sql`SELECT place_order(
              ${storeId}::uuid, ${randomUUID()}::uuid, ${requested.map((line) => line.itemId)}::uuid[],
              ${requested.map((line) => line.variantId)}::uuid[], ${requested.map((line) => line.quantity)}::int[],
              ${valid.customerName || null}, ${valid.customerEmail || null}, ${key}, ${requestHash}
            ) AS answer`,
      );
      const answer = rows[0]!.answer;
      if ("error" in answer) return new OperationError(answer.error.code, answer.error.message, fieldOfRequest(answer.error.field, requested));
      if ("shortages" in answer) return new InsufficientStockError(answer.shortages);
      queueStockEvents(statement, storeId, answer.stock);
      return orderRecord(answer.order);
    }));
  } catch (error) {
    // The same key committed meanwhile by a racing request: answer with that order.
    if (key && (error as { constraint?: string }).constraint === "orders_store_id_idempotency_key_key") {
      const earlier = await orderForKey(deps, storeId, key, requestHash!);
      if (earlier) return earlier;
    }
    throw error;
  }
}

/** What place_order() answers (prisma/functions/place_order.sql). */
export type CheckoutAnswer =
  | { order: OrderJson; stock: StockAnswer }
  | { shortages: StockShortage[] }
  | { error: { code: "NOT_FOUND" | "INVALID_INPUT"; field: string; message: string } };

/** place_order() numbers the lines it was given; the caller knows them by their place in its request. */
function fieldOfRequest(field: string, requested: readonly LineRequest[]): string {
  const line = /^lines\.(\d+)\.(\w+)$/.exec(field);
  return line ? `lines.${requested[Number(line[1])]!.index}.${line[2]}` : field;
}

/** The orders row as json_build_object gives it: money as text, times as ISO strings. */
export type OrderJson = Omit<Order, "total" | "invoicedAt" | "createdAt" | "updatedAt"> & {
  total: string;
  invoicedAt: string | null;
  createdAt: string;
  updatedAt: string;
};

/** The order in the shape Prisma reads it. */
function orderRecord(order: OrderJson): Order {
  return {
    ...order,
    total: new Prisma.Decimal(order.total),
    invoicedAt: order.invoicedAt === null ? null : new Date(order.invoicedAt),
    createdAt: new Date(order.createdAt),
    updatedAt: new Date(order.updatedAt),
  };
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

