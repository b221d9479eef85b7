import type { Order } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { recordOrderInvoice } from "../orders/committed-orders.ts";
import { orderInvoicingKey } from "../orders/order-locks.ts";
import { isRecordId } from "../validation.ts";
import { AccountingUnavailable, type InvoiceRequest, type IssuedInvoice } from "./accounting-api.ts";
import { BUSY } from "./accounting-lock.ts";
import { deductHeldUnits } from "./held-units.ts";
import { notConnected, openAccountingLink, type AccountingLink } from "./connection.ts";
import { accountingBusy } from "./inventory-sync.ts";

type OrderToInvoice = NonNullable<Awaited<ReturnType<typeof loadOrderToInvoice>>>;
type OrderLineToInvoice = OrderToInvoice["lines"][number];
type InvoiceLine = InvoiceRequest["items"][number];

/**
 * `invoiceOrder`: issues the order's sales invoice in the accounting system (POST /invoices, one
 * line per allocation of each order line: the variant's accounting id, the line's price, the
 * units taken from that warehouse and the warehouse's accounting id, so the accounting system
 * deducts from the warehouses the units came from), then in one transaction records the invoice
 * on the order and, for units the order holds as committed, deducts them from each level they
 * were allocated from and releases them (ORDER_INVOICED movements), so `availableQuantity` never
 * rises in between. An order is invoiced once; a failed call to the accounting system changes
 * nothing. The store's accounting lock keeps a sync or a notification from reading the lowered
 * accounting count before the deduction is recorded, and the order's invoicing lock keeps it
 * from being cancelled meanwhile.
 */
export async function invoiceOrder(deps: Deps, storeId: string, orderId: string): Promise<Order | OperationError> {
  if (!isRecordId(orderId)) return notFound("Order", "orderId");
  const link = await openAccountingLink(deps, storeId);
  if (!link) return notConnected();
  const outcome = await deps.accounting.locks.run(
    deps.db.pool,
    storeId,
    deps.accounting.lockWaitMs,
    () => issueInvoice(deps, link, storeId, orderId),
    [orderInvoicingKey(orderId)],
  );
  return outcome === BUSY ? accountingBusy() : outcome;
}

async function issueInvoice(deps: Deps, link: AccountingLink, storeId: string, orderId: string) {
  const order = await loadOrderToInvoice(deps, storeId, orderId);
  if (!order) return notFound("Order", "orderId");
  const refusal = whyNotInvoiceable(order);
  if (refusal) return refusal;
  let issued: IssuedInvoice;
  try {
    issued = await link.api.createInvoice(invoiceRequest(order, link.invoiceClientId));
  } catch (error) {
    if (error instanceof AccountingUnavailable) {
      return new OperationError("ACCOUNTING_UNAVAILABLE", `the invoice was not issued: ${error.message}`);
    }
    throw error;
  }
  try {
    return await recordInvoice(deps, storeId, orderId, issued);
  } catch (error) {
    deps.logger.error({ err: error, storeId, orderId, invoice: issued }, "invoice issued in accounting but not recorded on the order");
    throw error;
  }
}

function whyNotInvoiceable(order: OrderToInvoice): OperationError | null {
  if (order.invoiceAccountingId) {
    return new OperationError(
      "INVALID_STATUS_TRANSITION",
      `order #${order.number} already has invoice ${order.invoiceNumber ?? order.invoiceAccountingId}; it is invoiced once`,
      "orderId",
    );
  }
  if (order.status === "CANCELLED") {
    return new OperationError("INVALID_STATUS_TRANSITION", "a cancelled order cannot be invoiced", "orderId");
  }
  const unlinked = order.lines.find((line) => !line.variant.accountingId);
  if (unlinked) {
    return invalidInput(
      `${variantName(unlinked)} is not matched to an accounting item: give it the SKU of its accounting reference and sync`,
      "orderId",
    );
  }
  for (const line of order.lines) {
    for (const { warehouseId } of invoicedFrom(line, order.mainWarehouseId)) {
      const warehouse = order.warehouses.get(warehouseId);
      if (warehouse?.accountingId) continue;
      return invalidInput(
        warehouse
          ? `warehouse "${warehouse.name}", which ${variantName(line)} was taken from, is not an accounting warehouse: sync the inventory, or move the stock to one that is`
          : `${variantName(line)} was taken from a warehouse that no longer exists`,
        "orderId",
      );
    }
  }
  return null;
}

function invoiceRequest(order: OrderToInvoice, clientId: string): InvoiceRequest {
  const today = new Date().toISOString().slice(0, 10);
  return {
    date: today,
    dueDate: today,
    client: { id: clientId },
    items: order.lines.flatMap((line) => invoiceLines(line, order)),
    observations: `Pedido #${order.number} de la tienda ${order.store.name}`,
    status: "open",
  };
}

/** An order line's invoice lines, with the variant's and the warehouses' accounting ids (checked by whyNotInvoiceable). */
function invoiceLines(line: OrderLineToInvoice, order: OrderToInvoice): InvoiceLine[] {
  return invoicedFrom(line, order.mainWarehouseId).map(({ warehouseId, quantity }) => ({
    id: line.variant.accountingId!,
    price: line.unitPrice.toNumber(),
    quantity,
    warehouse: { id: order.warehouses.get(warehouseId)!.accountingId! },
  }));
}

/**
 * Where an order line's units are invoiced from: each warehouse they were taken from (its
 * allocations). Units taken from no warehouse (a service, an untracked product) are invoiced
 * from the main one, where the accounting system keeps what the store does not count.
 */
function invoicedFrom(line: OrderLineToInvoice, mainWarehouseId: string): { warehouseId: string; quantity: number }[] {
  const unallocated = line.quantity - line.allocations.reduce((sum, allocation) => sum + allocation.quantity, 0);
  return unallocated > 0 ? [...line.allocations, { warehouseId: mainWarehouseId, quantity: unallocated }] : line.allocations;
}

/** "item "Camiseta", variant Talla M" for a variant of an item with options; "item "Bolso"" otherwise. */
function variantName(line: OrderLineToInvoice): string {
  const values = line.variant.options as { name: string; value: string }[];
  const label = values.map((value) => `${value.name} ${value.value}`).join(" / ");
  return line.variant.isDefault ? `item "${line.item.name}"` : `item "${line.item.name}", variant ${label || line.variant.sku},`;
}

async function loadOrderToInvoice(deps: Deps, storeId: string, orderId: string) {
  const [order, warehouses] = await Promise.all([
    deps.db.prisma.order.findUnique({
      where: { storeId_id: { storeId, id: orderId } },
      select: {
        number: true,
        status: true,
        invoiceAccountingId: true,
        invoiceNumber: true,
        store: { select: { name: true } },
        lines: {
          select: {
            quantity: true,
            unitPrice: true,
            item: { select: { name: true } },
            variant: { select: { accountingId: true, isDefault: true, options: true, sku: true } },
            allocations: { select: { warehouseId: true, quantity: true }, orderBy: { warehouseId: "asc" } },
          },
          orderBy: [{ itemId: "asc" }, { variantId: "asc" }],
        },
      },
    }),
    deps.db.prisma.warehouse.findMany({ where: { storeId }, select: { id: true, name: true, accountingId: true, isMain: true } }),
  ]);
  const main = warehouses.find((warehouse) => warehouse.isMain);
  if (!order || !main) return null;
  return { ...order, warehouses: new Map(warehouses.map((warehouse) => [warehouse.id, warehouse])), mainWarehouseId: main.id };
}

/**
 * Records the invoice on the order and turns the units it holds as committed into a deduction,
 * in one transaction: an invoice is recorded together with its deduction or not at all.
 */
function recordInvoice(deps: Deps, storeId: string, orderId: string, issued: IssuedInvoice) {
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const recorded = await recordOrderInvoice(tx, storeId, orderId, { accountingId: issued.id, number: issued.number });
    if (!recorded) throw new Error(`order ${orderId} disappeared while its invoice was issued`);
    if (recorded.heldUnits) {
      await deductHeldUnits(tx, storeId, [orderId], { reason: "ORDER_INVOICED", note: `invoice ${issued.number ?? issued.id}` });
    }
    return recorded.order;
  });
}
