import { Redis } from "ioredis";
import type { Logger } from "../logger.ts";
import { LocalStockEvents } from "./local-events.ts";
import type { StockEvent, StockEventBus, StockEventListener } from "./stock-events.ts";

/** A store's channel. It starts with the store, so sharded pub/sub can place it by store (SPEC 7). */
export const stockChannel = (storeId: string) => `store:${storeId}:stock`;

/**
 * Stock events between processes over Redis pub/sub. A committed batch goes out as one message
 * on its store's channel, serialized once; a process SUBSCRIBEs to a store's channel only while
 * it has subscribers for that store, parses each message once and fans it out to them.
 *
 * Redis being away never reaches the mutations: publishing neither queues, waits nor throws
 * (what is published meanwhile is lost, and the items' `version` tells clients to re-query),
 * and the subscriber connection reconnects and resubscribes by itself when Redis returns.
 */
export class RedisStockEvents implements StockEventBus {
  private readonly local: LocalStockEvents;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.local = new LocalStockEvents(logger);
    this.publisher = new Redis(url, {
      // While disconnected a PUBLISH fails at once instead of piling up in memory,
      // and one that Redis does not answer gives up soon.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 2_000,
    });
    this.subscriber = new Redis(url, {
      // The ready check (INFO) would hold SUBSCRIBE back on every (re)connection and lose the first messages.
      enableReadyCheck: false,
      // SUBSCRIBE and UNSUBSCRIBE wait for the connection however long Redis is away.
      maxRetriesPerRequest: null,
    });
    reportConnection(this.publisher, "publisher", logger);
    reportConnection(this.subscriber, "subscriber", logger);
    this.subscriber.on("message", (channel: string, message: string) => this.deliver(channel, message));
  }

  publish(events: readonly StockEvent[]) {
    for (const [storeId, batch] of groupByStore(events)) {
      this.publisher
        .publish(stockChannel(storeId), JSON.stringify(batch))
        .catch((error: Error) => this.reportLost(storeId, batch.length, error));
    }
  }

  subscribe(storeId: string, listener: StockEventListener) {
    const channel = stockChannel(storeId);
    if (!this.local.hasListeners(storeId)) {
      this.subscriber.subscribe(channel).catch((error: Error) => this.logger.warn({ err: error, channel }, "SUBSCRIBE failed"));
    }
    const stopListening = this.local.subscribe(storeId, listener);
    let listening = true;
    return () => {
      if (!listening) return;
      listening = false;
      stopListening();
      if (!this.local.hasListeners(storeId)) {
        this.subscriber.unsubscribe(channel).catch((error: Error) => this.logger.warn({ err: error, channel }, "UNSUBSCRIBE failed"));
      }
    };
  }

  async close() {
    await Promise.all([closeConnection(this.publisher), closeConnection(this.subscriber)]);
    await this.local.close();
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

  /** While Redis is known to be away its connection has said so once; no warning per mutation. */
  private reportLost(storeId: string, events: number, error: Error) {
    const level = this.publisher.status === "ready" ? "warn" : "debug";
    this.logger[level]({ err: error, storeId, events }, "stock events not published (Redis unavailable)");
  }
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
function reportConnection(redis: Redis, role: "publisher" | "subscriber", logger: Logger) {
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

/** QUIT lets replies in flight arrive, but never holds the shutdown up for a Redis that is away. */
async function closeConnection(redis: Redis) {
  if (redis.status === "ready") {
    await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  }
  redis.disconnect();
}
