import { connectAccounting, openAccountingLink } from "../../accounting/connection.ts";
import { invoiceOrder } from "../../accounting/invoicing.ts";
import { syncInventory } from "../../accounting/inventory-sync.ts";
import type { UnmatchedItem } from "../../accounting/matching.ts";
import { loadInventorySettings } from "../../stores/inventory-settings.ts";
import { builder } from "../builder.ts";
import { adminStoreId, badUserInput, requireAdminOf } from "../context.ts";
import { resultUnion } from "./errors.ts";
import { OrderResult } from "./orders.ts";
import { InventorySettingsType, SettingsResult } from "./stores.ts";

const SyncStatusEnum = builder.enumType("SyncStatus", { values: ["RUNNING", "SUCCEEDED", "FAILED"] as const });

const SyncTriggerEnum = builder.enumType("SyncTrigger", {
  values: {
    MANUAL: { description: '"Sincronizar ahora" (syncInventoryNow)' },
    SYNC_ENABLED: { description: "the first sync, when accounting sync was switched on" },
    SCHEDULED: { description: "the periodic reconciliation" },
    WEBHOOK: { description: "a notification that did not name the items it touched" },
  } as const,
});

const UnmatchedReasonEnum = builder.enumType("UnmatchedReason", {
  values: {
    NO_SKU: { description: "the store item has no SKU (and no accounting id) to be matched by" },
    NO_ACCOUNTING_ITEM: { description: "no accounting item has the SKU as its reference" },
    DUPLICATE_REFERENCE: { description: "several accounting items have the SKU as their reference" },
    ALREADY_MATCHED: { description: "the accounting item is matched to another store item" },
  } as const,
});

const UnmatchedItemType = builder.objectRef<UnmatchedItem>("UnmatchedItem").implement({
  description: "A store item a sync could not match to an accounting item; its count was left as it was.",
  fields: (t) => ({
    itemId: t.exposeID("itemId"),
    sku: t.exposeString("sku", { nullable: true }),
    reason: t.expose("reason", { type: UnmatchedReasonEnum }),
    detail: t.exposeString("detail"),
  }),
});

const SyncRunObject = builder.prismaObject("SyncRun", {
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: SyncStatusEnum }),
    trigger: t.expose("trigger", { type: SyncTriggerEnum }),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    itemsMatched: t.exposeInt("itemsMatched"),
    itemsUpdated: t.exposeInt("itemsUpdated", { description: "matched items whose quantity changed" }),
    itemsUnmatched: t.exposeInt("itemsUnmatched"),
    unmatched: t.field({ type: [UnmatchedItemType], resolve: (run) => run.unmatched as UnmatchedItem[] }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

const SyncResult = resultUnion("SyncResult", SyncRunObject);

builder.objectFields(InventorySettingsType, (t) => ({
  lastSync: t.field({
    type: SyncRunObject,
    nullable: true,
    resolve: (settings, _args, context) =>
      context.deps.db.prisma.syncRun.findFirst({ where: { storeId: settings.storeId }, orderBy: { startedAt: "desc" } }),
  }),
  webhookUrl: t.string({
    nullable: true,
    description: "(admin) where the accounting system delivers its notifications; null until connected",
    resolve: async (settings, _args, context) => {
      await requireAdminOf(context, settings.storeId);
      return (await openAccountingLink(context.deps, settings.storeId))?.webhookUrl ?? null;
    },
  }),
}));

const ConnectAccountingInput = builder.inputType("ConnectAccountingInput", {
  fields: (t) => ({
    baseUrl: t.string({ description: "default: the accounting provider's public API base" }),
    email: t.string({ required: true }),
    token: t.string({ required: true }),
    invoiceClientId: t.id({ description: 'the accounting contact sales invoices are issued to (default "1")' }),
  }),
});

builder.queryField("syncRuns", (t) =>
  t.prismaField({
    type: ["SyncRun"],
    description: "(admin) newest first",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: async (query, _root, args, context) => {
      const storeId = await adminStoreId(context);
      const first = args.first ?? 20;
      if (!Number.isInteger(first) || first < 1 || first > 100) throw badUserInput("first must be between 1 and 100");
      return context.deps.db.prisma.syncRun.findMany({ ...query, where: { storeId }, orderBy: { startedAt: "desc" }, take: first });
    },
  }),
);

builder.mutationFields((t) => ({
  connectAccounting: t.field({
    type: SettingsResult,
    description: "(admin) stores the credentials after checking them with one call; the token is never returned",
    args: { input: t.arg({ type: ConnectAccountingInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const storeId = await adminStoreId(context);
      const invoiceClientId = input.invoiceClientId == null ? null : String(input.invoiceClientId);
      return (
        (await connectAccounting(context.deps, storeId, { ...input, invoiceClientId })) ??
        loadInventorySettings(context.deps.db.pool, storeId)
      );
    },
  }),
  syncInventoryNow: t.field({
    type: SyncResult,
    description: '(admin) "Sincronizar ahora"',
    resolve: async (_root, _args, context) =>
      syncInventory(context.deps, await adminStoreId(context), { trigger: "MANUAL" }),
  }),
  invoiceOrder: t.field({
    type: OrderResult,
    description: "(admin) issue the sales invoice in accounting",
    args: { orderId: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) =>
      invoiceOrder(context.deps, await adminStoreId(context), String(args.orderId)),
  }),
}));
