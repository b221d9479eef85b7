import type { LockKey } from "../db/advisory-lock.ts";

// A lock space; any constant works as long as every process of the service uses the same one.
const ORDER_INVOICING_SPACE = 727_465_003;

/**
 * Held while an order's invoice is being issued (by whatever issues it); a cancellation in that
 * window is refused, so an order is never cancelled with its invoice half made.
 */
export const orderInvoicingKey = (orderId: string): LockKey => ({ space: ORDER_INVOICING_SPACE, id: orderId });
