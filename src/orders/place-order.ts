import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import { z } from "zod";
import { Prisma, type Order } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { sql } from "../db/sql.ts";
import { isDatabaseUnavailable } from "../db/outage.ts";
import { inOneStatement } from "../db/transaction.ts";
import { InsufficientStockError, invalidInput, notFound, OperationError, type StockShortage } from "../errors.ts";
import { checkoutBatchSize } from "../observability/metrics.ts";
import { canonicalLines, OrderLines, sumRepeatedLines, type LineRequest } from "./order-lines.ts";
import { queueStockEvents, type StockAnswer } from "../stock/stock-ledger.ts";
import { openedReservation, type EndedReservations } from "./reservations.ts";
import { storeIdForSlug } from "../stores/stores.ts";
import { check, isRecordId, isStoreSlug, rules } from "../validation.ts";

export type PlaceOrderInput = {
  lines: { itemId: string; variantId?: string | null; quantity: number }[];
  idempotencyKey?: string | null;
  customerName?: string | null;
  customerEmail?: string | null;
  /** the cart hold the order is placed with: its units first, and it ends with the order */
  reservation?: { id: string; token: string } | null;
};

const PlaceOrder = z.object({
  lines: OrderLines,
  idempotencyKey: rules.idempotencyKey.nullish(),
  customerName: rules.customerName.nullish(),
  customerEmail: rules.customerEmail.nullish(),
  reservation: z.object({ id: z.string(), token: z.string() }).nullish(),
});


/**
 * The storefront checkout: takes the stock of every line and records the order, all lines or
 * nothing (SPEC sections 2 and 8). The order goes to PostgreSQL in a batch of its store's
 * checkouts (deps.checkoutTurns: alone when the store is quiet, with those that arrived meanwhile
 * when it is busy), one call of the SQL function place_orders() that is its own transaction, so
 * no lock is held across a round trip; another order of the batch refused leaves this one as it
 * would be alone. The items are locked in id order, so concurrent orders on shared items queue
 * instead of deadlocking. Each line's units are taken from the warehouses that fulfil online
 * orders in ascending priority (a line splits where one warehouse has too few; with "Vender sin
 * Stock" what none has comes from the first), each take a guarded update that can never oversell.
 * While accounting sync is on, the units are committed instead of deducted. A retry carrying the
 * same idempotency key answers the first order, also when the two race in one batch or in
 * batches of two processes. With a cart hold (`reservation`, SPEC section 9) whose token opens it
 * and that is still HELD, the lines take its units first, and it ends CONVERTED in the order's
 * transaction, giving back what the order did not take; a hold that is not (any more) is no
 * obstacle: the order is placed as one without.
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

  const checkout: Checkout = {
    lines: requested,
    customerName: valid.customerName || null,
    customerEmail: valid.customerEmail || null,
    key,
    requestHash,
    // a hold its token does not open is no hold of this order's: the order goes as one without
    reservationId: valid.reservation ? await openedReservation(deps.db.prisma, storeId, valid.reservation) : null,
  };
  for (let attempt = 1; ; attempt++) {
    const placed = await deps.checkoutTurns.inBatch(storeId, checkout, (batch: Checkout[]) => placeBatch(deps, storeId, batch));
    if (placed !== KEY_HELD) return placed;
    // Another order holds the key: committed by a racing batch (of this process or another), answer with it.
    const earlier = await orderForKey(deps, storeId, key!, requestHash!);
    if (earlier) return earlier;
    // Or an order of the same batch held it and was refused, which freed it: this one goes again.
    if (attempt === MAX_KEY_ATTEMPTS) {
      return new OperationError("IDEMPOTENCY_CONFLICT", "an order with this idempotency key is being placed: retry later", "idempotencyKey");
    }
  }
}

/** One checkout as it waits for its batch: the order's lines (repeats summed) and what it carries. */
type Checkout = {
  lines: LineRequest[];
  customerName: string | null;
  customerEmail: string | null;
  key: string | null;
  requestHash: string | null;
  /** the hold it is placed with, its token checked; place_orders() checks it is still HELD */
  reservationId: string | null;
};

/** What a checkout of a batch comes back with when its idempotency key was another order's. */
const KEY_HELD = Symbol("idempotency key held by another order");
type Placed = Order | InsufficientStockError | OperationError | typeof KEY_HELD;
/** How many batches one checkout tries while its key is freed by refused orders before answering "retry later". */
const MAX_KEY_ATTEMPTS = 3;

/**
 * Places a batch of one store's checkouts in one call of place_orders(), one result per checkout
 * in the order given, and queues the stock events of the placed orders in that order (published
 * once the call has returned, that is committed). The same key with the same request twice in a
 * batch (a client retrying while its first try waits) goes once and both get its answer. When the
 * call fails in PostgreSQL for another reason than an outage (a bug that one order trips), each
 * checkout goes again alone, so that it fails only that order; an outage fails them all, each
 * answered SERVICE_UNAVAILABLE as a lone order would be.
 */
async function placeBatch(deps: Deps, storeId: string, batch: Checkout[]): Promise<PromiseSettledResult<Placed>[]> {
  const sent: Checkout[] = [];
  const sentAs: number[] = [];
  const byKey = new Map<string, number>();
  for (const checkout of batch) {
    const same = checkout.key === null ? undefined : byKey.get(checkout.key);
    if (same !== undefined && sent[same]!.requestHash === checkout.requestHash) {
      sentAs.push(same);
      continue;
    }
    if (checkout.key !== null && same === undefined) byKey.set(checkout.key, sent.length);
    sentAs.push(sent.length);
    sent.push(checkout);
  }
  checkoutBatchSize.observe(sent.length);
  const lines = sent.flatMap((checkout) => checkout.lines);
  let placed: Placed[];
  try {
    placed = await inOneStatement(deps.db.pool, deps.publisher, async (statement) => {
      const { rows } = await statement.query<{ answer: BatchAnswer }>(
        sql`SELECT place_orders(
              ${storeId}::uuid, ${sent.map(() => randomUUID())}::uuid[], ${sent.map((c) => c.lines.length)}::int[],
              ${sent.map((c) => c.customerName)}::text[], ${sent.map((c) => c.customerEmail)}::text[],
              ${sent.map((c) => c.key)}::text[], ${sent.map((c) => c.requestHash)}::text[],
              ${sent.map((c) => c.reservationId)}::uuid[],
              ${lines.map((line) => line.itemId)}::uuid[], ${lines.map((line) => line.variantId)}::uuid[],
              ${lines.map((line) => line.quantity)}::int[]
            ) AS answer`,
      );
      const { orders, expired } = rows[0]!.answer;
      // the holds past their time that the batch ended first: their units came back before the orders took any
      if (expired) queueStockEvents(statement, storeId, expired.stock);
      return orders.map((answer, i): Placed => {
        if ("duplicate" in answer) return KEY_HELD;
        if ("error" in answer) return new OperationError(answer.error.code, answer.error.message, fieldOfRequest(answer.error.field, sent[i]!.lines));
        if ("shortages" in answer) return new InsufficientStockError(answer.shortages);
        queueStockEvents(statement, storeId, answer.stock);
        return orderRecord(answer.order);
      });
    });
  } catch (error) {
    if (sent.length === 1 || !(error instanceof pg.DatabaseError) || isDatabaseUnavailable(error)) throw error;
    // one after another, in the store's turn that this batch holds
    const alone: PromiseSettledResult<Placed>[] = [];
    for (const checkout of sent) alone.push((await placeBatch(deps, storeId, [checkout]).catch((reason) => [rejected(reason)]))[0]!);
    return sentAs.map((i) => alone[i]!);
  }
  return sentAs.map((i) => ({ status: "fulfilled", value: placed[i]! }));
}

const rejected = (reason: unknown): PromiseRejectedResult => ({ status: "rejected", reason });

/** What place_orders() answers (prisma/functions/place_orders.sql): each order's answer, and the expired holds it ended. */
export type BatchAnswer = { orders: CheckoutAnswer[]; expired: EndedReservations | null };

/** What place_orders() answers for each order. */
export type CheckoutAnswer =
  | { order: OrderJson; stock: StockAnswer }
  | { shortages: StockShortage[] }
  | { error: { code: "NOT_FOUND" | "INVALID_INPUT"; field: string; message: string } }
  | { duplicate: true };

/** place_orders() numbers each order's lines from 0; the caller knows them by their place in its request. */
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

function hashRequest(lines: readonly LineRequest[], input: z.infer<typeof PlaceOrder>) {
  // the hold an order is placed with is how it is served, not what it asks: a retry may come without
  const canonical = JSON.stringify({
    lines: canonicalLines(lines),
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

