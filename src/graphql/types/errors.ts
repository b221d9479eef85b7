import type { ObjectRef } from "@pothos/core";
import { BulkQuantitiesRefused, ERROR_CODES, InsufficientStockError, OperationError, type BulkEntryError } from "../../errors.ts";
import { MAX_ORDER_LINES } from "../../orders/order-lines.ts";
import { MAX_BULK_ENTRIES } from "../../stock/counts.ts";
import { builder } from "../builder.ts";
import { upTo } from "../cost.ts";

export const ErrorCodeEnum = builder.enumType("ErrorCode", { values: ERROR_CODES });

const ErrorInterface = builder.interfaceRef<OperationError | InsufficientStockError>("Error").implement({
  fields: (t) => ({
    code: t.expose("code", { type: ErrorCodeEnum }),
    message: t.exposeString("message"),
  }),
});

builder.objectType(OperationError, {
  name: "OperationError",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString("field", { nullable: true, description: "the input field at fault, when there is one" }),
  }),
});

const StockShortageType = builder.objectRef<InsufficientStockError["shortages"][number]>("StockShortage").implement({
  fields: (t) => ({
    itemId: t.exposeID("itemId"),
    variantId: t.exposeID("variantId", { nullable: true, description: "the variant short of units" }),
    requested: t.exposeInt("requested"),
    available: t.exposeInt("available"),
  }),
});

builder.objectType(InsufficientStockError, {
  name: "InsufficientStockError",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    // at most one per line of an order
    shortages: t.field({ type: [StockShortageType], complexity: upTo(MAX_ORDER_LINES), resolve: (error) => error.shortages }),
  }),
});

const BulkEntryErrorType = builder.objectRef<BulkEntryError>("BulkEntryError").implement({
  fields: (t) => ({
    index: t.exposeInt("index", { description: "position in entries" }),
    code: t.expose("code", { type: ErrorCodeEnum }),
    message: t.exposeString("message"),
    field: t.exposeString("field", { nullable: true, description: "the entry's field at fault, when there is one" }),
  }),
});

builder.objectType(BulkQuantitiesRefused, {
  name: "BulkQuantitiesRefused",
  description: "nothing was changed",
  fields: (t) => ({
    errors: t.field({
      type: [BulkEntryErrorType],
      description: "every entry at fault, not only the first",
      complexity: upTo(MAX_BULK_ENTRIES),
      resolve: (refused) => refused.errors,
    }),
  }),
});

type SchemaTypesOf<B> = B extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

/**
 * A result union of the contract: the success type itself, or one of the error values. The errors
 * plugin makes it once (several mutations share a name) and places every OperationError or
 * InsufficientStockError that a field with this type returns or throws; anything else is the success.
 */
export function resultUnion<T extends object>(
  name: string,
  success: ObjectRef<SchemaTypesOf<typeof builder>, T>,
  errors: (typeof OperationError | typeof InsufficientStockError | typeof BulkQuantitiesRefused)[] = [OperationError],
) {
  return builder.errorUnion(name, { types: [success, ...errors], resolveType: () => success });
}
