import type { AccountingOptions } from "./accounting/options.ts";
import type { Database } from "./db/pool.ts";
import type { Logger } from "./logger.ts";
import type { CheckoutTurns } from "./orders/checkout-turns.ts";
import type { OrderRateLimiter } from "./orders/order-rate-limit.ts";
import type { StockEventBus, StockEventPublisher } from "./realtime/stock-events.ts";

/** What the domain services need from the outside world, built once in src/server.ts. */
export type Deps = {
  db: Database;
  /** Where committed stock changes are announced; the domain only ever publishes. */
  publisher: StockEventPublisher;
  /** What live subscriptions listen to: in the service, the very bus that `publisher` is. */
  stockEvents: StockEventBus;
  logger: Logger;
  /** How a store's checkouts go to PostgreSQL: a few batches at a time, each carrying those that waited. */
  checkoutTurns: CheckoutTurns;
  /** Limits public placeOrder calls per client and store; absent, they are not limited. */
  orderRateLimiter?: OrderRateLimiter;
  /** The accounting connector's settings: webhook base URL, credential key, timeouts, locks. */
  accounting: AccountingOptions;
};
