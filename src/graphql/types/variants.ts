import { InsufficientStockError, OperationError } from "../../errors.ts";
import { tracksInventory } from "../../stock/availability.ts";
import { transferStock } from "../../stock/counts.ts";
import { addVariant, MAX_OPTIONS, MAX_VARIANTS, updateVariant, type ItemOption, type OptionValue } from "../../stock/variants.ts";
import { MAX_WAREHOUSES } from "../../stock/warehouses.ts";
import { builder } from "../builder.ts";
import { LOADER_OPTIONS, upTo } from "../cost.ts";
import { resultUnion } from "./errors.ts";
import { AvailabilityEnum, recordKey, VariantInput } from "./items.ts";
import { loadWarehouses, WAREHOUSE_ORDER, WarehouseType } from "./warehouses.ts";

/** Options and variants (SPEC section 8): what a T-shirt in sizes and colours is sold and stocked as. */

const ItemOptionType = builder.objectRef<ItemOption>("ItemOption").implement({
  fields: (t) => ({
    name: t.exposeString("name", { description: '"Talla"' }),
    values: t.exposeStringList("values", { description: '["S", "M", "L"], in the merchant\'s order' }),
  }),
});

const VariantOptionValueType = builder.objectRef<OptionValue>("VariantOptionValue").implement({
  fields: (t) => ({
    name: t.exposeString("name", { description: '"Talla"' }),
    value: t.exposeString("value", { description: '"M"' }),
  }),
});

/** What a variant reads of its item: its price and whether it tracks inventory. */
const ITEM_SETTINGS = { item: { select: { price: true, type: true, trackInventory: true } } } as const;

export const VariantObject = builder.prismaObject("Variant", {
  fields: (t) => ({
    id: t.exposeID("id"),
    itemId: t.exposeID("itemId"),
    sku: t.exposeString("sku", { nullable: true }),
    options: t.field({
      type: [VariantOptionValueType],
      description: "empty for the default variant of an item without options",
      complexity: upTo(MAX_OPTIONS),
      resolve: (variant) => variant.options as OptionValue[],
    }),
    price: t.field({
      type: "Decimal",
      description: "its own price, else the item's",
      select: ITEM_SETTINGS,
      resolve: (variant) => variant.price ?? variant.item.price,
    }),
    quantity: t.int({
      nullable: true,
      description: "sum over the warehouses that fulfil online orders; null when not tracked",
      select: ITEM_SETTINGS,
      resolve: (variant) => (tracksInventory(variant.item) ? variant.quantity : null),
    }),
    committedQuantity: t.int({
      select: ITEM_SETTINGS,
      resolve: (variant) => (tracksInventory(variant.item) ? variant.committedQuantity : 0),
    }),
    availableQuantity: t.int({
      nullable: true,
      description: "quantity - committedQuantity - reservedQuantity",
      select: ITEM_SETTINGS,
      resolve: (variant) => (tracksInventory(variant.item) ? variant.quantity - variant.committedQuantity - variant.reservedQuantity : null),
    }),
    reservedQuantity: t.int({
      description: "(admin) held for carts: the sum over the warehouses that fulfil online orders",
      authScopes: (variant) => ({ adminOf: variant.storeId }),
      select: ITEM_SETTINGS,
      resolve: (variant) => (tracksInventory(variant.item) ? variant.reservedQuantity : 0),
    }),
    availability: t.expose("availability", { type: AvailabilityEnum }),
    version: t.exposeInt("version", { description: "grows with every change of this variant's stock or availability" }),
    stockLevels: t.relation("stockLevels", {
      description: "(admin) one per warehouse of the store, fulfilling or not: the main one first, then by priority",
      authScopes: (variant) => ({ adminOf: variant.storeId }),
      complexity: upTo(MAX_WAREHOUSES),
      query: { orderBy: WAREHOUSE_ORDER.map((order) => ({ warehouse: order })) },
    }),
  }),
});

builder.prismaObject("StockLevel", {
  fields: (t) => ({
    // through a dataloader, not the relation: an answer may hold thousands of levels, of at most 50 warehouses
    warehouse: t.loadable({
      type: WarehouseType,
      load: loadWarehouses,
      loaderOptions: LOADER_OPTIONS,
      resolve: (level) => `${level.storeId}/${level.warehouseId}`,
    }),
    quantity: t.exposeInt("quantity", { description: 'may be negative where "Vender sin Stock" took units not there' }),
    committedQuantity: t.exposeInt("committedQuantity"),
    reservedQuantity: t.exposeInt("reservedQuantity", { description: "held for carts" }),
    availableQuantity: t.int({
      description: "quantity - committedQuantity - reservedQuantity (negative where a recount left less than carts hold)",
      resolve: (level) => level.quantity - level.committedQuantity - level.reservedQuantity,
    }),
  }),
});

builder.prismaObjectFields("Item", (t) => ({
  options: t.field({ type: [ItemOptionType], complexity: upTo(MAX_OPTIONS), resolve: (item) => item.options as ItemOption[] }),
  variants: t.relation("variants", {
    description: "public: HIDDEN variants left out; always at least the default variant",
    complexity: upTo(MAX_VARIANTS),
    // the store's own admin sees them all; an item without options always shows its one variant
    query: (_args, context) => ({
      where: {
        OR: [
          { availability: { not: "HIDDEN" as const } },
          { isDefault: true },
          ...(context.adminStoreId ? [{ storeId: context.adminStoreId }] : []),
        ],
      },
      orderBy: { position: "asc" as const },
    }),
  }),
}));

builder.queryField("variant", (t) =>
  t.withAuth({ admin: true }).prismaField({
    type: "Variant",
    nullable: true,
    description: "(admin)",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, { deps, adminStoreId }) => {
      const where = recordKey(adminStoreId, args.id);
      return where && deps.db.prisma.variant.findUnique({ ...query, where });
    },
  }),
);

const AddVariantInput = builder.inputType("AddVariantInput", {
  fields: (t) => ({
    itemId: t.id({ required: true }),
    variant: t.field({ type: VariantInput, required: true }),
  }),
});

const UpdateVariantInput = builder.inputType("UpdateVariantInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    sku: t.string({ description: "an empty one clears it" }),
    price: t.field({ type: "Decimal" }),
    lowStockThreshold: t.int({ description: ">= 0; a threshold the variant already meets records an alert" }),
    clearLowStockThreshold: t.boolean({ description: "true: follow the store's default again" }),
  }),
});

const TransferStockInput = builder.inputType("TransferStockInput", {
  fields: (t) => ({
    variantId: t.id({ required: true }),
    fromWarehouseId: t.id({ required: true }),
    toWarehouseId: t.id({ required: true }),
    quantity: t.int({ required: true, description: "> 0; never takes the source below zero" }),
    note: t.string(),
  }),
});

const VariantResult = resultUnion("VariantResult", VariantObject);
const TransferResult = resultUnion("TransferResult", VariantObject, [InsufficientStockError, OperationError]);

builder.mutationFields((t) => {
  const admin = t.withAuth({ admin: true });
  return {
    addVariant: admin.field({
      type: VariantResult,
      description: "(admin) a new combination of the item's options",
      args: { input: t.arg({ type: AddVariantInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) => addVariant(deps, adminStoreId, { ...input, itemId: String(input.itemId) }),
    }),
    updateVariant: admin.field({
      type: VariantResult,
      description: "(admin)",
      args: { input: t.arg({ type: UpdateVariantInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) => updateVariant(deps, adminStoreId, { ...input, id: String(input.id) }),
    }),
    transferStock: admin.field({
      type: TransferResult,
      description: "(admin) two TRANSFER movements sharing a transferId",
      args: { input: t.arg({ type: TransferStockInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) =>
        transferStock(deps, adminStoreId, {
          ...input,
          variantId: String(input.variantId),
          fromWarehouseId: String(input.fromWarehouseId),
          toWarehouseId: String(input.toWarehouseId),
        }),
    }),
  };
});
