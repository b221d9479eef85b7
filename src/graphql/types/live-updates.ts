import { GraphQLError } from "graphql";
import type { StockEvent } from "../../realtime/stock-events.ts";
import { openStockUpdates } from "../../realtime/stock-update-stream.ts";
import { storeIdForSlug } from "../../stores/stores.ts";
import { builder } from "../builder.ts";
import type { GraphQLContext } from "../context.ts";
import { AvailabilityEnum } from "./items.ts";

const StockUpdateType = builder.objectRef<StockEvent>("StockUpdate").implement({
  fields: (t) => ({
    itemId: t.exposeID("itemId"),
    availability: t.expose("availability", { type: AvailabilityEnum }),
    availableQuantity: t.exposeInt("availableQuantity", { nullable: true }),
    version: t.exposeInt("version"),
    variantId: t.exposeID("variantId", {
      description: "the variant whose stock changed (the default variant for an item without options)",
    }),
    variantAvailability: t.expose("variantAvailability", { type: AvailabilityEnum }),
    variantAvailableQuantity: t.exposeInt("variantAvailableQuantity", { nullable: true }),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

builder.subscriptionFields((t) => ({
  stockUpdates: t.field({
    type: StockUpdateType,
    description: "every change of an item's stock or availability",
    args: { store: t.arg.string({ required: true }), itemIds: t.arg.idList() },
    // starts once the store's events reach it (Redis confirmed the channel): then no update committed later is missed
    subscribe: async (_root, args, context) =>
      openStockUpdates(context.deps.stockEvents, {
        storeId: await storeIdOf(context, args.store),
        itemIds: args.itemIds?.map(String),
      }),
    resolve: (update) => update,
  }),
  availabilityChanges: t.field({
    type: StockUpdateType,
    description: "only when availability changes, e.g. IN_STOCK -> SOLD_OUT",
    args: { store: t.arg.string({ required: true }) },
    subscribe: async (_root, args, context) =>
      openStockUpdates(context.deps.stockEvents, {
        storeId: await storeIdOf(context, args.store),
        availabilityChangesOnly: true,
      }),
    resolve: (update) => update,
  }),
}));

/** Subscriptions are public and name their store by slug; an unknown one is NOT_FOUND. */
async function storeIdOf(context: GraphQLContext, slug: string) {
  const storeId = await storeIdForSlug(context.deps.db.prisma, slug.trim().toLowerCase());
  if (!storeId) throw new GraphQLError(`Store "${slug}" not found`, { extensions: { code: "NOT_FOUND" } });
  return storeId;
}
