import type { Order } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { recordOrderInvoice } from "../orders/committed-orders.ts";
import { orderInvoicingKey } from "../orders/order-locks.ts";
import { isRecordId } from "../validation.ts";
import { AccountingUnavailable, type InvoiceRequest, type IssuedInvoice } from "./accounting-api.ts";
import { BUSY } from "./accounting-lock.ts";
import { deductHeldUnits, mainWarehouseOf } from "./accounting-stock.ts";
import { notConnected, openAccountingLink, type AccountingLink } from "./connection.ts";
import { accountingBusy } from "./inventory-sync.ts";

type OrderToInvoice = NonNullable<Awaited<ReturnType<typeof loadOrderToInvoice>>>;

/**
 * `invoiceOrder`: issues the order's sales invoice in the accounting system (POST /invoices, one
 * line per order line with the item's accounting id, its price and quantity, from the main
 * warehouse), then in one transaction records the invoice on the order and, for units the order
 * holds as committed, deducts them from `quantity` and releases them (ORDER_INVOICED movements),
 * so `availableQuantity` never rises in between. An order is invoiced once; a failed call to the
 * accounting system changes nothing. The store's accounting lock keeps a sync or a notification
 * from reading the lowered accounting count before the deduction is recorded, and the order's
 * invoicing lock keeps it from being cancelled meanwhile.
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
  if (!order.mainWarehouseId) return invalidInput("the main warehouse is not known yet: sync the inventory first", "orderId");
  const unlinked = order.lines.find((line) => !line.item.accountingId);
  if (unlinked) {
    return invalidInput(
      `item "${unlinked.item.name}" is not matched to an accounting item: give it the SKU of its accounting reference and sync`,
      "orderId",
    );
  }
  return null;
}

function invoiceRequest(order: OrderToInvoice, clientId: string): InvoiceRequest {
  const today = new Date().toISOString().slice(0, 10);
  return {
    date: today,
    dueDate: today,
    client: { id: clientId },
    items: order.lines.map((line) => ({
      id: line.item.accountingId!,
      price: line.unitPrice.toNumber(),
      quantity: line.quantity,
      warehouse: { id: order.mainWarehouseId! },
    })),
    observations: `Pedido #${order.number} de la tienda ${order.store.name}`,
    status: "open",
  };
}

async function loadOrderToInvoice(deps: Deps, storeId: string, orderId: string) {
  const order = await deps.db.prisma.order.findUnique({
    where: { storeId_id: { storeId, id: orderId } },
    select: {
      number: true,
      status: true,
      invoiceAccountingId: true,
      invoiceNumber: true,
      store: { select: { name: true } },
      lines: {
        select: { quantity: true, unitPrice: true, item: { select: { name: true, accountingId: true } } },
        orderBy: { itemId: "asc" },
      },
    },
  });
  return order && { ...order, mainWarehouseId: await mainWarehouseOf(deps, storeId) };
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
