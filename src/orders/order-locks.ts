/**
 * The name of an order's invoicing lease (src/db/lease.ts), held while the order's invoice is
 * being issued (by whatever issues it); a cancellation in that window is refused, so an order is
 * never cancelled with its invoice half made.
 */
export const orderInvoicingKey = (orderId: string): string => `invoicing:${orderId}`;
