import type { IncomingMessage, ServerResponse } from "node:http";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { GraphQLError } from "graphql";
import { loadSheddingActive, requestsShedTotal } from "../observability/metrics.ts";

/**
 * Load shedding: when this process has more work than it can serve in time, a new request is
 * answered 503 at once, before anything parses or runs it, instead of joining queues where it
 * would wait past its client's patience and slow every request admitted before it. Three signals,
 * each with its bound (src/config.ts, LOAD_SHEDDING_*): the event loop's delay (the CPU of this
 * process is spent: requests wait unread in their sockets), checkouts waiting for their store's
 * turn (src/orders/checkout-turns.ts: PostgreSQL does not keep up with the orders), and queries
 * waiting for a connection of the pg pool (src/db/pool.ts: the database as a whole does not).
 * Shedding starts when one signal is past its bound and stops once every signal is back under
 * half of its own, so that it does not flap at the edge. /health and /metrics are never shed, nor
 * the WebSockets already open and their subscriptions; a new WebSocket is refused like a request
 * (a reconnecting crowd costs an upgrade, a token lookup and a subscription each).
 */
export type LoadSheddingSettings = {
  enabled: boolean;
  /** the event loop's delay (worst of the last window, or how late this window already is) */
  maxEventLoopDelayMs: number;
  /** checkouts of this process waiting for their store's turn or batch */
  maxCheckoutsWaiting: number;
  /** queries waiting for a connection of this process's pg pool */
  maxPoolWaiting: number;
  /** the Retry-After of a refusal */
  retryAfterSeconds: number;
};

/** The bounds when unset, as measured with `BENCH_ONLY=overload` (the README's Scaling section says why). */
export const LOAD_SHEDDING_DEFAULTS = {
  maxEventLoopDelayMs: 200,
  maxCheckoutsWaiting: 256,
  maxPoolWaiting: 64,
  retryAfterSeconds: 1,
} as const;

/** The counts the shedder reads: the process's checkout turns and its pg pool. */
export type LoadSources = { checkoutTurns: { readonly waiting: number }; pool: { readonly waitingCount: number } };

export type LoadSignal = "event_loop_delay" | "checkouts_waiting" | "pool_waiting";

/** Under this share of every bound, shedding stops. */
const RECOVERY_SHARE = 0.5;
/** How often the event loop's delay is read: a block shows within this (and at once in `delayMs`). */
const WINDOW_MS = 100;

export class LoadShedder {
  /** the signal that started the shedding going on, or null */
  private sheddingFor: LoadSignal | null = null;
  private readonly delays = monitorEventLoopDelay({ resolution: 10 });
  private lastWindowMs = 0;
  private windowStart = performance.now();
  private readonly timer?: NodeJS.Timeout;

  constructor(
    readonly settings: LoadSheddingSettings,
    private readonly sources: LoadSources,
  ) {
    loadSheddingActive.set(0);
    if (!settings.enabled) return;
    this.delays.enable();
    this.timer = setInterval(() => this.endWindow(), WINDOW_MS).unref();
  }

  private endWindow() {
    const now = performance.now();
    // the histogram's worst, or this timer's own lateness when the loop was blocked longer
    this.lastWindowMs = Math.max(this.delays.max / 1e6, now - this.windowStart - WINDOW_MS);
    this.delays.reset();
    this.windowStart = now;
    // the state (and its gauge) follows the load between requests too
    this.shedding();
  }

  /** The event loop's delay: the last window's, or how late this window's end already is (a block in progress). */
  eventLoopDelayMs(): number {
    return Math.max(this.lastWindowMs, performance.now() - this.windowStart - WINDOW_MS);
  }

  /** Each signal as a share of its bound (past 1: over it). */
  private levels(): [LoadSignal, number][] {
    const { maxEventLoopDelayMs, maxCheckoutsWaiting, maxPoolWaiting } = this.settings;
    return [
      ["event_loop_delay", this.eventLoopDelayMs() / maxEventLoopDelayMs],
      ["checkouts_waiting", this.sources.checkoutTurns.waiting / maxCheckoutsWaiting],
      ["pool_waiting", this.sources.pool.waitingCount / maxPoolWaiting],
    ];
  }

  /** Whether a new request is to be refused now, and for which signal; updates the state (with its hysteresis). */
  shedding(): LoadSignal | null {
    if (!this.settings.enabled) return null;
    const levels = this.levels();
    if (this.sheddingFor === null) {
      const over = levels.find(([, level]) => level > 1);
      if (over) {
        this.sheddingFor = over[0];
        loadSheddingActive.set(1);
      }
    } else if (levels.every(([, level]) => level <= RECOVERY_SHARE)) {
      this.sheddingFor = null;
      loadSheddingActive.set(0);
    }
    return this.sheddingFor;
  }

  /**
   * Answers 503 with Retry-After and a GraphQL-shaped error when shedding, and says so; the body
   * is never read (Node discards it after the answer and the connection stays open for the next).
   */
  refuse(_req: IncomingMessage, res: ServerResponse): boolean {
    const signal = this.shedding();
    if (!signal) return false;
    requestsShedTotal.inc({ transport: "http", signal });
    res
      .writeHead(503, { "content-type": "application/json; charset=utf-8", "retry-after": String(this.settings.retryAfterSeconds) })
      .end(SHED_BODY);
    return true;
  }

  /** For a WebSocket upgrade: the refusal's headers when shedding (ws answers it 503), else null. */
  refuseUpgrade(): Record<string, string> | null {
    const signal = this.shedding();
    if (!signal) return null;
    requestsShedTotal.inc({ transport: "websocket", signal });
    return { "retry-after": String(this.settings.retryAfterSeconds) };
  }

  /** For a query or mutation over an open WebSocket (its subscriptions go on): its error when shedding, else null. */
  refuseOperation(): GraphQLError | null {
    const signal = this.shedding();
    if (!signal) return null;
    requestsShedTotal.inc({ transport: "websocket", signal });
    return new GraphQLError(SHED_MESSAGE, { extensions: { code: "SERVICE_UNAVAILABLE" } });
  }

  close() {
    clearInterval(this.timer);
    this.delays.disable();
  }
}

const SHED_MESSAGE = "The service is over capacity right now: retry after the time in Retry-After";

const SHED_BODY = JSON.stringify({ errors: [{ message: SHED_MESSAGE, extensions: { code: "SERVICE_UNAVAILABLE" } }] });
