import type { RedisTarget } from "../config.ts";
import type { Logger } from "../logger.ts";
import { connectRedis, storeHashTag, type RedisClient } from "../redis.ts";

/**
 * How often one client may call the public placeOrder for one store: at most `perMinute` calls
 * in each fixed one-minute window, so nobody can hold a store's whole stock hostage with a flood
 * of orders. With REDIS_URL (or REDIS_CLUSTER_NODES) the windows are counted in Redis and so
 * shared by every process; without it, or while Redis is unreachable, each process counts on its
 * own. Redis being away therefore never blocks an order (the limit only becomes per process),
 * and is logged once. A counter's key starts with its store as a hash tag, so that on a cluster
 * a store's counters sit on one shard.
 */
export interface OrderRateLimiter {
  /** Counts one placeOrder call of `client` on `store` and says whether it is within the limit (or `perMinute`, when given). */
  take(store: string, client: string, perMinute?: number): Promise<RateDecision>;
  close(): Promise<void>;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const WINDOW_SECONDS = 60;
/** An order never waits longer than this for the limiter: past it, this process counts alone. */
const REDIS_ANSWER_MS = 500;

/** The limiter for `perMinute` calls, or none when the limit is off (0). */
export function createOrderRateLimiter(options: {
  perMinute: number;
  /** one Redis, or a Redis Cluster; `redisUrl` is the same as `redis: { url }` */
  redis?: RedisTarget;
  redisUrl?: string;
  logger: Logger;
  /** milliseconds since the epoch; tests fix it so that no window ends in the middle of one */
  now?: () => number;
}): OrderRateLimiter | undefined {
  if (options.perMinute <= 0) return undefined;
  const clock = options.now ?? Date.now;
  const local = new LocalWindowCounts();
  const redis = options.redis ?? (options.redisUrl ? { url: options.redisUrl } : undefined);
  const counts = redis ? new RedisWindowCounts(redis, local, options.logger) : local;
  return {
    async take(store, client, perMinute = options.perMinute) {
      const now = clock() / 1000;
      const window = Math.floor(now / WINDOW_SECONDS);
      // the store as the caller named it (its slug): the limit is checked before anything is read
      const count = await counts.increment(`${storeHashTag(store)}:order-rate:${window}:${client}`, window);
      if (count <= perMinute) return { allowed: true };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window + 1) * WINDOW_SECONDS - now)) };
    },
    close: () => counts.close(),
  };
}

type WindowCounts = {
  /** Adds one to `key`, a counter of the window `window`, and returns the new count. */
  increment(key: string, window: number): Promise<number>;
  close(): Promise<void>;
};

/** Counts of the current window only, in this process: memory is bounded by one minute's callers. */
class LocalWindowCounts implements WindowCounts {
  private window = -1;
  private readonly counts = new Map<string, number>();

  async increment(key: string, window: number) {
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return count;
  }

  async close() {}
}

/**
 * INCRBY, and EXPIRE when the count is new: one command (a script run by EVALSHA), so one round
 * trip and one reply for all the calls it counts, and nothing between the two.
 */
const COUNT_IN_WINDOW = `local count = redis.call("INCRBY", KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call("EXPIRE", KEYS[1], ARGV[1]) end
return count`;

type CountingRedis = RedisClient & { countInWindow(key: string, ttlSeconds: number, calls: number): Promise<number> };

/** The calls of one counter waiting for the next write to Redis, each with where its count goes. */
type Pending = { window: number; waiting: { resolve: (count: number) => void }[] };

/**
 * Counts in Redis (COUNT_IN_WINDOW); falls back to `local` whenever Redis does not answer at once.
 * The calls of a counter that arrive in one turn of the event loop (a storefront server's
 * shoppers, a crowd behind one address) go as one INCRBY of their number, and each is handed its
 * own count in arrival order, as if counted one by one: the same counts for one command instead
 * of one per order.
 */
class RedisWindowCounts implements WindowCounts {
  private readonly redis: CountingRedis;
  private reachable = true;
  private pending = new Map<string, Pending>();

  constructor(
    target: RedisTarget,
    private readonly local: LocalWindowCounts,
    private readonly logger: Logger,
  ) {
    const redis = connectRedis(
      target,
      {
        // While Redis is away a command fails at once instead of queueing behind the reconnection,
        // and one that Redis does not answer gives up soon: an order never waits for the limiter.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: REDIS_ANSWER_MS,
        // the counters of a turn go out in one write
        enableAutoPipelining: true,
      },
      { enableAutoPipelining: true },
    );
    redis.defineCommand("countInWindow", { numberOfKeys: 1, lua: COUNT_IN_WINDOW });
    this.redis = redis as CountingRedis;
    // Failures surface (and are logged) through `increment`; the reconnection goes on by itself.
    this.redis.on("error", () => {});
  }

  increment(key: string, window: number) {
    return new Promise<number>((resolve) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      let calls = this.pending.get(key);
      if (!calls) this.pending.set(key, (calls = { window, waiting: [] }));
      calls.waiting.push({ resolve });
    });
  }

  private flush() {
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, { window, waiting }] of pending) void this.count(key, window, waiting);
  }

  private async count(key: string, window: number, waiting: Pending["waiting"]) {
    try {
      // A cluster retries a command whose master is failing over for a while; the order does not wait.
      const count = Number(await withinMs(REDIS_ANSWER_MS, this.redis.countInWindow(key, 2 * WINDOW_SECONDS, waiting.length)));
      this.noteReachable(true);
      waiting.forEach((call, i) => call.resolve(count - waiting.length + 1 + i));
    } catch (error) {
      this.noteReachable(false, error);
      for (const call of waiting) call.resolve(await this.local.increment(key, window));
    }
  }

  async close() {
    this.redis.disconnect();
  }

  private noteReachable(reachable: boolean, error?: unknown) {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    if (reachable) this.logger.info("order rate limit: Redis reachable again, counting across processes");
    else this.logger.warn({ err: error }, "order rate limit: Redis unreachable, each process counts on its own until it returns");
  }
}

function withinMs<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
