import { adjustItemQuantity, createItem, setItemQuantity, updateItem } from "../../stock/items.ts";
import { OperationError } from "../../errors.ts";
import { check, isRecordId, rules } from "../../validation.ts";
import { builder } from "../builder.ts";
import { adminRecordKey, adminStoreId, badUserInput, requireAdminOf } from "../context.ts";
import { resultUnion } from "./errors.ts";
import { connectionOf, paginate } from "./pagination.ts";

export const ItemTypeEnum = builder.enumType("ItemType", { values: ["PRODUCT", "SERVICE"] as const });
export const AvailabilityEnum = builder.enumType("Availability", {
  values: ["IN_STOCK", "BACKORDER", "SOLD_OUT", "HIDDEN"] as const,
});
const StockMovementReasonEnum = builder.enumType("StockMovementReason", {
  values: [
    "INITIAL_COUNT",
    "MANUAL_SET",
    "MANUAL_ADJUSTMENT",
    "ORDER_PLACED",
    "ORDER_CANCELLED",
    "ORDER_INVOICED",
    "ACCOUNTING_SYNC",
    "SYNC_DISABLED",
  ] as const,
});

export const WarehouseType = builder.prismaObject("Warehouse", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    accountingId: t.exposeID("accountingId", { nullable: true }),
    isMain: t.exposeBoolean("isMain"),
  }),
});

const StockMovementType = builder.prismaObject("StockMovement", {
  fields: (t) => ({
    id: t.id({ resolve: (movement) => String(movement.id) }),
    itemId: t.exposeID("itemId"),
    delta: t.exposeInt("delta"),
    quantityAfter: t.exposeInt("quantityAfter"),
    reason: t.expose("reason", { type: StockMovementReasonEnum }),
    orderId: t.exposeID("orderId", { nullable: true }),
    note: t.exposeString("note", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});
const StockMovementConnection = connectionOf("StockMovement", StockMovementType);

const tracksInventory = (item: { type: string; trackInventory: boolean }) =>
  item.type === "PRODUCT" && item.trackInventory;

export const ItemObject = builder.prismaObject("Item", {
  fields: (t) => ({
    id: t.exposeID("id"),
    sku: t.exposeString("sku", { nullable: true }),
    name: t.exposeString("name"),
    type: t.expose("type", { type: ItemTypeEnum }),
    price: t.expose("price", { type: "Decimal" }),
    trackInventory: t.boolean({ resolve: tracksInventory }),
    sellWithoutStock: t.exposeBoolean("sellWithoutStock"),
    quantity: t.int({ nullable: true, resolve: (item) => (tracksInventory(item) ? item.quantity : null) }),
    committedQuantity: t.int({ resolve: (item) => (tracksInventory(item) ? item.committedQuantity : 0) }),
    availableQuantity: t.int({
      nullable: true,
      resolve: (item) => (tracksInventory(item) ? item.quantity - item.committedQuantity : null),
    }),
    availability: t.expose("availability", { type: AvailabilityEnum }),
    version: t.exposeInt("version"),
    warehouse: t.field({
      type: WarehouseType,
      nullable: true,
      description: "(admin) where the stock is kept: the main warehouse once synced",
      resolve: async (item, _args, context) => {
        await requireAdminOf(context, item.storeId);
        if (!item.warehouseId) return null;
        return context.deps.db.prisma.warehouse.findUnique({
          where: { storeId_id: { storeId: item.storeId, id: item.warehouseId } },
        });
      },
    }),
    stockMovements: t.field({
      type: StockMovementConnection,
      description: "(admin) newest first",
      args: { first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
      resolve: async (item, args, context) => {
        await requireAdminOf(context, item.storeId);
        return paginate(
          args,
          (raw) => (/^\d+$/.test(raw) ? Number(raw) : null),
          (take, after) =>
            context.deps.db.prisma.stockMovement.findMany({
              where: { storeId: item.storeId, itemId: item.id, ...(after !== null ? { id: { lt: after } } : {}) },
              orderBy: { id: "desc" },
              take,
            }),
          (movement) => Number(movement.id),
        );
      },
    }),
  }),
});

export const ItemConnection = connectionOf("Item", ItemObject);

/** One page of a store's items by name; the public never sees HIDDEN ones. */
export function listItems(
  context: { deps: { db: { prisma: import("../../generated/prisma/client.ts").PrismaClient } } },
  storeId: string,
  args: { first?: number | null; after?: string | null; search?: string | null },
  includeHidden: boolean,
) {
  const search = args.search == null ? null : check(rules.search, args.search);
  if (search instanceof OperationError) throw badUserInput(`search ${search.message}`);
  return paginate(
    args,
    (raw) => (isRecordId(raw) ? raw : null),
    (take, after) =>
      context.deps.db.prisma.item.findMany({
        where: {
          storeId,
          ...(includeHidden ? {} : { availability: { not: "HIDDEN" } }),
          ...(search
            ? { OR: [{ name: { contains: search, mode: "insensitive" } }, { sku: { equals: search, mode: "insensitive" } }] }
            : {}),
        },
        orderBy: [{ name: "asc" }, { id: "asc" }],
        take,
        ...(after ? { cursor: { storeId_id: { storeId, id: after } }, skip: 1 } : {}),
      }),
    (item) => item.id,
  );
}


builder.queryFields((t) => ({
  item: t.prismaField({
    type: "Item",
    nullable: true,
    description: "(admin)",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, context) => {
      const key = await adminRecordKey(context, args.id);
      return key && context.deps.db.prisma.item.findUnique({ ...query, where: { storeId_id: key } });
    },
  }),
  items: t.field({
    type: ItemConnection,
    description: "(admin) the token's store",
    args: { first: t.arg.int({ defaultValue: 50 }), after: t.arg.string(), search: t.arg.string() },
    resolve: async (_root, args, context) => listItems(context, await adminStoreId(context), args, true),
  }),
}));

const ItemResult = resultUnion("ItemResult", ItemObject);

const CreateItemInput = builder.inputType("CreateItemInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    type: t.field({ type: ItemTypeEnum, required: true }),
    price: t.field({ type: "Decimal", required: true }),
    sku: t.string(),
    trackInventory: t.boolean({ description: "default: true for PRODUCT, always false for SERVICE" }),
    quantity: t.int({ description: "initial count when tracked (default 0), recorded as INITIAL_COUNT" }),
    sellWithoutStock: t.boolean({ description: "default false" }),
  }),
});

const UpdateItemInput = builder.inputType("UpdateItemInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    price: t.field({ type: "Decimal" }),
    sku: t.string(),
    trackInventory: t.boolean(),
    sellWithoutStock: t.boolean(),
  }),
});

const SetItemQuantityInput = builder.inputType("SetItemQuantityInput", {
  fields: (t) => ({
    itemId: t.id({ required: true }),
    quantity: t.int({ required: true }),
    expectedQuantity: t.int({ description: "when given, the write happens only if the current quantity equals it" }),
    note: t.string(),
  }),
});

const AdjustItemQuantityInput = builder.inputType("AdjustItemQuantityInput", {
  fields: (t) => ({
    itemId: t.id({ required: true }),
    delta: t.int({ required: true }),
    note: t.string(),
  }),
});

builder.mutationFields((t) => ({
  createItem: t.field({
    type: ItemResult,
    description: "(admin)",
    args: { input: t.arg({ type: CreateItemInput, required: true }) },
    resolve: async (_root, { input }, context) => createItem(context.deps, await adminStoreId(context), input),
  }),
  updateItem: t.field({
    type: ItemResult,
    description: "(admin)",
    args: { input: t.arg({ type: UpdateItemInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      updateItem(context.deps, await adminStoreId(context), { ...input, id: String(input.id) }),
  }),
  setItemQuantity: t.field({
    type: ItemResult,
    description: "(admin) MANUAL_SET",
    args: { input: t.arg({ type: SetItemQuantityInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      setItemQuantity(context.deps, await adminStoreId(context), { ...input, itemId: String(input.itemId) }),
  }),
  adjustItemQuantity: t.field({
    type: ItemResult,
    description: "(admin) MANUAL_ADJUSTMENT",
    args: { input: t.arg({ type: AdjustItemQuantityInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      adjustItemQuantity(context.deps, await adminStoreId(context), { ...input, itemId: String(input.itemId) }),
  }),
}));

