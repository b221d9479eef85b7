import { openSubscriptions } from "../observability/metrics.ts";
import type { LowStockAlertNote, StockEvent, StockEventSource, StockSubscription } from "./stock-events.ts";
import { SubscriberTooSlowError } from "./stock-update-stream.ts";

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
export async function openLowStockAlerts(source: StockEventSource, storeId: string, maxWaiting = MAX_WAITING_ALERTS): Promise<AsyncIterableIterator<LowStockAlertEvent>> {
  const stream = new LowStockAlertStream(source, storeId, maxWaiting);
  await stream.ready;
  return stream;
}

class LowStockAlertStream implements AsyncIterableIterator<LowStockAlertEvent> {
  private readonly waiting: LowStockAlertEvent[] = [];
  private pull: ((result: IteratorResult<LowStockAlertEvent>) => void) | null = null;
  private failure: Error | null = null;
  private finished = false;
  private readonly listening: StockSubscription;

  constructor(source: StockEventSource, storeId: string, private readonly maxWaiting: number) {
    openSubscriptions.inc({ field: "lowStockAlertsAdded" });
    this.listening = source.subscribe(storeId, (event: StockEvent) => {
      if (event.storeId !== storeId || !event.lowStockAlert) return;
      this.receive({ storeId, itemId: event.itemId, variantId: event.variantId, alert: event.lowStockAlert });
    });
  }

  get ready() {
    return this.listening.ready;
  }

  next(): Promise<IteratorResult<LowStockAlertEvent>> {
    const alert = this.waiting.shift();
    if (alert) return Promise.resolve({ value: alert, done: false });
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.pull = resolve));
  }

  return(): Promise<IteratorResult<LowStockAlertEvent>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<LowStockAlertEvent>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private receive(alert: LowStockAlertEvent) {
    if (this.pull) {
      const pull = this.pull;
      this.pull = null;
      pull({ value: alert, done: false });
    } else if (this.waiting.length < this.maxWaiting) {
      this.waiting.push(alert);
    } else {
      this.failure = new SubscriberTooSlowError(this.maxWaiting, "low-stock alerts");
      this.finish();
    }
  }

  private finish() {
    if (this.finished) return;
    this.finished = true;
    openSubscriptions.dec({ field: "lowStockAlertsAdded" });
    this.listening.stop();
    this.waiting.length = 0;
    this.pull?.({ value: undefined, done: true });
    this.pull = null;
  }
}
