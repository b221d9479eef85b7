import { EventEmitter } from "node:events";
import type { StockEvent, StockEventPublisher } from "./stock-events.ts";

/** In-process delivery of stock events, for a single process (no REDIS_URL). */
export class LocalStockEvents implements StockEventPublisher {
  readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(events: readonly StockEvent[]) {
    for (const event of events) this.emitter.emit(event.storeId, event);
  }
}
