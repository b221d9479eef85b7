/** An order as the GraphQL layer reads it: the shape of the Prisma `Order` model. */
export type OrderRow = {
  storeId: string;
  id: string;
  number: number;
  status: OrderStatus;
  total: string;
  customerName: string | null;
  customerEmail: string | null;
  holdsCommitted: boolean;
  invoiceAccountingId: string | null;
  invoiceNumber: string | null;
  invoicedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

export type OrderStatus = "PENDING" | "CONFIRMED" | "SHIPPED" | "DELIVERED" | "CANCELLED";

export const ORDER_COLUMNS = `store_id AS "storeId", id, number, status, total, customer_name AS "customerName",
  customer_email AS "customerEmail", holds_committed AS "holdsCommitted",
  invoice_accounting_id AS "invoiceAccountingId", invoice_number AS "invoiceNumber", invoiced_at AS "invoicedAt", created_at AS "createdAt", updated_at AS "updatedAt"`;
