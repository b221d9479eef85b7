import { connectAccounting, openAccountingLink } from "../../accounting/connection.ts";
import { invoiceOrder } from "../../accounting/invoicing.ts";
import { syncInventory } from "../../accounting/inventory-sync.ts";
import { UnmatchedReason, type UnmatchedItem } from "../../accounting/matching.ts";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { SyncStatus, SyncTrigger } from "../../generated/prisma/enums.ts";
import { loadInventorySettings } from "../../stores/inventory-settings.ts";
import { builder } from "../builder.ts";
import { FLAT_LIST, LOADER_OPTIONS, upTo } from "../cost.ts";
import { badUserInput, MAX_PAGE_SIZE } from "../pages.ts";
import { resultUnion } from "./errors.ts";
import { OrderResult } from "./orders.ts";
import { InventorySettingsType, SettingsResult } from "./stores.ts";

const SyncStatusEnum = builder.enumType(SyncStatus, { name: "SyncStatus" });

const SyncTriggerEnum = builder.enumType(SyncTrigger, {
  name: "SyncTrigger",
  values: {
    MANUAL: { description: '"Sincronizar ahora" (syncInventoryNow)' },
    SYNC_ENABLED: { description: "the first sync, when accounting sync was switched on" },
    SCHEDULED: { description: "the periodic reconciliation" },
    WEBHOOK: { description: "a notification that did not name the items it touched" },
  },
});

const UnmatchedReasonEnum = builder.enumType(UnmatchedReason, {
  name: "UnmatchedReason",
  values: {
    NO_SKU: { description: "the store item or variant has no SKU (and no accounting id) to be matched by" },
    NO_ACCOUNTING_ITEM: { description: "no accounting item has the SKU as its reference" },
    DUPLICATE_REFERENCE: { description: "several accounting items have the SKU as their reference" },
    ALREADY_MATCHED: { description: "the accounting item is matched to another store item or variant" },
    PAST_LIMIT: {
      description: "matched, but its accounting counts would take the variant or its item past 1000000000 units (or -1000000000) over the warehouses that fulfil online orders",
    },
  },
});

const UnmatchedItemType = builder.objectRef<UnmatchedItem>("UnmatchedItem").implement({
  description: "A store item or variant a sync could not match to an accounting item; its counts were left as they were.",
  fields: (t) => ({
    itemId: t.exposeID("itemId"),
    variantId: t.exposeID("variantId", {
      nullable: true,
      description: "the variant left unmatched (an item without options: its default variant); null in runs older than variants",
    }),
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
    unmatched: t.field({ type: [UnmatchedItemType], complexity: FLAT_LIST, resolve: (run) => run.unmatched as UnmatchedItem[] }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

const SyncResult = resultUnion("SyncResult", SyncRunObject);

builder.objectFields(InventorySettingsType, (t) => ({
  // Through a dataloader, like mainWarehouse: the newest run of every store in the answer at once.
  lastSync: t.loadable({
    type: SyncRunObject,
    nullable: true,
    load: (storeIds: string[], { deps }) => newestSyncRuns(deps.db.prisma, storeIds),
    loaderOptions: LOADER_OPTIONS,
    sort: (run) => run.storeId,
    resolve: (settings) => settings.storeId,
  }),
  webhookUrl: t.string({
    nullable: true,
    description: "(admin) where the accounting system delivers its notifications; null until connected",
    authScopes: (settings) => ({ adminOf: settings.storeId }),
    resolve: async (settings, _args, { deps }) => (await openAccountingLink(deps, settings.storeId))?.webhookUrl ?? null,
  }),
}));

/** The newest sync run of each store: two indexed reads (sync_runs by store and start), whatever the number of stores. */
async function newestSyncRuns(prisma: PrismaClient, storeIds: string[]) {
  const newest = await prisma.syncRun.groupBy({ by: ["storeId"], where: { storeId: { in: storeIds } }, _max: { startedAt: true } });
  const keys = newest.flatMap(({ storeId, _max }) => (_max.startedAt ? [{ storeId, startedAt: _max.startedAt }] : []));
  return keys.length === 0 ? [] : prisma.syncRun.findMany({ where: { OR: keys } });
}

const ConnectAccountingInput = builder.inputType("ConnectAccountingInput", {
  fields: (t) => ({
    baseUrl: t.string({ description: "default: the accounting provider's public API base" }),
    email: t.string({ required: true }),
    token: t.string({ required: true }),
    invoiceClientId: t.id({ description: 'the accounting contact sales invoices are issued to (default "1")' }),
  }),
});

builder.queryField("syncRuns", (t) =>
  t.withAuth({ admin: true }).prismaField({
    type: ["SyncRun"],
    description: "(admin) newest first",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    complexity: ({ first }) => upTo(Math.min(Math.max(first ?? 1, 1), MAX_PAGE_SIZE)),
    resolve: (query, _root, { first }, { deps, adminStoreId }) => {
      if (first == null || first < 1 || first > MAX_PAGE_SIZE) throw badUserInput(`first must be between 1 and ${MAX_PAGE_SIZE}`);
      return deps.db.prisma.syncRun.findMany({ ...query, where: { storeId: adminStoreId }, orderBy: { startedAt: "desc" }, take: first });
    },
  }),
);

builder.mutationFields((t) => {
  const admin = t.withAuth({ admin: true });
  return {
    connectAccounting: admin.field({
      type: SettingsResult,
      description: "(admin) stores the credentials after checking them with one call; the token is never returned",
      args: { input: t.arg({ type: ConnectAccountingInput, required: true }) },
      resolve: async (_root, { input }, { deps, adminStoreId }) => {
        const invoiceClientId = input.invoiceClientId == null ? null : String(input.invoiceClientId);
        const refused = await connectAccounting(deps, adminStoreId, { ...input, invoiceClientId });
        return refused ?? loadInventorySettings(deps.db.prisma, adminStoreId);
      },
    }),
    syncInventoryNow: admin.field({
      type: SyncResult,
      description: '(admin) "Sincronizar ahora"',
      resolve: (_root, _args, { deps, adminStoreId }) => syncInventory(deps, adminStoreId, { trigger: "MANUAL" }),
    }),
    invoiceOrder: admin.field({
      type: OrderResult,
      description: "(admin) issue the sales invoice in accounting",
      args: { orderId: t.arg.id({ required: true }) },
      resolve: (_root, args, { deps, adminStoreId }) => invoiceOrder(deps, adminStoreId, String(args.orderId)),
    }),
  };
});
