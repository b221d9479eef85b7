import type { Logger } from "../logger.ts";
import { LocalStockEvents } from "./local-events.ts";
import { RedisStockEvents } from "./redis-events.ts";
import type { StockEventBus } from "./stock-events.ts";

/** The bus of a deployment: Redis between processes when REDIS_URL is set, else in-process. */
export function createStockEventBus(redisUrl: string | undefined, logger: Logger): StockEventBus {
  return redisUrl ? new RedisStockEvents(redisUrl, logger) : new LocalStockEvents(logger);
}
