import { resolveCursorConnection } from "@pothos/plugin-relay";
import { GraphQLError } from "graphql";
import { openLowStockAlerts } from "../../realtime/low-stock-alert-stream.ts";
import { listLowStockVariants, type LowStockPlace, type LowStockVariant } from "../../stock/low-stock.ts";
import { storeIdForSlug } from "../../stores/stores.ts";
import { builder } from "../builder.ts";
import { unauthorized } from "../context.ts";
import { pageCost } from "../cost.ts";
import { badUserInput, checkCursorInStore, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageSize } from "../pages.ts";
import { VariantObject } from "./variants.ts";

/** Low stock (SPEC section 9): thresholds, the low variants now, the alerts, and alerts as they happen. */

builder.prismaObjectFields("Variant", (t) => ({
  item: t.relation("item", {
    description: "(admin) the item it is a variant of: what a list of variants (lowStockVariants) shows each by",
    authScopes: (variant) => ({ adminOf: variant.storeId }),
  }),
  lowStockThreshold: t.exposeInt("lowStockThreshold", {
    nullable: true,
    description: "(admin) its own; null: the store's",
    authScopes: (variant) => ({ adminOf: variant.storeId }),
  }),
  lowStock: t.exposeBoolean("lowStock", {
    description: "(admin) tracked and availableQuantity <= the threshold in force",
    authScopes: (variant) => ({ adminOf: variant.storeId }),
  }),
}));

builder.prismaObjectFields("Item", (t) => ({
  lowStock: t.boolean({
    description: "(admin) any of its variants is low",
    authScopes: (item) => ({ adminOf: item.storeId }),
    select: { variants: { where: { lowStock: true }, select: { id: true }, take: 1 } },
    resolve: (item) => item.variants.length > 0,
  }),
}));

const LowStockAlertObject = builder.prismaObject("LowStockAlert", {
  fields: (t) => ({
    id: t.id({ resolve: (alert) => String(alert.id) }),
    item: t.relation("item"),
    variant: t.relation("variant"),
    availableQuantity: t.exposeInt("availableQuantity", { description: "at the moment it crossed" }),
    threshold: t.exposeInt("threshold"),
    at: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.queryFields((t) => ({
  lowStockAlerts: t.prismaConnection(
    {
      type: "LowStockAlert",
      description: "(admin) newest first",
      authScopes: { admin: true },
      cursor: "storeId_id",
      maxSize: pageSize,
      complexity: pageCost,
      resolve: (query, _root, _args, { deps, adminStoreId }) => {
        checkCursorInStore(query, adminStoreId!);
        return deps.db.prisma.lowStockAlert.findMany({ ...query, where: { storeId: adminStoreId! }, orderBy: { id: "desc" } });
      },
    },
    { name: "LowStockAlertConnection" },
    { name: "LowStockAlertEdge" },
  ),
  lowStockVariants: t.connection(
    {
      type: VariantObject,
      description: "(admin) low now, lowest available first, then by item name and variant id",
      authScopes: { admin: true },
      complexity: pageCost,
      resolve: (_root, args, { deps, adminStoreId }) => {
        pageSize(args);
        return resolveCursorConnection<Promise<LowStockVariant[]>>(
          { args, defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE, toCursor: (variant) => placeCursor(variant.place) },
          ({ before, after, limit, inverted }) =>
            listLowStockVariants(deps.db.pool, adminStoreId!, {
              after: after === undefined ? undefined : placeOfCursor(after),
              before: before === undefined ? undefined : placeOfCursor(before),
              limit,
              inverted,
            }),
        );
      },
    },
    { name: "VariantConnection" },
    { name: "VariantEdge" },
  ),
}));

/** A cursor of the low-stock list: the place of its variant there. */
const placeCursor = (place: LowStockPlace) => Buffer.from(JSON.stringify([place.available, place.name, place.id])).toString("base64url");

function placeOfCursor(cursor: string): LowStockPlace {
  try {
    const [available, name, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (Number.isSafeInteger(available) && typeof name === "string" && typeof id === "string" && /^[0-9a-f-]{36}$/i.test(id)) {
      return { available: available as number, name, id };
    }
  } catch {
    // not JSON: not a cursor of this list
  }
  throw badUserInput("after/before is not a cursor of this list");
}

builder.subscriptionField("lowStockAlertsAdded", (t) =>
  t.prismaField({
    type: "LowStockAlert",
    description: "(admin: the store's admin token as connectionParams { authorization: \"Bearer <adminToken>\" }) each alert once, after COMMIT, from any process",
    args: { store: t.arg.string({ required: true }) },
    // checked when it starts, not at each alert: another store's admin never listens
    subscribe: async (_root, args, context) => {
      const storeId = await storeIdForSlug(context.deps.db.prisma, args.store.trim().toLowerCase());
      if (!storeId || context.adminStoreId !== storeId) {
        if (context.adminStoreId && !storeId) throw new GraphQLError(`Store "${args.store}" not found`, { extensions: { code: "NOT_FOUND" } });
        throw unauthorized(null, context);
      }
      return openLowStockAlerts(context.deps.stockEvents, storeId);
    },
    resolve: (query, event, _args, { deps }) =>
      deps.db.prisma.lowStockAlert.findUniqueOrThrow({ ...query, where: { storeId_id: { storeId: event.storeId, id: BigInt(event.alert.id) } } }),
  }),
);
