import type { Availability } from "../stock/availability.ts";

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
  publish(events: readonly StockEvent[]): void;
}
