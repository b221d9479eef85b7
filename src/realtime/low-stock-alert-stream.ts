import type { LowStockAlertNote, StockEventSource } from "./stock-events.ts";
import { SubscriberTooSlowError } from "./stock-update-stream.ts";
import { InArrivalOrder, SubscriptionStream } from "./subscription-stream.ts";

/** A low-stock alert as the merchant's subscription hands it on: which variant, and the alert. */
export type LowStockAlertEvent = { storeId: string; itemId: string; variantId: string; alert: LowStockAlertNote };

/**
 * How many alerts may wait for one subscriber. Alerts are few (one per variant crossing into low
 * stock) and each is kept, in order, unlike stock updates where only the newest matters; one
 * that stopped reading past this many is ended (SubscriberTooSlowError) instead of growing memory.
 */
export const MAX_WAITING_ALERTS = 10_000;

/**
 * `lowStockAlertsAdded`: the store's low-stock alerts as they commit, from any process (they ride
 * on the stock events of the variants that crossed, so they travel the store's channel and are
 * published after COMMIT as those are). Each alert once, in the order published. Listening starts
 * at once; the subscription starts once `ready` resolves (Redis confirmed the channel).
 */
export async function openLowStockAlerts(source: StockEventSource, storeId: string, maxWaiting = MAX_WAITING_ALERTS) {
  const stream = new SubscriptionStream<LowStockAlertEvent>(
    "lowStockAlertsAdded",
    new InArrivalOrder(maxWaiting),
    () => new SubscriberTooSlowError(maxWaiting, "low-stock alerts"),
    (receive) =>
      source.subscribe(storeId, (event) => {
        if (event.storeId === storeId && event.lowStockAlert) {
          receive({ storeId, itemId: event.itemId, variantId: event.variantId, alert: event.lowStockAlert });
        }
      }),
  );
  await stream.ready;
  return stream;
}
