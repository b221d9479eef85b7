import { changeOrderStatus } from "../../orders/order-status.ts";
import { placeOrder } from "../../orders/place-order.ts";
import { countOrderOutcome } from "../../observability/metrics.ts";
import { builder } from "../builder.ts";
import { adminRecordKey, adminStoreId } from "../context.ts";
import { checkOrderRate } from "../order-rate.ts";
import { resultUnion } from "./errors.ts";
import { connectionOf, paginate } from "./pagination.ts";

const OrderStatusEnum = builder.enumType("OrderStatus", {
  values: {
    PENDING: {},
    CONFIRMED: {},
    SHIPPED: {},
    DELIVERED: {},
    CANCELLED: { description: '"Anulado": restores the stock its lines took' },
  } as const,
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
    quantity: t.exposeInt("quantity"),
    unitPrice: t.expose("unitPrice", { type: "Decimal" }),
  }),
});

export const OrderObject = builder.prismaObject("Order", {
  fields: (t) => ({
    id: t.exposeID("id"),
    number: t.exposeInt("number"),
    status: t.expose("status", { type: OrderStatusEnum }),
    lines: t.relation("lines", { query: { orderBy: { itemId: "asc" } } }),
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

const OrderConnection = connectionOf("Order", OrderObject);

builder.queryFields((t) => ({
  order: t.prismaField({
    type: "Order",
    nullable: true,
    description: "(admin)",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, context) => {
      const key = await adminRecordKey(context, args.id);
      return key && context.deps.db.prisma.order.findUnique({ ...query, where: { storeId_id: key } });
    },
  }),
  orders: t.field({
    type: OrderConnection,
    description: "(admin) newest first",
    args: {
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
      status: t.arg({ type: OrderStatusEnum }),
    },
    resolve: async (_root, args, context) => {
      const storeId = await adminStoreId(context);
      return paginate(
        args,
        (raw) => (/^\d+$/.test(raw) ? Number(raw) : null),
        (take, after) =>
          context.deps.db.prisma.order.findMany({
            where: {
              storeId,
              ...(args.status ? { status: args.status } : {}),
              ...(after !== null ? { number: { lt: after } } : {}),
            },
            orderBy: { number: "desc" },
            take,
          }),
        (order) => order.number,
      );
    },
  }),
}));

const OrderLineInput = builder.inputType("OrderLineInput", {
  fields: (t) => ({ itemId: t.id({ required: true }), quantity: t.int({ required: true }) }),
});

const PlaceOrderInput = builder.inputType("PlaceOrderInput", {
  fields: (t) => ({
    lines: t.field({ type: [OrderLineInput], required: true }),
    idempotencyKey: t.string({ description: "the same key and request returns the first result and changes nothing" }),
    customerName: t.string(),
    customerEmail: t.string(),
  }),
});

const ChangeOrderStatusInput = builder.inputType("ChangeOrderStatusInput", {
  fields: (t) => ({ orderId: t.id({ required: true }), status: t.field({ type: OrderStatusEnum, required: true }) }),
});

const PlaceOrderResult = resultUnion("PlaceOrderResult", OrderObject, { insufficientStock: true });
export const OrderResult = resultUnion("OrderResult", OrderObject);

builder.mutationFields((t) => ({
  placeOrder: t.field({
    type: PlaceOrderResult,
    description: "public: the storefront checkout",
    args: { store: t.arg.string({ required: true }), input: t.arg({ type: PlaceOrderInput, required: true }) },
    resolve: async (_root, args, context) => {
      const store = args.store.trim().toLowerCase();
      await checkOrderRate(context, store);
      const result = await placeOrder(context.deps, store, {
        ...args.input,
        lines: args.input.lines.map((line) => ({ itemId: String(line.itemId), quantity: line.quantity })),
      });
      return countOrderOutcome(result);
    },
  }),
  changeOrderStatus: t.field({
    type: OrderResult,
    description: '(admin) "Cambiar estado"',
    args: { input: t.arg({ type: ChangeOrderStatusInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      changeOrderStatus(context.deps, await adminStoreId(context), { ...input, orderId: String(input.orderId) }),
  }),
}));
