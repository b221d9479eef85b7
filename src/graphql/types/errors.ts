import { InsufficientStockError, OperationError } from "../../errors.ts";
import type { UnionRef } from "@pothos/core";
import { builder } from "../builder.ts";

export const ErrorCodeEnum = builder.enumType("ErrorCode", {
  values: [
    "INVALID_INPUT",
    "NOT_FOUND",
    "INSUFFICIENT_STOCK",
    "STALE_QUANTITY",
    "INVALID_STATUS_TRANSITION",
    "INVENTORY_MANAGED_BY_ACCOUNTING",
    "ACCOUNTING_NOT_CONNECTED",
    "ACCOUNTING_UNAVAILABLE",
    "IDEMPOTENCY_CONFLICT",
  ] as const,
});

export const ErrorInterface = builder.interfaceRef<OperationError | InsufficientStockError>("Error").implement({
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, resolve: (error) => error.code }),
    message: t.exposeString("message"),
  }),
});

export const OperationErrorType = builder.objectType(OperationError, {
  name: "OperationError",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString("field", { nullable: true, description: "the input field at fault, when there is one" }),
  }),
});

const StockShortageType = builder.objectRef<InsufficientStockError["shortages"][number]>("StockShortage").implement({
  fields: (t) => ({
    itemId: t.exposeID("itemId"),
    requested: t.exposeInt("requested"),
    available: t.exposeInt("available"),
  }),
});

export const InsufficientStockErrorType = builder.objectType(InsufficientStockError, {
  name: "InsufficientStockError",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    shortages: t.field({ type: [StockShortageType], resolve: (error) => error.shortages }),
  }),
});

/** A mutation result union: the success type, or one of the error values (contract.graphql). */
export function resultUnion(name: string, success: { name: string }, options: { insufficientStock?: boolean } = {}) {
  const types = options.insufficientStock
    ? [success, InsufficientStockErrorType, OperationErrorType]
    : [success, OperationErrorType];
  const union = builder.unionType(name, {
    types: types as never,
    resolveType: (value: unknown) =>
      value instanceof OperationError
        ? "OperationError"
        : value instanceof InsufficientStockError
          ? "InsufficientStockError"
          : success.name,
  });
  // Resolvers return a domain result (the success row or an error value); resolveType sorts them.
  return union as unknown as UnionRef<any, object>;
}
