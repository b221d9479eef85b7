import type { RedisTarget } from "../config.ts";
import type { Logger } from "../logger.ts";
import { LocalStockEvents } from "./local-events.ts";
import { RedisStockEvents } from "./redis-events.ts";
import type { StockEventBus } from "./stock-events.ts";

/**
 * The bus of a deployment: Redis between processes when REDIS_URL or REDIS_CLUSTER_NODES is set
 * (sharded pub/sub on a cluster), else in-process.
 */
export function createStockEventBus(redis: RedisTarget | string | undefined, logger: Logger): StockEventBus {
  return redis ? new RedisStockEvents(redis, logger) : new LocalStockEvents(logger);
}
