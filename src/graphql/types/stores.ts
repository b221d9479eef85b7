import { switchAccountingSync } from "../../accounting/sync-switch.ts";
import { OutOfStockBehavior } from "../../generated/prisma/enums.ts";
import { MAX_WAREHOUSES } from "../../stock/warehouses.ts";
import {
  applyInventorySettings,
  checkInventorySettings,
  loadInventorySettings,
  updateInventorySettings,
  type InventorySettings,
} from "../../stores/inventory-settings.ts";
import { isStoreSlug } from "../../validation.ts";
import { builder } from "../builder.ts";
import { LOADER_OPTIONS, pageCost, upTo } from "../cost.ts";
import { checkCursorInStore, pageSize } from "../pages.ts";
import { resultUnion } from "./errors.ts";
import { catalogQuery, ItemConnection, recordKey } from "./items.ts";
import { WAREHOUSE_ORDER, WarehouseType } from "./warehouses.ts";

export const OutOfStockBehaviorEnum = builder.enumType(OutOfStockBehavior, {
  name: "OutOfStockBehavior",
  values: {
    MARK_SOLD_OUT: { description: '"Marcar como agotado" (the default)' },
    HIDE: { description: '"Ocultar producto": hidden until stock returns' },
  },
});

export const InventorySettingsType = builder.objectRef<InventorySettings>("InventorySettings").implement({
  fields: (t) => ({
    outOfStockBehavior: t.expose("outOfStockBehavior", { type: OutOfStockBehaviorEnum }),
    accountingConnected: t.exposeBoolean("accountingConnected"),
    accountingSync: t.exposeBoolean("accountingSync"),
    lowStockThreshold: t.exposeInt("lowStockThreshold", {
      nullable: true,
      description: "the store's default threshold; null = no alerts unless a variant sets one",
    }),
    reservationMinutes: t.exposeInt("reservationMinutes", { description: "how long a cart hold lasts; 0 = no holds. Default 10" }),
    // Settings are not a Prisma model, so their warehouse comes through a dataloader: one query
    // for the settings of every store in the answer.
    mainWarehouse: t.loadable({
      type: WarehouseType,
      nullable: true,
      load: (storeIds: string[], { deps }) =>
        deps.db.prisma.warehouse.findMany({ where: { storeId: { in: storeIds }, isMain: true } }),
      loaderOptions: LOADER_OPTIONS,
      sort: (warehouse) => warehouse.storeId,
      resolve: (settings) => settings.storeId,
    }),
    warehouses: t.loadableList({
      type: WarehouseType,
      description: "every warehouse of the store, main first, then by priority",
      complexity: upTo(MAX_WAREHOUSES),
      load: async (storeIds: string[], { deps }) => {
        const warehouses = await deps.db.prisma.warehouse.findMany({ where: { storeId: { in: storeIds } }, orderBy: [...WAREHOUSE_ORDER] });
        return storeIds.map((storeId) => warehouses.filter((warehouse) => warehouse.storeId === storeId));
      },
      loaderOptions: LOADER_OPTIONS,
      resolve: (settings) => settings.storeId,
    }),
  }),
});

/** Whether the request carries this store's own admin token (which also shows HIDDEN items). */
const isAdminOf = (context: { adminStoreId: string | null }, storeId: string) => context.adminStoreId === storeId;

builder.prismaObject("Store", {
  fields: (t) => ({
    slug: t.exposeString("slug"),
    name: t.exposeString("name"),
    items: t.prismaConnection(
      {
        type: "Item",
        description: "public: never HIDDEN items; admin: all",
        cursor: "storeId_id",
        maxSize: pageSize,
        complexity: pageCost,
        args: { search: t.arg.string() },
        resolve: (query, store, args, context) => {
          checkCursorInStore(query, store.id);
          return context.deps.db.prisma.item.findMany({ ...query, ...catalogQuery(store.id, args.search, isAdminOf(context, store.id)) });
        },
      },
      ItemConnection,
    ),
    item: t.prismaField({
      type: "Item",
      nullable: true,
      description: "public: null when HIDDEN",
      args: { id: t.arg.id({ required: true }) },
      resolve: (query, store, args, context) => {
        const key = recordKey(store.id, args.id)?.storeId_id;
        const hidden = isAdminOf(context, store.id) ? {} : { availability: { not: "HIDDEN" as const } };
        return key ? context.deps.db.prisma.item.findFirst({ ...query, where: { ...key, ...hidden } }) : null;
      },
    }),
    inventorySettings: t.field({
      type: InventorySettingsType,
      description: "(admin)",
      authScopes: (store) => ({ adminOf: store.id }),
      resolve: (store, _args, { deps }) => loadInventorySettings(deps.db.prisma, store.id),
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
      return isStoreSlug(slug) ? context.deps.db.prisma.store.findUnique({ ...query, where: { slug } }) : null;
    },
  }),
);

const UpdateInventorySettingsInput = builder.inputType("UpdateInventorySettingsInput", {
  fields: (t) => ({
    outOfStockBehavior: t.field({ type: OutOfStockBehaviorEnum }),
    accountingSync: t.boolean(),
    lowStockThreshold: t.int({ description: ">= 0; a variant that already meets it records an alert" }),
    clearLowStockThreshold: t.boolean({ description: "true: set the store default to null" }),
    reservationMinutes: t.int({ description: "0 to 120; holds already HELD keep their expiry" }),
  }),
});

export const SettingsResult = resultUnion("SettingsResult", InventorySettingsType);

builder.mutationField("updateInventorySettings", (t) =>
  t.withAuth({ admin: true }).field({
    type: SettingsResult,
    description: "(admin)",
    args: { input: t.arg({ type: UpdateInventorySettingsInput, required: true }) },
    // With accounting's switch, the rest is changed in its transaction: all of it, or (refused) nothing.
    resolve: async (_root, { input }, { deps, adminStoreId }) => {
      if (input.accountingSync == null) return updateInventorySettings(deps, adminStoreId, input);
      const wrong = checkInventorySettings(input);
      if (wrong) return wrong;
      const refused = await switchAccountingSync(deps, adminStoreId, input.accountingSync, (tx) =>
        applyInventorySettings(tx, adminStoreId, input),
      );
      return refused ?? loadInventorySettings(deps.db.prisma, adminStoreId);
    },
  }),
);
