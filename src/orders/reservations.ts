import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import type { PrismaClient, Reservation } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import type { Database } from "../db/pool.ts";
import { sql } from "../db/sql.ts";
import { inOneStatement } from "../db/transaction.ts";
import { InsufficientStockError, notFound, OperationError, type StockShortage } from "../errors.ts";
import { queueStockEvents, type StockAnswer } from "../stock/stock-ledger.ts";
import { hashSecret, sameHash } from "../stores/admin-tokens.ts";
import { newStoreSecret, parseStoreSecret } from "../stores/store-secrets.ts";
import { storeIdForSlug } from "../stores/stores.ts";
import { check, isRecordId, isStoreSlug, rules } from "../validation.ts";
import { canonicalLines, OrderLines, sumRepeatedLines, type LineRequest } from "./order-lines.ts";

/**
 * Cart holds (SPEC section 9): a storefront holds the units of a cart for its shopper while the
 * shopper pays, so that a flash sale's buyers do not lose the item at the last click. A hold keeps
 * its units in the reserved quantity of the stock levels it was allocated from (and of their
 * variants and items), so that nobody else can order or hold them, until it ends exactly once:
 * CONVERTED by the order placed with it (src/orders/place-order.ts), RELEASED by its shopper or
 * the merchant, or EXPIRED at `expiresAt`, by whichever process of the service gets there first
 * (./reservation-expiry.ts), or by a checkout or hold that needs its units before that. Holds live
 * in PostgreSQL: the SQL functions reserve_stock(), end_reservations() and place_orders() do the
 * work, each in one transaction under the items' locks, and the stock events go out after COMMIT.
 */

/** Active (HELD, in time) holds one client may have in one store; the cap holds whether or not the rate limit is on. */
export const MAX_ACTIVE_HOLDS_PER_CLIENT = 5;
/** Tokens kept per hold: one per answer of its idempotency key; past this many, the oldest stops opening it. */
const MAX_TOKENS_PER_HOLD = 10;
/** Reservation tokens: `rs_<store id>_<256 random bits>`, the store they name checked against the hold's. */
const TOKEN_KIND = "rs";

export type ReserveStockInput = {
  lines: { itemId: string; variantId?: string | null; quantity: number }[];
  idempotencyKey?: string | null;
};

/** A hold as its shopper gets it, once: the token opens it for placeOrder and release. */
export type ReservationGrant = { reservation: Reservation; token: string };

const ReserveStock = z.object({ lines: OrderLines, idempotencyKey: rules.idempotencyKey.nullish() });

/** What end_reservations() answers (prisma/functions/end_reservations.sql): the holds it ended, and the units given back. */
export type EndedReservations = { ended: { id: string; status: Reservation["status"] }[]; stock: StockAnswer };

/** What reserve_stock() answers (prisma/functions/reserve_stock.sql). */
type ReserveAnswer = { expired: EndedReservations | null } & (
  | { reservation: ReservationJson; stock: StockAnswer }
  | { shortages: StockShortage[] }
  | { error: { code: "NOT_FOUND" | "INVALID_INPUT" | "RESERVATIONS_OFF"; field: string | null; message: string } }
  | { duplicate: true }
);

/** The reservations row as json_build_object gives it: times as ISO strings. */
export type ReservationJson = Omit<Reservation, "expiresAt" | "createdAt" | "endedAt" | "tokenHashes"> & {
  tokenHashes: [];
  expiresAt: string;
  createdAt: string;
  endedAt: string | null;
};

/** How many times a hold whose key a refused hold freed goes again before answering "retry later". */
const MAX_KEY_ATTEMPTS = 3;

/**
 * `reserveStock`: holds the units of `input.lines` for the shopper `clientKey` (the client as the
 * order rate limit tells them apart) until now + the store's `reservationMinutes`, all lines or
 * nothing, under the order rules (InsufficientStockError as an order's; RESERVATIONS_OFF when the
 * store holds nothing for carts; INVALID_INPUT past MAX_ACTIVE_HOLDS_PER_CLIENT). Answers the hold
 * with a new random token, of which only the hash is kept. A retry with the same idempotency key
 * and lines answers the same hold, as it is now, with a token of its own that opens it too; the
 * same key with other lines is IDEMPOTENCY_CONFLICT.
 */
export async function reserveStock(
  deps: Deps,
  storeSlug: string,
  clientKey: string,
  input: ReserveStockInput,
): Promise<ReservationGrant | InsufficientStockError | OperationError> {
  const valid = check(ReserveStock, input);
  if (valid instanceof OperationError) return valid;
  const requested = sumRepeatedLines(valid.lines);
  if (requested instanceof OperationError) return requested;
  if (!isStoreSlug(storeSlug)) return notFound("Store", "store");
  const storeId = await storeIdForSlug(deps.db.prisma, storeSlug);
  if (!storeId) return notFound("Store", "store");

  const key = valid.idempotencyKey ?? null;
  const requestHash = key ? createHash("sha256").update(JSON.stringify(canonicalLines(requested))).digest("hex") : null;
  for (let attempt = 1; attempt <= MAX_KEY_ATTEMPTS; attempt++) {
    if (key) {
      const earlier = await holdForKey(deps.db, storeId, key, requestHash!);
      if (earlier) return earlier;
    }
    const answer = await holdOnce(deps, storeId, clientKey, key, requestHash, requested);
    if (answer !== KEY_HELD) return answer;
  }
  return new OperationError("IDEMPOTENCY_CONFLICT", "a hold with this idempotency key is being made: retry later", "idempotencyKey");
}

const KEY_HELD = Symbol("idempotency key held by another hold");

/** One call of reserve_stock(): the hold, a refusal, or KEY_HELD when its key is another hold's. */
async function holdOnce(
  deps: Deps,
  storeId: string,
  clientKey: string,
  key: string | null,
  requestHash: string | null,
  lines: readonly LineRequest[],
): Promise<ReservationGrant | InsufficientStockError | OperationError | typeof KEY_HELD> {
  const token = newStoreSecret(TOKEN_KIND, storeId);
  return inOneStatement(deps.db.pool, deps.publisher, async (statement) => {
    const { rows } = await statement.query<{ answer: ReserveAnswer }>(
      sql`SELECT reserve_stock(
            ${storeId}::uuid, ${randomUUID()}::uuid, ${hashSecret(token.random)}::bytea, ${clientKey}, ${key}, ${requestHash},
            ${lines.map((line) => line.itemId)}::uuid[], ${lines.map((line) => line.variantId)}::uuid[],
            ${lines.map((line) => line.quantity)}::int[], ${MAX_ACTIVE_HOLDS_PER_CLIENT}::int
          ) AS answer`,
    );
    const answer = rows[0]!.answer;
    if (answer.expired) queueStockEvents(statement, storeId, answer.expired.stock);
    if ("duplicate" in answer) return KEY_HELD;
    if ("shortages" in answer) return new InsufficientStockError(answer.shortages);
    if ("error" in answer) {
      const { code, message, field } = answer.error;
      return new OperationError(code, message, field && fieldOfRequest(field, lines));
    }
    queueStockEvents(statement, storeId, answer.stock);
    return { reservation: reservationRecord(answer.reservation), token: token.text };
  });
}

/** reserve_stock() numbers the lines from 0 as it summed them; the caller knows them by their place in its request. */
function fieldOfRequest(field: string, requested: readonly LineRequest[]): string {
  const line = /^lines\.(\d+)\.(\w+)$/.exec(field);
  return line ? `lines.${requested[Number(line[1])]!.index}.${line[2]}` : field;
}

/**
 * The hold made earlier with this idempotency key, answered with a new token that opens it (kept
 * among its newest MAX_TOKENS_PER_HOLD), IDEMPOTENCY_CONFLICT for other lines, or null.
 */
async function holdForKey(db: Database, storeId: string, key: string, requestHash: string) {
  const earlier = await db.prisma.reservation.findUnique({ where: { storeId_idempotencyKey: { storeId, idempotencyKey: key } } });
  if (!earlier) return null;
  if (earlier.requestHash !== requestHash) {
    return new OperationError("IDEMPOTENCY_CONFLICT", "this idempotency key was already used for a different hold", "idempotencyKey");
  }
  const token = newStoreSecret(TOKEN_KIND, storeId);
  // one statement, so that racing retries each add theirs (Prisma's push would read, then write)
  await db.pool.query(
    sql`UPDATE reservations
           SET token_hashes = (token_hashes || ${hashSecret(token.random)}::bytea)[greatest(1, cardinality(token_hashes) + 2 - ${MAX_TOKENS_PER_HOLD}::int):]
         WHERE store_id = ${storeId}::uuid AND id = ${earlier.id}::uuid`,
  );
  return { reservation: earlier, token: token.text };
}

/** The reservations row in the shape Prisma reads it. */
function reservationRecord(row: ReservationJson): Reservation {
  return {
    ...row,
    tokenHashes: [],
    expiresAt: new Date(row.expiresAt),
    createdAt: new Date(row.createdAt),
    endedAt: row.endedAt === null ? null : new Date(row.endedAt),
  };
}

export type ReservationRef = { id: string; token: string };

/** The store a reservation token names, or null when it is none. */
export const storeOfReservationToken = (token: string): string | null => parseStoreSecret(TOKEN_KIND, token)?.storeId ?? null;

/**
 * The hold `ref` names, when its token opens it: the token names the hold's store and its secret
 * hashes to one of the hold's token hashes, compared in constant time. Null otherwise, the same
 * for a wrong token as for an unknown id (a hash is compared for an unknown one too).
 */
export async function openReservation(prisma: PrismaClient, ref: ReservationRef): Promise<Reservation | null> {
  const parsed = parseStoreSecret(TOKEN_KIND, ref.token);
  const presented = hashSecret(parsed?.random ?? ref.token);
  const found =
    parsed && isRecordId(ref.id)
      ? await prisma.reservation.findUnique({ where: { storeId_id: { storeId: parsed.storeId, id: ref.id.toLowerCase() } } })
      : null;
  let opens = false;
  for (const stored of found?.tokenHashes ?? [UNKNOWN_HOLD_HASH]) opens = sameHash(presented, stored) || opens;
  return found && opens ? found : null;
}

const UNKNOWN_HOLD_HASH = hashSecret("no such hold");

/** The id of the store's hold `ref` names when its token opens it (for placeOrder), else null. */
export async function openedReservation(prisma: PrismaClient, storeId: string, ref: ReservationRef): Promise<string | null> {
  const hold = await openReservation(prisma, ref);
  return hold && hold.storeId === storeId ? hold.id : null;
}

const NOT_FOUND = () => new OperationError("RESERVATION_NOT_FOUND", "no such hold in this store, or the token does not open it", "id");

/**
 * `releaseReservation`: the shopper gives the hold up, with its token; its units are available at
 * once. A hold no longer HELD is answered as it is, changing nothing (so releasing twice is one
 * release). A wrong token is RESERVATION_NOT_FOUND, exactly as an unknown id.
 */
export async function releaseReservation(deps: Deps, ref: ReservationRef): Promise<Reservation | OperationError> {
  const hold = await openReservation(deps.db.prisma, ref);
  if (!hold) return NOT_FOUND();
  return endReservation(deps, hold.storeId, hold);
}

/** `releaseReservationAsAdmin`: the merchant ends a hold of the store, as releaseReservation; another store's is NOT_FOUND. */
export async function releaseReservationAsAdmin(deps: Deps, storeId: string, id: string): Promise<Reservation | OperationError> {
  const hold = isRecordId(id) ? await deps.db.prisma.reservation.findUnique({ where: { storeId_id: { storeId, id: id.toLowerCase() } } }) : null;
  if (!hold) return notFound("Reservation", "id");
  return endReservation(deps, storeId, hold);
}

async function endReservation(deps: Deps, storeId: string, hold: Reservation): Promise<Reservation> {
  if (hold.status === "HELD") await endReservations(deps, storeId, [hold.id], "RELEASED");
  return deps.db.prisma.reservation.findUniqueOrThrow({ where: { storeId_id: { storeId, id: hold.id } } });
}

/**
 * Ends the store's holds of `ids` that are still HELD (RELEASED; EXPIRED for those past their
 * time) in one transaction under their items' locks, and gives their units back; the stock
 * events go out after COMMIT. `onlyWhenFree`: skip (answer null) when another process is ending
 * the store's expired holds right now, for the expiry sweep.
 */
export async function endReservations(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  ids: readonly string[],
  status: "RELEASED" | "EXPIRED",
  { onlyWhenFree = false } = {},
): Promise<EndedReservations | null> {
  return inOneStatement(deps.db.pool, deps.publisher, async (statement) => {
    const { rows } = await statement.query<{ answer: EndedReservations | null }>(
      onlyWhenFree
        ? sql`SELECT CASE WHEN pg_try_advisory_xact_lock(${EXPIRY_LOCK_SPACE}::int, hashtext(${storeId}))
                     THEN end_reservations(${storeId}::uuid, ${ids}::uuid[], ${status}::"ReservationStatus") END AS answer`
        : sql`SELECT end_reservations(${storeId}::uuid, ${ids}::uuid[], ${status}::"ReservationStatus") AS answer`,
    );
    const answer = rows[0]!.answer;
    if (answer) queueStockEvents(statement, storeId, answer.stock);
    return answer;
  });
}

/** The lock space of a store's expiry sweep (any constant, the same in every process). */
const EXPIRY_LOCK_SPACE = 727_465_006;
