import { OrderStatus } from "../../generated/prisma/enums.ts";
import { InsufficientStockError, OperationError } from "../../errors.ts";
import { countOrderOutcome } from "../../observability/metrics.ts";
import { changeOrderStatus } from "../../orders/order-status.ts";
import { MAX_ORDER_LINES } from "../../orders/order-lines.ts";
import { placeOrder } from "../../orders/place-order.ts";
import { MAX_WAREHOUSES } from "../../stock/warehouses.ts";
import { storeIdForSlug } from "../../stores/stores.ts";
import { builder } from "../builder.ts";
import { LOADER_OPTIONS, pageCost, upTo } from "../cost.ts";
import { checkoutRefused } from "../context.ts";
import { checkOrderRate } from "../order-rate.ts";
import type { MutationStore } from "../selection-auth.ts";
import { checkCursorInStore, pageSize } from "../pages.ts";
import { resultUnion } from "./errors.ts";
import { recordKey } from "./items.ts";
import { loadWarehouses, WarehouseType } from "./warehouses.ts";

const OrderStatusEnum = builder.enumType(OrderStatus, {
  name: "OrderStatus",
  values: { CANCELLED: { description: '"Anulado": restores the stock its lines took' } },
});

const InvoiceType = builder
  .objectRef<{ accountingId: string; number: string | null; issuedAt: Date }>("Invoice")
  .implement({
    fields: (t) => ({
      accountingId: t.exposeID("accountingId"),
      number: t.exposeString("number", { nullable: true }),
      issuedAt: t.expose("issuedAt", { type: "DateTime" }),
    }),
  });

builder.prismaObject("OrderLine", {
  fields: (t) => ({
    item: t.relation("item"),
    variant: t.relation("variant"),
    quantity: t.exposeInt("quantity"),
    unitPrice: t.expose("unitPrice", { type: "Decimal" }),
    allocations: t.relation("allocations", {
      description: "(admin) where the line's units were taken from",
      authScopes: (line) => ({ adminOf: line.storeId }),
      // at most one allocation per warehouse
      complexity: upTo(MAX_WAREHOUSES),
    }),
  }),
});

builder.prismaObject("OrderLineAllocation", {
  fields: (t) => ({
    // Allocations keep no foreign key to their warehouse (the history outlives a deleted, empty
    // one), so the warehouses of a whole answer come in one query through a dataloader.
    warehouse: t.loadable({
      type: WarehouseType,
      load: loadWarehouses,
      loaderOptions: LOADER_OPTIONS,
      resolve: (allocation) => `${allocation.storeId}/${allocation.warehouseId}`,
    }),
    quantity: t.exposeInt("quantity"),
  }),
});

export const OrderObject = builder.prismaObject("Order", {
  fields: (t) => ({
    id: t.exposeID("id"),
    number: t.exposeInt("number"),
    status: t.expose("status", { type: OrderStatusEnum }),
    lines: t.relation("lines", { complexity: upTo(MAX_ORDER_LINES), query: { orderBy: [{ itemId: "asc" }, { variant: { position: "asc" } }] } }),
    total: t.expose("total", { type: "Decimal" }),
    invoice: t.field({
      type: InvoiceType,
      nullable: true,
      resolve: (order) =>
        order.invoiceAccountingId && order.invoicedAt
          ? { accountingId: order.invoiceAccountingId, number: order.invoiceNumber, issuedAt: order.invoicedAt }
          : null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

builder.queryFields((t) => {
  const admin = t.withAuth({ admin: true });
  return {
    order: admin.prismaField({
      type: "Order",
      nullable: true,
      description: "(admin)",
      args: { id: t.arg.id({ required: true }) },
      resolve: (query, _root, args, { deps, adminStoreId }) => {
        const where = recordKey(adminStoreId, args.id);
        return where && deps.db.prisma.order.findUnique({ ...query, where });
      },
    }),
    orders: admin.prismaConnection(
      {
        type: "Order",
        description: "(admin) newest first",
        cursor: "storeId_number",
        maxSize: pageSize,
        complexity: pageCost,
        args: { status: t.arg({ type: OrderStatusEnum }) },
        resolve: (query, _root, args, { deps, adminStoreId }) => {
          checkCursorInStore(query, adminStoreId);
          return deps.db.prisma.order.findMany({
            ...query,
            where: { storeId: adminStoreId, ...(args.status ? { status: args.status } : {}) },
            orderBy: { number: "desc" },
          });
        },
      },
      { name: "OrderConnection" },
      { name: "OrderEdge" },
    ),
  };
});

export const OrderLineInput = builder.inputType("OrderLineInput", {
  fields: (t) => ({
    itemId: t.id({ required: true }),
    quantity: t.int({ required: true }),
    variantId: t.id({ description: "required when the item has options" }),
  }),
});

export const ReservationRefInput = builder.inputType("ReservationRefInput", {
  fields: (t) => ({ id: t.id({ required: true }), token: t.string({ required: true }) }),
});

const PlaceOrderInput = builder.inputType("PlaceOrderInput", {
  fields: (t) => ({
    lines: t.field({ type: [OrderLineInput], required: true }),
    idempotencyKey: t.string({ description: "the same key and request returns the first result and changes nothing" }),
    customerName: t.string(),
    customerEmail: t.string(),
    reservation: t.field({
      type: ReservationRefInput,
      description: "the order takes the held units first and ends the hold (one no longer HELD, or a wrong token: placed as without)",
    }),
  }),
});

const ChangeOrderStatusInput = builder.inputType("ChangeOrderStatusInput", {
  fields: (t) => ({ orderId: t.id({ required: true }), status: t.field({ type: OrderStatusEnum, required: true }) }),
});

/** An order's (or a hold's) lines as the domain takes them: ids as strings. */
export const lineInputs = (lines: readonly { itemId: string | number; variantId?: string | number | null; quantity: number }[]) =>
  lines.map((line) => ({ itemId: String(line.itemId), variantId: line.variantId == null ? null : String(line.variantId), quantity: line.quantity }));

const PlaceOrderResult = resultUnion("PlaceOrderResult", OrderObject, [InsufficientStockError, OperationError]);
export const OrderResult = resultUnion("OrderResult", OrderObject);

builder.mutationFields((t) => ({
  placeOrder: t.field({
    type: PlaceOrderResult,
    description: "public: the storefront checkout (a store's own server may send its storefront access token)",
    args: { store: t.arg.string({ required: true }), input: t.arg({ type: PlaceOrderInput, required: true }) },
    authScopes: (_root, args) => ({ checkoutOf: args.store }),
    unauthorizedError: checkoutRefused,
    // the order answered is the named store's: its admin-only fields are that store's admin's (../selection-auth.ts)
    extensions: {
      answerStoreOf: (args, { deps }) => storeIdForSlug(deps.db.prisma, String(args.store).trim().toLowerCase()),
    } satisfies MutationStore,
    resolve: async (_root, args, context) => {
      const store = args.store.trim().toLowerCase();
      await checkOrderRate(context, store);
      const { reservation } = args.input;
      const input = { ...args.input, lines: lineInputs(args.input.lines), reservation: reservation && { ...reservation, id: String(reservation.id) } };
      return countOrderOutcome(await placeOrder(context.deps, store, input));
    },
  }),
  changeOrderStatus: t.withAuth({ admin: true }).field({
    type: OrderResult,
    description: '(admin) "Cambiar estado"',
    args: { input: t.arg({ type: ChangeOrderStatusInput, required: true }) },
    resolve: (_root, { input }, { deps, adminStoreId }) =>
      changeOrderStatus(deps, adminStoreId, { ...input, orderId: String(input.orderId) }),
  }),
}));
