import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { isErrorValue } from "../errors.ts";
import { buildInfo } from "./build-info.ts";

/**
 * The process's Prometheus metrics, served at GET /metrics. Each module that does the counted
 * thing imports the counter it needs from here and increments it where it happens; the names
 * below are what dashboards and alerts rely on, so rename them only together with those.
 * Every process counts its own: Prometheus scrapes each instance, not the load balancer.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** One per HTTP request answered (GraphQL, storefront, health, metrics), by route and status. */
export const httpRequestsTotal = new Counter({
  name: "http_requests_total",
  help: "HTTP requests answered, by method, route and status code",
  labelNames: ["method", "route", "status"] as const,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: "http_request_duration_seconds",
  help: "Time to answer an HTTP request, by route",
  labelNames: ["route"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/**
 * Errors an operator must look at: HTTP answers of 500 and above, and GraphQL errors by code
 * (INTERNAL_SERVER_ERROR for masked bugs and outages; UNAUTHENTICATED, GRAPHQL_VALIDATION_FAILED...
 * for callers' mistakes). Rule breaks returned as error values are not errors here.
 */
export const errorsTotal = new Counter({
  name: "errors_total",
  help: "Server errors (HTTP status >= 500) and GraphQL errors, by kind and code",
  labelNames: ["kind", "code"] as const,
  registers: [registry],
});

export const ordersPlacedTotal = new Counter({
  name: "orders_placed_total",
  help: "placeOrder calls answered with an order (a retry with the same idempotency key is counted again)",
  registers: [registry],
});

/** Refused checkouts, by error code: INSUFFICIENT_STOCK, INVALID_INPUT, NOT_FOUND, IDEMPOTENCY_CONFLICT. */
export const ordersRefusedTotal = new Counter({
  name: "orders_refused_total",
  help: "placeOrder calls answered with an error value, by error code",
  labelNames: ["code"] as const,
  registers: [registry],
});

/** Counts one placeOrder answer, placed or refused by its error code, and returns it unchanged. */
export function countOrderOutcome<T>(result: T): T {
  if (isErrorValue(result)) ordersRefusedTotal.inc({ code: result.code });
  else ordersPlacedTotal.inc();
  return result;
}

/** Cart holds ended by this process's expiry sweep (those a checkout ended on its way are not counted). */
export const reservationsExpiredTotal = new Counter({
  name: "reservations_expired_total",
  help: "Cart holds this process found past their expiresAt and ended (EXPIRED), their units given back",
  registers: [registry],
});

/** reserveStock answers: held, or refused by error code. */
export const reservationsTotal = new Counter({
  name: "reservations_total",
  help: "reserveStock calls, by outcome: HELD, or the error code of a refusal",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

/** Counts one reserveStock answer and returns it unchanged. */
export function countReservationOutcome<T>(result: T): T {
  reservationsTotal.inc({ outcome: isErrorValue(result) ? result.code : "HELD" });
  return result;
}

/** GraphQL subscriptions open on this process, by subscription field. */
export const openSubscriptions = new Gauge({
  name: "graphql_subscriptions_open",
  help: "GraphQL subscriptions currently open on this process, by field",
  labelNames: ["field"] as const,
  registers: [registry],
});
// Shown as 0 from the start, so a dashboard has a series before the first subscription.
for (const field of ["stockUpdates", "availabilityChanges", "lowStockAlertsAdded"]) openSubscriptions.set({ field }, 0);

let checkoutTurns: { readonly waiting: number } | undefined;

/** Checkouts waiting in this process for their store's turn or batch (src/orders/checkout-turns.ts), read at each scrape. */
export const checkoutsWaiting = new Gauge({
  name: "checkouts_waiting",
  help: "placeOrder checkouts waiting in this process for their turn at their store",
  registers: [registry],
  collect() {
    this.set(checkoutTurns?.waiting ?? 0);
  },
});

/**
 * How many orders each checkout batch of this process carried to PostgreSQL in its one call
 * (src/orders/place-order.ts): 1 at low load; larger while a store's orders arrive faster than its
 * batches come back. `_sum / _count` is the mean batch. The buckets go up by half steps (1, 2, 3,
 * 4, 6, 8, 12...) so that a median or the largest batch read from them (the bench's batchSizeP50,
 * batchSizeMax) is off by at most a third.
 */
export const checkoutBatchSize = new Histogram({
  name: "checkout_batch_size",
  help: "Orders per checkout batch sent to PostgreSQL in one call (one transaction)",
  buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
  registers: [registry],
});

/** The process's checkout turns, which checkouts_waiting reports. */
export function observeCheckoutTurns(turns: { readonly waiting: number }) {
  checkoutTurns = turns;
}

/** Stock events handed to the event transport (in-process or Redis) after their transaction committed. */
export const stockEventsPublishedTotal = new Counter({
  name: "stock_events_published_total",
  help: "Stock events published after commit",
  registers: [registry],
});

/**
 * Transactions PostgreSQL aborted and the service ran again (src/db/transaction.ts), by SQLSTATE:
 * 40P01 deadlock, 40001 serialization failure. Deadlocks should stay at 0: every transaction takes
 * its locks in the one global order (src/stock/stock-ledger.ts).
 */
export const transactionRetriesTotal = new Counter({
  name: "transaction_retries_total",
  help: "Transactions aborted by PostgreSQL and run again, by SQLSTATE (40P01 deadlock, 40001 serialization failure)",
  labelNames: ["code"] as const,
  registers: [registry],
});

/** Accounting syncs that ended, by status (SUCCEEDED, FAILED): `syncRunsTotal.inc({ status })`. */
export const syncRunsTotal = new Counter({
  name: "accounting_sync_runs_total",
  help: "Accounting inventory syncs that ended, by status",
  labelNames: ["status"] as const,
  registers: [registry],
});

/**
 * Always 1: its labels say what this process runs (package.json's version, the git commit) and
 * the last migration applied to its database, "" where unknown. Set at each scrape.
 */
export const buildInfoGauge = new Gauge({
  name: "store_inventory_build_info",
  help: "What this process runs: version, git commit, and the database's last applied migration",
  labelNames: ["version", "commit", "migration"] as const,
  registers: [registry],
});

export function recordBuildInfo(migration: string | null) {
  buildInfoGauge.reset();
  buildInfoGauge.set({ version: buildInfo.version, commit: buildInfo.commit ?? "", migration: migration ?? "" }, 1);
}

/**
 * Load shedding (src/http/load-shedding.ts): requests refused 503 because this process was past a
 * bound, by transport (http; websocket: new sockets, and queries or mutations over open ones) and
 * by the signal that started the shedding.
 */
export const requestsShedTotal = new Counter({
  name: "requests_shed_total",
  help: "Requests refused with 503 while this process was shedding load, by transport and the signal past its bound",
  labelNames: ["transport", "signal"] as const,
  registers: [registry],
});

/** 1 while this process sheds load, else 0. */
export const loadSheddingActive = new Gauge({
  name: "load_shedding_active",
  help: "1 while this process refuses new requests for being past a load bound, else 0",
  registers: [registry],
});

let databasePool: { readonly waitingCount: number } | undefined;

/** Queries of this process waiting for a connection of its pg pool, read at each scrape (a load-shedding signal). */
export const databasePoolWaiting = new Gauge({
  name: "db_pool_waiting",
  help: "Queries of this process waiting for a free connection of its PostgreSQL pool",
  registers: [registry],
  collect() {
    this.set(databasePool?.waitingCount ?? 0);
  },
});

/** The process's pg pool, which db_pool_waiting reports. */
export function observeDatabasePool(pool: { readonly waitingCount: number }) {
  databasePool = pool;
}
