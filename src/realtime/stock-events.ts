import type { Availability } from "../generated/prisma/enums.ts";

/** What storefronts are told after a committed change of an item's stock or availability. */
export type StockEvent = {
  storeId: string;
  itemId: string;
  /** the variant whose stock changed (an item without options has one, its default) */
  variantId: string;
  /** the item's: the best of its variants' */
  availability: Availability;
  /** the item's, over its variants and the warehouses that fulfil online orders; null when not tracked */
  availableQuantity: number | null;
  /** the item's, which grows with any change of its variants */
  version: number;
  variantAvailability: Availability;
  variantAvailableQuantity: number | null;
  availabilityChanged: boolean;
  at: string;
  /** the low-stock alert this change recorded for the variant, when it took the variant into low stock */
  lowStockAlert?: LowStockAlertNote;
  /**
   * nothing of the stock changed, a threshold did: the event carries the alert it recorded and is
   * no stock update (stockUpdates and availabilityChanges leave it out)
   */
  alertOnly?: true;
};

/** A low-stock alert as its variant's event carries it to the merchant's subscribers (SPEC section 9). */
export type LowStockAlertNote = {
  id: string;
  /** the variant's available units as it crossed */
  availableQuantity: number;
  /** the threshold in force as it crossed */
  threshold: number;
  at: string;
};

/** The one way out for stock events; called only after the transaction that made them commits. */
export interface StockEventPublisher {
  /** Hands the events on without waiting for anyone and without throwing: the change is committed. */
  publish(events: readonly StockEvent[]): void;
}

export type StockEventListener = (event: StockEvent) => void;

/**
 * A listener's hold on a store's events: it hears every event published once `ready` has
 * resolved (between processes: once Redis confirmed the subscription), until `stop()`.
 */
export type StockSubscription = { readonly ready: Promise<void>; stop(): void };

/** Where live subscriptions hear of a store's committed stock events, whichever process made them. */
export interface StockEventSource {
  /** Calls `listener` with every event of the store from `ready` on, until `stop()`. */
  subscribe(storeId: string, listener: StockEventListener): StockSubscription;
}

/** One transport for stock events (in-process, or Redis between processes): both ends of it. */
export interface StockEventBus extends StockEventPublisher, StockEventSource {
  /** Releases its connections; subscriptions should be gone by then. */
  close(): Promise<void>;
}
