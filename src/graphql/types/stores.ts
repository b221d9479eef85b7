import { loadInventorySettings, updateInventorySettings, type InventorySettings } from "../../stores/inventory-settings.ts";
import { isRecordId, isStoreSlug } from "../../validation.ts";
import { builder } from "../builder.ts";
import { adminStoreId, requireAdminOf } from "../context.ts";
import { resultUnion } from "./errors.ts";
import { ItemConnection, ItemObject, WarehouseType, listItems } from "./items.ts";

export const OutOfStockBehaviorEnum = builder.enumType("OutOfStockBehavior", {
  values: {
    MARK_SOLD_OUT: { description: '"Marcar como agotado" (the default)' },
    HIDE: { description: '"Ocultar producto": hidden until stock returns' },
  } as const,
});

export const InventorySettingsType = builder.objectRef<InventorySettings>("InventorySettings").implement({
  fields: (t) => ({
    outOfStockBehavior: t.expose("outOfStockBehavior", { type: OutOfStockBehaviorEnum }),
    accountingConnected: t.exposeBoolean("accountingConnected"),
    accountingSync: t.exposeBoolean("accountingSync"),
    mainWarehouse: t.field({
      type: WarehouseType,
      nullable: true,
      resolve: (settings, _args, context) =>
        context.deps.db.prisma.warehouse.findFirst({ where: { storeId: settings.storeId, isMain: true } }),
    }),
  }),
});

/** Whether the request carries this store's own admin token (which also shows HIDDEN items). */
async function isAdminOf(context: { adminStore(): Promise<string | null> }, storeId: string) {
  return (await context.adminStore().catch(() => null)) === storeId;
}

builder.prismaObject("Store", {
  fields: (t) => ({
    slug: t.exposeString("slug"),
    name: t.exposeString("name"),
    items: t.field({
      type: ItemConnection,
      description: "public: never HIDDEN items; admin: all",
      args: { first: t.arg.int({ defaultValue: 50 }), after: t.arg.string(), search: t.arg.string() },
      resolve: async (store, args, context) => listItems(context, store.id, args, await isAdminOf(context, store.id)),
    }),
    item: t.field({
      type: ItemObject,
      nullable: true,
      description: "public: null when HIDDEN",
      args: { id: t.arg.id({ required: true }) },
      resolve: async (store, args, context) => {
        const id = String(args.id);
        if (!isRecordId(id)) return null;
        const item = await context.deps.db.prisma.item.findUnique({ where: { storeId_id: { storeId: store.id, id } } });
        if (item?.availability === "HIDDEN" && !(await isAdminOf(context, store.id))) return null;
        return item;
      },
    }),
    inventorySettings: t.field({
      type: InventorySettingsType,
      description: "(admin)",
      resolve: async (store, _args, context) => {
        await requireAdminOf(context, store.id);
        return loadInventorySettings(context.deps.db.pool, store.id);
      },
    }),
  }),
});

builder.queryField("store", (t) =>
  t.prismaField({
    type: "Store",
    nullable: true,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, _root, args, context) => {
      const slug = args.slug.trim().toLowerCase();
      if (!isStoreSlug(slug)) return null;
      return context.deps.db.prisma.store.findUnique({ ...query, where: { slug } });
    },
  }),
);

const UpdateInventorySettingsInput = builder.inputType("UpdateInventorySettingsInput", {
  fields: (t) => ({
    outOfStockBehavior: t.field({ type: OutOfStockBehaviorEnum }),
    accountingSync: t.boolean(),
  }),
});

export const SettingsResult = resultUnion("SettingsResult", InventorySettingsType);

builder.mutationField("updateInventorySettings", (t) =>
  t.field({
    type: SettingsResult,
    description: "(admin)",
    args: { input: t.arg({ type: UpdateInventorySettingsInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      updateInventorySettings(context.deps, await adminStoreId(context), input),
  }),
);
