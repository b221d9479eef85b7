/**
 * Errors a caller can act on are values, returned as members of a mutation's result union
 * (contract.graphql). Exceptions are left for bugs and outages.
 */
export const ERROR_CODES = [
  "INVALID_INPUT",
  "NOT_FOUND",
  "INSUFFICIENT_STOCK",
  "STALE_QUANTITY",
  "INVALID_STATUS_TRANSITION",
  "INVENTORY_MANAGED_BY_ACCOUNTING",
  "ACCOUNTING_NOT_CONNECTED",
  "ACCOUNTING_UNAVAILABLE",
  "IDEMPOTENCY_CONFLICT",
  "RESERVATION_NOT_FOUND",
  "RESERVATIONS_OFF",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error value. An Error, so that the GraphQL errors plugin places it in the field's result
 * union whether a resolver returns it or throws it (src/graphql/types/errors.ts).
 */
export class OperationError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "OperationError";
  }
}

/** A line that cannot be served: what it asked of a variant, and what the variant has. */
export type StockShortage = { itemId: string; variantId: string; requested: number; available: number };

export class InsufficientStockError extends Error {
  readonly code = "INSUFFICIENT_STOCK" as const;
  constructor(readonly shortages: StockShortage[]) {
    super(`Not enough stock for ${shortages.length} line(s) of the order`);
    this.name = "InsufficientStockError";
  }
}

/** One entry of a bulk request at fault: its position in the request, and why. */
export type BulkEntryError = { index: number; code: ErrorCode; message: string; field: string | null };

/** A bulk request refused whole: every entry at fault, not only the first; nothing was changed. */
export class BulkQuantitiesRefused extends Error {
  constructor(readonly errors: BulkEntryError[]) {
    super(`${errors.length} of the entries cannot be applied; nothing was changed`);
    this.name = "BulkQuantitiesRefused";
  }
}

export const invalidInput = (message: string, field?: string) => new OperationError("INVALID_INPUT", message, field);
export const notFound = (what: string, field?: string) => new OperationError("NOT_FOUND", `${what} not found`, field);

export function isErrorValue(value: unknown): value is OperationError | InsufficientStockError {
  return value instanceof OperationError || value instanceof InsufficientStockError;
}
