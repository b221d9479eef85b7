import type { Availability } from "../generated/prisma/enums.ts";

/** What storefronts are told after a committed change of an item's stock or availability. */
export type StockEvent = {
  storeId: string;
  itemId: string;
  availability: Availability;
  /** null when the item does not track inventory */
  availableQuantity: number | null;
  version: number;
  availabilityChanged: boolean;
  at: string;
};

/** The one way out for stock events; called only after the transaction that made them commits. */
export interface StockEventPublisher {
  /** Hands the events on without waiting for anyone and without throwing: the change is committed. */
  publish(events: readonly StockEvent[]): void;
}

export type StockEventListener = (event: StockEvent) => void;

/** Where live subscriptions hear of a store's committed stock events, whichever process made them. */
export interface StockEventSource {
  /** Calls `listener` with every event of the store until the returned function is called. */
  subscribe(storeId: string, listener: StockEventListener): () => void;
}

/** One transport for stock events (in-process, or Redis between processes): both ends of it. */
export interface StockEventBus extends StockEventPublisher, StockEventSource {
  /** Releases its connections; subscriptions should be gone by then. */
  close(): Promise<void>;
}
