import type { AddressInfo } from "node:net";
import { accountingOptions, type AccountingOptions } from "./accounting/options.ts";
import { startReconciliation } from "./accounting/reconciliation.ts";
import type { Config } from "./config.ts";
import type { Database } from "./db/pool.ts";
import type { Deps } from "./deps.ts";
import type { Logger } from "./logger.ts";
import { observeCheckoutTurns, observeDatabasePool } from "./observability/metrics.ts";
import { CheckoutTurns } from "./orders/checkout-turns.ts";
import { createOrderRateLimiter, type OrderRateLimiter } from "./orders/order-rate-limit.ts";
import { startReservationExpiry, type ReservationExpiry } from "./orders/reservation-expiry.ts";
import { inCommitOrder } from "./realtime/commit-order.ts";
import { createStockEventBus } from "./realtime/event-bus.ts";
import type { StockEventPublisher } from "./realtime/stock-events.ts";
import { createApp, type App } from "./server.ts";

/** One process of the service, wired: its HTTP/WebSocket app, the domain's dependencies, and how to stop it. */
export type Service = {
  app: App;
  deps: Deps;
  /** Starts serving on `port` (0: any free one) and answers the port it got. */
  listen(port: number, host: string): Promise<number>;
  /** Stops the reconciliation, finishes the requests in flight and closes every socket and bus; the database stays open. */
  close(): Promise<void>;
};

/** Parts a test puts in place of the service's own; the service itself never passes any. */
export type ServiceParts = {
  /** sits between the domain and the bus, under the production publisher (a test that drops events) */
  publisher?: StockEventPublisher;
  orderRateLimiter?: OrderRateLimiter;
  accounting?: Partial<AccountingOptions>;
};

/**
 * The composition root: everything one process is made of, built from its configuration around a
 * database someone else opened (and closes), for `src/main.ts` and the tests alike, so a test runs
 * the very publisher, limiter and bus the service runs. The stock event bus (Redis between
 * processes when configured, else in-process), the publisher that hands each turn's events on in
 * commit order, the placeOrder rate limit, the checkout turns per store, the accounting options,
 * the periodic reconciliation, the expiry of cart holds, and the app over them.
 */
export function createService(
  config: Config,
  { db, logger, secretKey, parts = {} }: { db: Database; logger: Logger; secretKey: Buffer; parts?: ServiceParts },
): Service {
  const stockEvents = createStockEventBus(config.redis, logger);
  const checkoutTurns = new CheckoutTurns(config.checkoutConcurrencyPerStore, config.checkoutBatchMax);
  observeCheckoutTurns(checkoutTurns);
  observeDatabasePool(db.pool);
  const deps: Deps = {
    db,
    // the domain publishes each turn's events in commit order (realtime/commit-order.ts)
    publisher: inCommitOrder(parts.publisher ?? stockEvents),
    stockEvents,
    logger,
    checkoutTurns,
    orderRateLimiter:
      "orderRateLimiter" in parts
        ? parts.orderRateLimiter
        : createOrderRateLimiter({ perMinute: config.orderRateLimitPerMinute, redis: config.redis, logger }),
    accounting: { ...accountingOptions(config, secretKey, logger), ...parts.accounting },
  };
  const app = createApp(deps, config);
  let reconciliation: { stop(): Promise<void> } | undefined;
  let reservationExpiry: ReservationExpiry | undefined;
  return {
    app,
    deps,
    async listen(port, host) {
      await new Promise<void>((resolve) => app.server.listen(port, host, resolve));
      reconciliation = startReconciliation(deps, config.accounting.reconcileIntervalMs);
      // every process ends expired cart holds: there is no scheduler process to lose
      reservationExpiry = startReservationExpiry(deps, config.reservationExpiryIntervalMs);
      return (app.server.address() as AddressInfo).port;
    },
    async close() {
      await Promise.all([reconciliation?.stop(), reservationExpiry?.stop()]);
      await app.close();
    },
  };
}
