import type { Warehouse } from "../../generated/prisma/client.ts";
import { createWarehouse, deleteWarehouse, updateWarehouse } from "../../stock/warehouses.ts";
import type { GraphQLContext } from "../context.ts";
import { builder } from "../builder.ts";
import { resultUnion } from "./errors.ts";

/** Warehouses ("bodegas", SPEC section 8): the store's places of stock, and which of them serve online orders. */
export const WarehouseType = builder.prismaObject("Warehouse", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    accountingId: t.exposeID("accountingId", { nullable: true }),
    isMain: t.exposeBoolean("isMain"),
    fulfilsOnlineOrders: t.exposeBoolean("fulfilsOnlineOrders", {
      description: "its stock counts for the storefront and orders take from it",
    }),
    priority: t.exposeInt("priority", { description: "orders take from fulfilling warehouses in ascending priority" }),
  }),
});

/** Every warehouse of a store as lists show them: the main one first, then by priority. */
export const WAREHOUSE_ORDER = [{ isMain: "desc" }, { priority: "asc" }, { createdAt: "asc" }, { id: "asc" }] as const;

/**
 * What an allocation or movement of a warehouse deleted since shows: the history outlives an
 * (empty) warehouse, so the id stays and the rest says it is gone.
 */
export const deletedWarehouse = (storeId: string, id: string): Warehouse => ({
  storeId,
  id,
  name: "Bodega eliminada",
  accountingId: null,
  isMain: false,
  fulfilsOnlineOrders: false,
  priority: 0,
  createdAt: new Date(0),
});

/**
 * The warehouses of `storeId/id` keys, in their order, for the dataloaders of fields that name a
 * warehouse: a stock level's, an allocation's. However many levels an answer holds, their
 * warehouses are the few of their store, read once. A key of a deleted one (allocations keep no
 * foreign key to it) answers `deletedWarehouse`.
 */
export async function loadWarehouses(keys: readonly string[], { deps }: GraphQLContext): Promise<Warehouse[]> {
  const pairs = keys.map((key) => key.split("/") as [string, string]);
  const found = await deps.db.prisma.warehouse.findMany({
    where: { storeId: { in: [...new Set(pairs.map(([storeId]) => storeId))] }, id: { in: pairs.map(([, id]) => id) } },
  });
  const byKey = new Map(found.map((warehouse) => [`${warehouse.storeId}/${warehouse.id}`, warehouse]));
  return pairs.map(([storeId, id]) => byKey.get(`${storeId}/${id}`) ?? deletedWarehouse(storeId, id));
}

const WarehouseResult = resultUnion("WarehouseResult", WarehouseType);

const CreateWarehouseInput = builder.inputType("CreateWarehouseInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    fulfilsOnlineOrders: t.boolean({ description: "default false" }),
    priority: t.int({ description: "default: after the existing ones" }),
  }),
});

const UpdateWarehouseInput = builder.inputType("UpdateWarehouseInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    fulfilsOnlineOrders: t.boolean(),
    priority: t.int(),
  }),
});

builder.mutationFields((t) => {
  const admin = t.withAuth({ admin: true });
  return {
    createWarehouse: admin.field({
      type: WarehouseResult,
      description: "(admin) at most 50 per store",
      args: { input: t.arg({ type: CreateWarehouseInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) => createWarehouse(deps, adminStoreId, input),
    }),
    updateWarehouse: admin.field({
      type: WarehouseResult,
      description: "(admin) switching fulfilsOnlineOrders recomputes the quantities and availability of the store's variants",
      args: { input: t.arg({ type: UpdateWarehouseInput, required: true }) },
      resolve: (_root, { input }, { deps, adminStoreId }) => updateWarehouse(deps, adminStoreId, { ...input, id: String(input.id) }),
    }),
    deleteWarehouse: admin.field({
      type: WarehouseResult,
      description: "(admin) not the main one, nor one holding stock or allocations",
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, { deps, adminStoreId }) => deleteWarehouse(deps, adminStoreId, String(id)),
    }),
  };
});
