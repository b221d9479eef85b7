import type { Cluster } from "ioredis";
import type { RedisTarget } from "../config.ts";
import type { Logger } from "../logger.ts";
import { connectRedis, isCluster, storeHashTag, type RedisClient } from "../redis.ts";
import { LocalStockEvents } from "./local-events.ts";
import type { StockEvent, StockEventBus, StockEventListener, StockSubscription } from "./stock-events.ts";

/**
 * A store's channel. It starts with the store as a hash tag, so that on a Redis Cluster each
 * store's channel lives on the shard its slot belongs to (SPEC section 7).
 */
export const stockChannel = (storeId: string) => `${storeHashTag(storeId)}:stock`;

/** How soon a refused SUBSCRIBE/SSUBSCRIBE of a channel still wanted is sent again. */
const RESUBSCRIBE_DELAY_MS = 1_000;
/**
 * How long a new subscription waits for Redis to confirm its channel. Redis answers within a
 * millisecond; this long without an answer, Redis is away, and the subscription goes on without
 * it (it hears the store's events once Redis is back and the channel subscribed again).
 */
const CONFIRM_WAIT_MS = 2_000;
/** At most one warning per this long about events that could not be published. */
const LOST_WARNING_INTERVAL_MS = 10_000;

/**
 * Stock events between processes over Redis pub/sub. A committed batch goes out as one message
 * on its store's channel, serialized once; a process subscribes to a store's channel only while
 * it has subscribers for that store, parses each message once and fans it out to them.
 *
 * On one Redis (REDIS_URL) that is PUBLISH/SUBSCRIBE. On a Redis Cluster (REDIS_CLUSTER_NODES)
 * it is sharded pub/sub, SPUBLISH/SSUBSCRIBE: a message travels only within the shard that owns
 * the store's slot, so the cluster's pub/sub capacity grows with its shards (plain PUBLISH is
 * broadcast to every node). ioredis keeps one subscriber connection per master that has
 * channels of ours, and after a failover or a slot move it finds the new master and subscribes
 * there again; a SSUBSCRIBE refused meanwhile is sent again here.
 *
 * A subscription is live once Redis has confirmed its store's channel (the SUBSCRIBE/SSUBSCRIBE
 * reply): its `ready` resolves then, so a GraphQL subscription starts only when no event
 * published from then on can pass it by (an event published before the confirmation would).
 *
 * Redis being away never reaches the mutations: publishing neither queues, waits nor throws
 * (what is published meanwhile is lost, and the items' `version` tells clients to re-query),
 * and the subscriptions come back by themselves when Redis does.
 */
export class RedisStockEvents implements StockEventBus {
  private readonly local: LocalStockEvents;
  private readonly publisher: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly sharded: boolean;
  private readonly retries = new Map<string, NodeJS.Timeout>();
  /** per store listened to: settles once Redis confirmed its channel */
  private readonly confirmed = new Map<string, Promise<void>>();
  private lastLostWarning = 0;
  private closed = false;

  constructor(
    target: RedisTarget | string,
    private readonly logger: Logger,
  ) {
    this.local = new LocalStockEvents(logger);
    this.publisher = connectRedis(
      target,
      {
        // While disconnected a publish fails at once instead of piling up in memory, and one that
        // Redis does not answer gives up soon. (On a cluster, one whose master is failing over is
        // retried a few times within about two seconds, and so often arrives after all.)
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 2_000,
        // the publications of orders committed together go out in one write, still in order
        enableAutoPipelining: true,
      },
      { enableAutoPipelining: true },
    );
    this.subscriber = connectRedis(
      target,
      {
        // On one Redis, the ready check (INFO) would hold SUBSCRIBE back on every (re)connection
        // and lose the first messages.
        enableReadyCheck: false,
        // Subscribing waits for the connection however long Redis is away.
        maxRetriesPerRequest: null,
      },
      // one subscriber connection per master with channels of ours; the slot map is read often,
      // so that a slot moved or failed over without a connection dropping is noticed soon
      { shardedSubscribers: true, slotsRefreshInterval: 2_000 },
    );
    this.sharded = isCluster(this.subscriber);
    reportConnection(this.publisher, "publisher", logger);
    reportConnection(this.subscriber, "subscriber", logger);
    this.subscriber.on(this.sharded ? "smessage" : "message", (channel: string, message: string) => this.deliver(channel, message));
  }

  publish(events: readonly StockEvent[]) {
    for (const [storeId, batch] of groupByStore(events)) {
      const channel = stockChannel(storeId);
      const message = JSON.stringify(batch);
      (this.sharded ? this.publisher.spublish(channel, message) : this.publisher.publish(channel, message)).catch((error: Error) =>
        this.reportLost(storeId, batch.length, error),
      );
    }
  }

  subscribe(storeId: string, listener: StockEventListener): StockSubscription {
    if (!this.local.hasListeners(storeId)) this.listen(storeId);
    const local = this.local.subscribe(storeId, listener);
    let listening = true;
    return {
      ready: withinConfirmWait(this.confirmed.get(storeId)!),
      stop: () => {
        if (!listening) return;
        listening = false;
        local.stop();
        if (!this.local.hasListeners(storeId)) this.stopListening(storeId);
      },
    };
  }

  async close() {
    this.closed = true;
    for (const retry of this.retries.values()) clearTimeout(retry);
    this.retries.clear();
    await Promise.all([closeConnection(this.publisher), closeConnection(this.subscriber)]);
    await this.local.close();
  }

  /**
   * Subscribes to the store's channel; its `confirmed` settles with Redis' reply. A refusal (a
   * node failing over, say) is retried while the store is still wanted, and the first success
   * confirms.
   */
  private listen(storeId: string) {
    let confirm!: () => void;
    this.confirmed.set(storeId, new Promise<void>((resolve) => (confirm = resolve)));
    this.send(storeId, confirm);
  }

  private send(storeId: string, confirm: () => void) {
    const channel = stockChannel(storeId);
    (this.sharded ? this.subscriber.ssubscribe(channel) : this.subscriber.subscribe(channel)).then(confirm, (error: Error) => {
      if (this.closed || !this.local.hasListeners(storeId) || this.retries.has(storeId)) return;
      this.logger.warn({ err: error, channel }, "subscribing to a store's channel failed; trying again");
      this.retries.set(
        storeId,
        setTimeout(() => {
          this.retries.delete(storeId);
          if (!this.closed && this.local.hasListeners(storeId)) this.send(storeId, confirm);
        }, RESUBSCRIBE_DELAY_MS),
      );
    });
  }

  private stopListening(storeId: string) {
    const channel = stockChannel(storeId);
    this.confirmed.delete(storeId);
    clearTimeout(this.retries.get(storeId));
    this.retries.delete(storeId);
    (this.sharded ? this.subscriber.sunsubscribe(channel) : this.subscriber.unsubscribe(channel)).catch((error: Error) =>
      this.logger.warn({ err: error, channel }, "unsubscribing from a store's channel failed"),
    );
  }

  private deliver(channel: string, message: string) {
    let events: StockEvent[];
    try {
      events = JSON.parse(message);
    } catch (error) {
      this.logger.warn({ err: error, channel }, "unreadable stock event message ignored");
      return;
    }
    this.local.publish(events);
  }

  /**
   * While Redis is known to be away its connection has said so once; no warning per mutation.
   * (A cluster stays "ready" while one of its masters fails over: there, one warning in a while.)
   */
  private reportLost(storeId: string, events: number, error: Error) {
    const now = Date.now();
    const warn = this.publisher.status === "ready" && now - this.lastLostWarning >= LOST_WARNING_INTERVAL_MS;
    if (warn) this.lastLostWarning = now;
    this.logger[warn ? "warn" : "debug"]({ err: error, storeId, events }, "stock events not published (Redis unavailable)");
  }
}

/** Redis' confirmation, or, when Redis is away, CONFIRM_WAIT_MS later. */
function withinConfirmWait(confirmed: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, CONFIRM_WAIT_MS).unref()));
  return Promise.race([confirmed, waited]).finally(() => clearTimeout(timer));
}

function groupByStore(events: readonly StockEvent[]) {
  const byStore = new Map<string, StockEvent[]>();
  for (const event of events) {
    const batch = byStore.get(event.storeId);
    if (batch) batch.push(event);
    else byStore.set(event.storeId, [event]);
  }
  return byStore;
}

/** One warning when a connection is lost and one line when it is back, not one per retry. */
function reportConnection(redis: RedisClient, role: "publisher" | "subscriber", logger: Logger) {
  if (isCluster(redis)) return reportClusterConnection(redis, role, logger);
  let lost = false;
  redis.on("error", (error: Error) => {
    if (lost) return;
    lost = true;
    logger.warn({ err: error, role }, "Redis connection lost, retrying: live updates pause, mutations go on");
  });
  redis.on("ready", () => {
    if (!lost) return;
    lost = false;
    logger.info({ role }, "Redis connection restored");
  });
}

/**
 * A cluster client stays ready while one master fails over, and meanwhile its connections to
 * that node fail in bursts (ioredis tries it again at each refresh of the slot map): one warning
 * per node every so often, and one line when the client as a whole reconnects.
 */
function reportClusterConnection(cluster: Cluster, role: "publisher" | "subscriber", logger: Logger) {
  const warnedAt = new Map<string, number>();
  const failed = (error: Error, node = "cluster") => {
    const now = Date.now();
    if (now - (warnedAt.get(node) ?? -Infinity) < LOST_WARNING_INTERVAL_MS) return;
    warnedAt.set(node, now);
    logger.warn({ err: error, role, node }, "Redis Cluster unreachable (or one of its masters failing over), retrying: live updates of its stores pause, mutations go on");
  };
  cluster.on("error", (error: Error) => failed(error));
  // from the cluster's connections ("node error") and from its sharded subscribers' ("nodeError")
  cluster.on("node error", failed);
  cluster.on("nodeError", failed);
  cluster.on("ready", () => {
    if (warnedAt.size === 0) return;
    warnedAt.clear();
    logger.info({ role }, "Redis Cluster connection restored");
  });
}

/** QUIT lets replies in flight arrive, but never holds the shutdown up for a Redis that is away. */
async function closeConnection(redis: RedisClient) {
  if (redis.status === "ready") {
    await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  }
  redis.disconnect();
}
