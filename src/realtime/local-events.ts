import type { Logger } from "../logger.ts";
import type { StockEvent, StockEventBus, StockEventListener, StockSubscription } from "./stock-events.ts";

const LIVE = Promise.resolve();

/**
 * In-process delivery of stock events, keyed by store. A single process (no REDIS_URL) uses it as
 * its bus; the Redis bus uses it to fan each message it receives out to this process's
 * subscribers. Listeners run synchronously and only buffer, so publishing never waits for a
 * subscriber; a listener that throws is logged and skipped, never allowed to fail the
 * already-committed change that published.
 */
export class LocalStockEvents implements StockEventBus {
  private readonly listenersByStore = new Map<string, Set<StockEventListener>>();

  constructor(private readonly logger: Logger) {}

  publish(events: readonly StockEvent[]) {
    for (const event of events) {
      for (const listener of this.listenersByStore.get(event.storeId) ?? []) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error({ err: error, storeId: event.storeId }, "a stock event listener failed");
        }
      }
    }
  }

  /** Live at once: in one process an event is published to the listeners there are. */
  subscribe(storeId: string, listener: StockEventListener): StockSubscription {
    let listeners = this.listenersByStore.get(storeId);
    if (!listeners) this.listenersByStore.set(storeId, (listeners = new Set()));
    listeners.add(listener);
    return {
      ready: LIVE,
      stop: () => {
        listeners.delete(listener);
        if (listeners.size === 0 && this.listenersByStore.get(storeId) === listeners) this.listenersByStore.delete(storeId);
      },
    };
  }

  /** Whether anyone on this process listens to the store's events. */
  hasListeners(storeId: string) {
    return this.listenersByStore.has(storeId);
  }

  async close() {
    this.listenersByStore.clear();
  }
}
