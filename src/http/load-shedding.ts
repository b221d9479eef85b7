import type { IncomingMessage, ServerResponse } from "node:http";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { GraphQLError } from "graphql";
import type { Logger } from "../logger.ts";
import { loadSheddingActive, requestsShedTotal } from "../observability/metrics.ts";

/**
 * Load shedding: when this process has more work than it can serve in time, a new request is
 * answered 503 at once, before anything parses or runs it, instead of joining queues where it
 * would wait past its client's patience and slow every request admitted before it. Three signals,
 * each with its bound (src/config.ts, LOAD_SHEDDING_*): the event loop's delay (the CPU of this
 * process is spent: requests wait unread in their sockets), checkouts waiting for their store's
 * turn (src/orders/checkout-turns.ts: PostgreSQL does not keep up with the orders), and queries
 * waiting for a connection of the pg pool (src/db/pool.ts: the database as a whole does not).
 * Shedding starts when one signal has been past its bound for a while (two reads 100 ms apart)
 * and stops once every signal has been back under half of its own for a second, so that it does
 * not flap at the edge. /health and /metrics are never shed, nor the WebSockets already open and
 * their subscriptions; a new WebSocket is refused like a request (a reconnecting crowd costs an
 * upgrade, a token lookup and a subscription each), and so is a query or mutation over an open one.
 */
export type LoadSheddingSettings = {
  enabled: boolean;
  /** the event loop's delay (the worst of a window of 100 ms) */
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
export type LoadSources = { checkoutTurns: { readonly waiting: number }; pool: { readonly waitingCount: number }; logger: Logger };

export type LoadSignal = "event_loop_delay" | "checkouts_waiting" | "pool_waiting";

/** Under this share of every bound, shedding stops. */
const RECOVERY_SHARE = 0.5;
/** How often the signals are read (at most: a read waits for the event loop like everything else). */
const WINDOW_MS = 100;
/** The reads kept per signal: shedding stops once all of them (a second at least) are at most half their bound. */
const READS_KEPT = 10;

const SIGNALS: readonly LoadSignal[] = ["event_loop_delay", "checkouts_waiting", "pool_waiting"];

export class LoadShedder {
  /** the signal that started the shedding going on, or null */
  private sheddingFor: LoadSignal | null = null;
  private readonly delays = monitorEventLoopDelay({ resolution: 10 });
  private windowStart = performance.now();
  /** each signal at the end of the last windows, the oldest first (the event loop: its worst delay in the window) */
  private readonly readings: Record<LoadSignal, number[]> = { event_loop_delay: [], checkouts_waiting: [], pool_waiting: [] };
  private readonly bounds: Record<LoadSignal, number>;
  private readonly timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly settings: LoadSheddingSettings,
    private readonly sources: LoadSources,
  ) {
    this.bounds = { event_loop_delay: settings.maxEventLoopDelayMs, checkouts_waiting: settings.maxCheckoutsWaiting, pool_waiting: settings.maxPoolWaiting };
    loadSheddingActive.set(0);
    if (!settings.enabled) return;
    this.delays.enable();
    this.timer = setInterval(() => this.endWindow(), WINDOW_MS).unref();
  }

  private endWindow() {
    const now = performance.now();
    // the histogram's worst, or this timer's own lateness when the loop was blocked longer
    const delay = Math.max(this.delays.max / 1e6, now - this.windowStart - WINDOW_MS);
    this.delays.reset();
    this.windowStart = now;
    for (const signal of SIGNALS) {
      const reads = this.readings[signal];
      reads.push(signal === "event_loop_delay" ? delay : this.current(signal));
      if (reads.length > READS_KEPT) reads.shift();
    }
    // the state (and its gauge) follows the load between requests too
    this.shedding();
  }

  /** A signal now: the counts as they are; for the event loop, how late this window's end already is (a block in progress). */
  private current(signal: LoadSignal): number {
    if (signal === "checkouts_waiting") return this.sources.checkoutTurns.waiting;
    if (signal === "pool_waiting") return this.sources.pool.waitingCount;
    return Math.max(0, performance.now() - this.windowStart - WINDOW_MS);
  }

  /**
   * Whether a new request is to be refused now, and for which signal. Shedding starts when a
   * count was past its bound at the last two reads and still is, or the event loop was late by
   * more than its bound in two of its last reads or now (a loaded loop alternates long turns, which
   * the read after each shows, with short ones): a burst of a few milliseconds or one garbage
   * collection starts nothing. It stops when every signal was at most half its bound at each of
   * its last reads (a second at least) and is now.
   */
  shedding(): LoadSignal | null {
    if (!this.settings.enabled || this.closed) return null;
    if (this.sheddingFor === null) {
      const over = SIGNALS.find((signal) => {
        const reads = this.readings[signal];
        const bound = this.bounds[signal];
        // the lateness of the window in progress counts as a read: requests that arrived during a
        // block are read before the timer that would read it
        if (signal === "event_loop_delay") return [...reads, this.current(signal)].filter((read) => read > bound).length >= 2;
        return reads.length >= 2 && Math.min(...reads.slice(-2), this.current(signal)) > bound;
      });
      if (over) {
        this.sheddingFor = over;
        loadSheddingActive.set(1);
        this.sources.logger.warn({ signal: over, readings: this.readings, bounds: this.bounds }, "load shedding: past a bound, refusing new requests");
      }
    } else if (SIGNALS.every((signal) => Math.max(...this.readings[signal], this.current(signal)) <= this.bounds[signal] * RECOVERY_SHARE)) {
      this.sources.logger.warn({ signal: this.sheddingFor }, "load shedding: under half of every bound, serving again");
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
    // the requests still answered while the server stops are served as they come
    this.closed = true;
    clearInterval(this.timer);
    this.delays.disable();
  }
}

const SHED_MESSAGE = "The service is over capacity right now: retry after the time in Retry-After";

const SHED_BODY = JSON.stringify({ errors: [{ message: SHED_MESSAGE, extensions: { code: "SERVICE_UNAVAILABLE" } }] });
