import type { Prisma } from "../../generated/prisma/client.ts";
import { Availability, ItemType, StockMovementReason } from "../../generated/prisma/enums.ts";
import { BulkQuantitiesRefused, OperationError } from "../../errors.ts";
import { tracksInventory } from "../../stock/availability.ts";
import { adjustItemQuantity, MAX_BULK_ENTRIES, setItemQuantities, setItemQuantity, type BulkQuantitiesSet } from "../../stock/counts.ts";
import { createItem, updateItem } from "../../stock/items.ts";
import { levelsBySku, MAX_SKUS_LOOKED_UP, type SkuStockLevel } from "../../stock/inventory-export.ts";
import { MAX_WAREHOUSES } from "../../stock/warehouses.ts";
import { check, isRecordId, rules } from "../../validation.ts";
import { builder } from "../builder.ts";
import { pageCost, upTo } from "../cost.ts";
import { badUserInput, checkCursorInStore, pageSize } from "../pages.ts";
import { resultUnion } from "./errors.ts";

export const ItemTypeEnum = builder.enumType(ItemType, {
  name: "ItemType",
  values: { SERVICE: { description: "a service never tracks inventory" } },
});
export const AvailabilityEnum = builder.enumType(Availability, {
  name: "Availability",
  values: {
    IN_STOCK: { description: "can be ordered from stock (or inventory is not tracked)" },
    BACKORDER: { description: 'nothing left but "sell without stock" is on: orders accepted, quantity goes negative' },
    SOLD_OUT: { description: 'nothing left: listed as sold out ("Agotado"), orders refused' },
    HIDDEN: { description: "nothing left and the store hides sold-out items: not listed, orders refused" },
  },
});
const StockMovementReasonEnum = builder.enumType(StockMovementReason, { name: "StockMovementReason" });

builder.prismaObject("StockMovement", {
  fields: (t) => ({
    id: t.id({ resolve: (movement) => String(movement.id) }),
    itemId: t.exposeID("itemId"),
    variantId: t.exposeID("variantId"),
    warehouseId: t.exposeID("warehouseId"),
    transferId: t.exposeID("transferId", { nullable: true, description: "both movements of a transfer share it" }),
    delta: t.exposeInt("delta", { description: "change of `quantity`" }),
    quantityAfter: t.exposeInt("quantityAfter"),
    reason: t.expose("reason", { type: StockMovementReasonEnum }),
    orderId: t.exposeID("orderId", { nullable: true }),
    note: t.exposeString("note", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

export const ItemObject = builder.prismaObject("Item", {
  fields: (t) => ({
    id: t.exposeID("id"),
    sku: t.exposeString("sku", { nullable: true }),
    name: t.exposeString("name"),
    type: t.expose("type", { type: ItemTypeEnum }),
    price: t.expose("price", { type: "Decimal" }),
    trackInventory: t.boolean({ description: '"Registrar cantidad disponible"', resolve: tracksInventory }),
    sellWithoutStock: t.exposeBoolean("sellWithoutStock", { description: '"Vender sin Stock"' }),
    quantity: t.int({ nullable: true, resolve: (item) => (tracksInventory(item) ? item.quantity : null) }),
    committedQuantity: t.int({ resolve: (item) => (tracksInventory(item) ? item.committedQuantity : 0) }),
    availableQuantity: t.int({
      nullable: true,
      description: "quantity - committedQuantity - reservedQuantity",
      resolve: (item) => (tracksInventory(item) ? item.quantity - item.committedQuantity - item.reservedQuantity : null),
    }),
    reservedQuantity: t.int({
      description: "(admin) held for carts: the sum over its variants",
      authScopes: (item) => ({ adminOf: item.storeId }),
      resolve: (item) => (tracksInventory(item) ? item.reservedQuantity : 0),
    }),
    availability: t.expose("availability", { type: AvailabilityEnum }),
    version: t.exposeInt("version"),
    warehouse: t.relation("warehouse", {
      nullable: true,
      description: "(admin) where the stock is kept: the main warehouse once synced",
      authScopes: (item) => ({ adminOf: item.storeId }),
    }),
    stockMovements: t.relatedConnection(
      "stockMovements",
      {
        description: "(admin) newest first",
        authScopes: (item) => ({ adminOf: item.storeId }),
        cursor: "storeId_id",
        maxSize: pageSize,
        complexity: pageCost,
        query: { orderBy: { id: "desc" } },
      },
      { name: "StockMovementConnection" },
      { name: "StockMovementEdge" },
    ),
  }),
});

export const ItemConnection = builder.connectionObject({ type: ItemObject, name: "ItemConnection" });

/**
 * The items a page of a store's catalog reads: by name (then id, so that equal names page
 * steadily), those whose name contains `search` or whose SKU (or a variant's) is it, without HIDDEN ones for the public.
 */
export function catalogQuery(storeId: string, search: string | null | undefined, includeHidden: boolean) {
  const term = search == null ? null : check(rules.search, search);
  if (term instanceof OperationError) throw badUserInput(`search ${term.message}`);
  return {
    where: {
      storeId,
      ...(includeHidden ? {} : { availability: { not: "HIDDEN" } }),
      ...(term
        ? {
            OR: [
              { name: { contains: term, mode: "insensitive" } },
              { sku: { equals: term, mode: "insensitive" } },
              // an item with options carries its SKUs on its variants (for the public, the ones it lists)
              { variants: { some: { sku: { equals: term, mode: "insensitive" }, ...(includeHidden ? {} : { availability: { not: "HIDDEN" } }) } } },
            ],
          }
        : {}),
    },
    orderBy: [{ name: "asc" }, { id: "asc" }],
  } satisfies Prisma.ItemFindManyArgs;
}

const SkuStockLevelObject = builder.objectRef<SkuStockLevel>("SkuStockLevel").implement({
  description: "a stock level as a spreadsheet row names it: by SKU and warehouse",
  fields: (t) => ({
    sku: t.exposeString("sku"),
    itemId: t.exposeID("itemId"),
    variantId: t.exposeID("variantId"),
    warehouseId: t.exposeID("warehouseId"),
    quantity: t.exposeInt("quantity"),
    product: t.exposeString("product", { description: "the item's name" }),
    variant: t.exposeString("variant", { description: '"Talla: M / Color: Negro"; empty for a default variant' }),
    trackInventory: t.exposeBoolean("trackInventory"),
    sellWithoutStock: t.exposeBoolean("sellWithoutStock"),
  }),
});

/** The key of a record of `storeId` by its id; null for an id that cannot exist. */
export const recordKey = (storeId: string, id: string | number) =>
  isRecordId(String(id)) ? { storeId_id: { storeId, id: String(id) } } : null;

builder.queryFields((t) => ({
  item: t.withAuth({ admin: true }).prismaField({
    type: "Item",
    nullable: true,
    description: "(admin)",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, { deps, adminStoreId }) => {
      const where = recordKey(adminStoreId, args.id);
      return where && deps.db.prisma.item.findUnique({ ...query, where });
    },
  }),
  stockLevelsBySku: t.withAuth({ admin: true }).field({
    type: [SkuStockLevelObject],
    description: `(admin) the stock levels, one per warehouse, of the variants with these SKUs (an item without options: its own SKU), as a spreadsheet's rows name them; 1 to ${MAX_SKUS_LOOKED_UP} SKUs`,
    args: { skus: t.arg.stringList({ required: true }) },
    complexity: upTo(MAX_SKUS_LOOKED_UP * MAX_WAREHOUSES),
    resolve: (_root, { skus }, { deps, adminStoreId }) => {
      if (skus.length < 1 || skus.length > MAX_SKUS_LOOKED_UP) throw badUserInput(`skus must have 1 to ${MAX_SKUS_LOOKED_UP} SKUs`);
      return levelsBySku(deps.db.prisma, adminStoreId, skus);
    },
  }),
  // Not t.withAuth: a field of its narrowed context cannot share ItemConnection with Store.items.
  items: t.prismaConnection(
    {
      type: "Item",
      description: "(admin) the token's store",
      authScopes: { admin: true },
      cursor: "storeId_id",
      maxSize: pageSize,
      complexity: pageCost,
      args: { search: t.arg.string() },
      resolve: (query, _root, args, { deps, adminStoreId }) => {
        checkCursorInStore(query, adminStoreId!);
        return deps.db.prisma.item.findMany({ ...query, ...catalogQuery(adminStoreId!, args.search, true) });
      },
    },
    ItemConnection,
  ),
}));

const ItemResult = resultUnion("ItemResult", ItemObject);

const ItemOptionInput = builder.inputType("ItemOptionInput", {
  fields: (t) => ({ name: t.string({ required: true }), values: t.stringList({ required: true }) }),
});

const VariantOptionValueInput = builder.inputType("VariantOptionValueInput", {
  fields: (t) => ({ name: t.string({ required: true }), value: t.string({ required: true }) }),
});

export const VariantInput = builder.inputType("VariantInput", {
  fields: (t) => ({
    options: t.field({ type: [VariantOptionValueInput], required: true, description: "one value of each of the item's options" }),
    sku: t.string(),
    price: t.field({ type: "Decimal" }),
    quantity: t.int({ description: "initial count in the main warehouse, recorded as INITIAL_COUNT" }),
  }),
});

const CreateItemInput = builder.inputType("CreateItemInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    type: t.field({ type: ItemTypeEnum, required: true }),
    price: t.field({ type: "Decimal", required: true }),
    sku: t.string(),
    trackInventory: t.boolean({ description: "default: true for PRODUCT, always false for SERVICE" }),
    quantity: t.int({ description: "initial count when tracked (default 0), recorded as INITIAL_COUNT" }),
    sellWithoutStock: t.boolean({ description: "default false" }),
    options: t.field({
      type: [ItemOptionInput],
      description: "with options, `variants` lists the combinations sold and `quantity` is not allowed",
    }),
    variants: t.field({ type: [VariantInput] }),
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
    variantId: t.id({ description: "required when the item has options" }),
    warehouseId: t.id({ description: "default: the main warehouse; expectedQuantity compares that level's quantity" }),
  }),
});

const AdjustItemQuantityInput = builder.inputType("AdjustItemQuantityInput", {
  fields: (t) => ({
    itemId: t.id({ required: true }),
    delta: t.int({ required: true }),
    note: t.string(),
    variantId: t.id(),
    warehouseId: t.id(),
  }),
});

const SetItemQuantitiesInput = builder.inputType("SetItemQuantitiesInput", {
  fields: (t) => ({
    entries: t.field({
      type: [SetItemQuantityInput],
      required: true,
      description: `1 to ${MAX_BULK_ENTRIES}; each as setItemQuantity (variantId, warehouseId, expectedQuantity)`,
    }),
    note: t.string({ description: "on every movement the count writes" }),
  }),
});

const BulkQuantitiesSetObject = builder.objectRef<BulkQuantitiesSet & { storeId: string }>("BulkQuantitiesSet").implement({
  fields: (t) => ({
    variants: t.prismaField({
      type: ["Variant"],
      description: "every variant changed, once",
      complexity: upTo(MAX_BULK_ENTRIES),
      resolve: async (query, set, _args, { deps }) => {
        const variants = await deps.db.prisma.variant.findMany({ ...query, where: { storeId: set.storeId, id: { in: set.variantIds } } });
        const position = new Map(set.variantIds.map((id, index) => [id, index]));
        return variants.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
      },
    }),
    changed: t.exposeInt("changed", { description: "entries whose count changed (an entry setting the current count changes nothing)" }),
  }),
});

const SetItemQuantitiesResult = resultUnion("SetItemQuantitiesResult", BulkQuantitiesSetObject, [BulkQuantitiesRefused, OperationError]);

/** The level a count names, its ids as strings. */
const levelOf = (input: { itemId: string | number; variantId?: string | number | null; warehouseId?: string | number | null }) => ({
  itemId: String(input.itemId),
  variantId: input.variantId == null ? null : String(input.variantId),
  warehouseId: input.warehouseId == null ? null : String(input.warehouseId),
});

builder.mutationFields((t) => {
  const admin = t.withAuth({ admin: true });
  return {
    createItem: admin.field({
      type: ItemResult,
      description: "(admin)",
      args: { input: t.arg({ type: CreateItemInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) => createItem(deps, adminStoreId, input),
    }),
    updateItem: admin.field({
      type: ItemResult,
      description: "(admin)",
      args: { input: t.arg({ type: UpdateItemInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) => updateItem(deps, adminStoreId, { ...input, id: String(input.id) }),
    }),
    setItemQuantity: admin.field({
      type: ItemResult,
      description: "(admin) MANUAL_SET",
      args: { input: t.arg({ type: SetItemQuantityInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) =>
        setItemQuantity(deps, adminStoreId, { ...input, ...levelOf(input) }),
    }),
    setItemQuantities: admin.field({
      type: SetItemQuantitiesResult,
      description: `(admin) a bulk count: all entries or none, MANUAL_SET`,
      args: { input: t.arg({ type: SetItemQuantitiesInput, required: true }) },
      resolve: async (_root, { input }, { deps, adminStoreId }) => {
        const entries = input.entries.map((entry) => ({ ...entry, ...levelOf(entry) }));
        const result = await setItemQuantities(deps, adminStoreId, { entries, note: input.note });
        return result instanceof Error ? result : { ...result, storeId: adminStoreId };
      },
    }),
    adjustItemQuantity: admin.field({
      type: ItemResult,
      description: "(admin) MANUAL_ADJUSTMENT",
      args: { input: t.arg({ type: AdjustItemQuantityInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) =>
        adjustItemQuantity(deps, adminStoreId, { ...input, ...levelOf(input) }),
    }),
  };
});
