import type { Database } from "./db/pool.ts";
import type { Logger } from "./logger.ts";
import type { StockEventPublisher } from "./realtime/stock-events.ts";

/** What the domain services need from the outside world, built once in src/server.ts. */
export type Deps = {
  db: Database;
  publisher: StockEventPublisher;
  logger: Logger;
};
