import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { Prisma, type Order } from "../generated/prisma/client.ts";
import type { OrderStatus } from "../generated/prisma/enums.ts";
import { columnsOf } from "../db/records.ts";
import { changeStock } from "../stock/stock-ledger.ts";
import { isRecordId } from "../validation.ts";
import { AccountingUnavailable, type InvoiceRequest, type IssuedInvoice } from "./accounting-api.ts";
import { orderInvoicingKey } from "../orders/order-locks.ts";
import { BUSY } from "./accounting-lock.ts";
import { notConnected, openAccountingLink, type AccountingLink } from "./connection.ts";
import { accountingBusy } from "./inventory-sync.ts";

type OrderToInvoice = {
  number: number;
  status: OrderStatus;
  invoiceAccountingId: string | null;
  invoiceNumber: string | null;
  storeName: string;
  mainWarehouseId: string | null;
  lines: { name: string; accountingId: string | null; quantity: number; unitPrice: string }[];
};

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
  const unlinked = order.lines.find((line) => !line.accountingId);
  if (unlinked) {
    return invalidInput(
      `item "${unlinked.name}" is not matched to an accounting item: give it the SKU of its accounting reference and sync`,
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
      id: line.accountingId!,
      price: Number(line.unitPrice),
      quantity: line.quantity,
      warehouse: { id: order.mainWarehouseId! },
    })),
    observations: `Pedido #${order.number} de la tienda ${order.storeName}`,
    status: "open",
  };
}

async function loadOrderToInvoice(deps: Deps, storeId: string, orderId: string): Promise<OrderToInvoice | null> {
  const { rows } = await deps.db.pool.query<Omit<OrderToInvoice, "lines">>(
    `SELECT o.number, o.status, o.invoice_accounting_id AS "invoiceAccountingId", o.invoice_number AS "invoiceNumber",
            s.name AS "storeName",
            (SELECT accounting_id FROM warehouses w WHERE w.store_id = o.store_id AND w.is_main LIMIT 1) AS "mainWarehouseId"
       FROM orders o JOIN stores s ON s.id = o.store_id
      WHERE o.store_id = $1 AND o.id = $2`,
    [storeId, orderId],
  );
  if (!rows[0]) return null;
  const { rows: lines } = await deps.db.pool.query<OrderToInvoice["lines"][number]>(
    `SELECT i.name, i.accounting_id AS "accountingId", l.quantity, l.unit_price::text AS "unitPrice"
       FROM order_lines l JOIN items i ON i.store_id = l.store_id AND i.id = l.item_id
      WHERE l.store_id = $1 AND l.order_id = $2 ORDER BY i.id`,
    [storeId, orderId],
  );
  return { ...rows[0], lines };
}

/** Records the invoice on the order and turns the units it holds as committed into a deduction. */
function recordInvoice(deps: Deps, storeId: string, orderId: string, issued: IssuedInvoice) {
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const { rows } = await tx.query<{ holds: boolean }>(
      `SELECT holds_committed AND status <> 'CANCELLED' AS holds FROM orders WHERE store_id = $1 AND id = $2 FOR UPDATE`,
      [storeId, orderId],
    );
    if (rows[0]!.holds) {
      const { rows: lines } = await tx.query<{ itemId: string; quantity: number }>(
        `SELECT item_id AS "itemId", quantity FROM order_lines WHERE store_id = $1 AND order_id = $2 AND stock_taken`,
        [storeId, orderId],
      );
      await changeStock(
        tx,
        storeId,
        lines.map((line) => ({ itemId: line.itemId, addQuantity: -line.quantity, addCommitted: -line.quantity })),
        { keepAvailableNonNegative: false, refuseWhenSynced: false, onlyTracked: false },
        { reason: "ORDER_INVOICED", orderId, note: `invoice ${issued.number ?? issued.id}` },
      );
    }
    const updated = await tx.query<Order>(
      `UPDATE orders SET invoice_accounting_id = $3, invoice_number = $4, invoiced_at = now(), holds_committed = false,
              updated_at = now()
        WHERE store_id = $1 AND id = $2 RETURNING ${columnsOf(Prisma.OrderScalarFieldEnum).text}`,
      [storeId, orderId, issued.id, issued.number],
    );
    return updated.rows[0]!;
  });
}
