import { ReservationStatus } from "../../generated/prisma/enums.ts";
import { InsufficientStockError, OperationError } from "../../errors.ts";
import { countReservationOutcome } from "../../observability/metrics.ts";
import { MAX_ORDER_LINES } from "../../orders/order-lines.ts";
import {
  openReservation,
  releaseReservation,
  releaseReservationAsAdmin,
  reserveStock,
  storeOfReservationToken,
  type ReservationGrant,
} from "../../orders/reservations.ts";
import { storeIdForSlug } from "../../stores/stores.ts";
import { builder } from "../builder.ts";
import { pageCost, upTo } from "../cost.ts";
import { checkoutRefused } from "../context.ts";
import { checkOrderRate, orderClientOf } from "../order-rate.ts";
import { checkCursorInStore, pageSize } from "../pages.ts";
import type { MutationStore } from "../selection-auth.ts";
import { resultUnion } from "./errors.ts";
import { recordKey } from "./items.ts";
import { lineInputs, OrderLineInput, ReservationRefInput } from "./orders.ts";

/** Cart holds (SPEC section 9): units kept for a shopper while they pay, released on time, exactly once. */

const ReservationStatusEnum = builder.enumType(ReservationStatus, {
  name: "ReservationStatus",
  values: {
    HELD: { description: "its units are kept for this shopper until expiresAt" },
    CONVERTED: { description: "an order was placed with it" },
    RELEASED: { description: "the shopper or the merchant gave it up" },
    EXPIRED: { description: "expiresAt passed first" },
  },
});

builder.prismaObject("ReservationLine", {
  fields: (t) => ({
    item: t.relation("item"),
    variant: t.relation("variant"),
    quantity: t.exposeInt("quantity"),
  }),
});

const ReservationObject = builder.prismaObject("Reservation", {
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: ReservationStatusEnum }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    lines: t.relation("lines", { complexity: upTo(MAX_ORDER_LINES), query: { orderBy: [{ itemId: "asc" }, { variant: { position: "asc" } }] } }),
    orderId: t.exposeID("orderId", { nullable: true, description: "once CONVERTED" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const ReservationGrantObject = builder.objectRef<ReservationGrant>("ReservationGrant").implement({
  description: "returned once, to the shopper who made the hold: the token opens it for placeOrder and release",
  fields: (t) => ({
    reservation: t.field({ type: ReservationObject, resolve: (grant) => grant.reservation }),
    token: t.exposeString("token"),
  }),
});

const ReserveStockInput = builder.inputType("ReserveStockInput", {
  fields: (t) => ({
    lines: t.field({ type: [OrderLineInput], required: true, description: "as an order's lines (variantId required for items with options)" }),
    idempotencyKey: t.string({ description: "a retry with the same key and request answers the same hold" }),
  }),
});

const ReserveStockResult = resultUnion("ReserveStockResult", ReservationGrantObject, [InsufficientStockError, OperationError]);
const ReservationResult = resultUnion("ReservationResult", ReservationObject);

builder.queryFields((t) => ({
  reservation: t.prismaField({
    type: "Reservation",
    nullable: true,
    description: "the shopper with its token, or the store's admin; null for an unknown hold or a token that does not open it",
    args: { id: t.arg.id({ required: true }), token: t.arg.string() },
    resolve: async (query, _root, args, { deps, adminStoreId }) => {
      if (args.token != null) {
        const opened = await openReservation(deps.db.prisma, { id: String(args.id), token: args.token });
        if (opened) return deps.db.prisma.reservation.findUnique({ ...query, where: { storeId_id: { storeId: opened.storeId, id: opened.id } } });
      }
      const where = adminStoreId ? recordKey(adminStoreId, args.id) : null;
      return where && deps.db.prisma.reservation.findUnique({ ...query, where });
    },
  }),
  reservations: t.prismaConnection(
    {
      type: "Reservation",
      description: "(admin) newest first",
      authScopes: { admin: true },
      cursor: "storeId_id",
      maxSize: pageSize,
      complexity: pageCost,
      args: { status: t.arg({ type: ReservationStatusEnum }) },
      resolve: (query, _root, args, { deps, adminStoreId }) => {
        checkCursorInStore(query, adminStoreId!);
        return deps.db.prisma.reservation.findMany({
          ...query,
          where: { storeId: adminStoreId!, ...(args.status ? { status: args.status } : {}) },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        });
      },
    },
    { name: "ReservationConnection" },
    { name: "ReservationEdge" },
  ),
}));

builder.mutationFields((t) => ({
  reserveStock: t.field({
    type: ReserveStockResult,
    description: "public, rate-limited like placeOrder: holds the lines' units for this shopper for the store's reservationMinutes",
    args: { store: t.arg.string({ required: true }), input: t.arg({ type: ReserveStockInput, required: true }) },
    authScopes: (_root, args) => ({ checkoutOf: args.store }),
    unauthorizedError: checkoutRefused,
    // the hold answered is the named store's: its admin-only fields are that store's admin's (../selection-auth.ts)
    extensions: {
      answerStoreOf: (args, { deps }) => storeIdForSlug(deps.db.prisma, String(args.store).trim().toLowerCase()),
    } satisfies MutationStore,
    resolve: async (_root, args, context) => {
      const store = args.store.trim().toLowerCase();
      await checkOrderRate(context, store);
      const input = { ...args.input, lines: lineInputs(args.input.lines) };
      return countReservationOutcome(await reserveStock(context.deps, store, orderClientOf(context), input));
    },
  }),
  releaseReservation: t.field({
    type: ReservationResult,
    description: "public with the token; idempotent: a hold no longer HELD is answered as it is",
    args: { input: t.arg({ type: ReservationRefInput, required: true }) },
    extensions: {
      answerStoreOf: async (args) => storeOfReservationToken(String((args.input as { token?: unknown } | undefined)?.token ?? "")),
    } satisfies MutationStore,
    resolve: (_root, { input }, { deps }) => releaseReservation(deps, { id: String(input.id), token: input.token }),
  }),
  releaseReservationAsAdmin: t.withAuth({ admin: true }).field({
    type: ReservationResult,
    description: "(admin) gives the hold's units back at once",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, { deps, adminStoreId }) => releaseReservationAsAdmin(deps, adminStoreId, String(args.id)),
  }),
}));
