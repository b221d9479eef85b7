import { accountingOptions } from "./accounting/options.ts";
import { startReconciliation } from "./accounting/reconciliation.ts";
import { loadSecretKey } from "./accounting/secret-box.ts";
import { loadConfig } from "./config.ts";
import { connectDatabase } from "./db/connect.ts";
import { createLogger } from "./logger.ts";
import { createOrderRateLimiter } from "./orders/order-rate-limit.ts";
import { createStockEventBus } from "./realtime/event-bus.ts";
import { createApp } from "./server.ts";

/**
 * `npm start`: the database (DATABASE_URL, or an embedded PostgreSQL under ./.data), its
 * migrations, then the server; SIGTERM/SIGINT finish requests in flight and close everything.
 */
async function main() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = await connectDatabase(config, logger);
  const stockEvents = createStockEventBus(config.redisUrl, logger);
  const orderRateLimiter = createOrderRateLimiter({
    perMinute: config.orderRateLimitPerMinute,
    redisUrl: config.redisUrl,
    logger,
  });
  const accounting = accountingOptions(config, await loadSecretKey(config.accounting.secretKey, config.dataDir, logger));
  const deps = { db, publisher: stockEvents, stockEvents, logger, orderRateLimiter, accounting };
  const app = createApp(deps, config);
  await new Promise<void>((resolve) => app.server.listen(config.port, config.host, resolve));
  logger.info(
    { port: config.port, graphql: `${config.publicUrl}/graphql`, storefront: `${config.publicUrl}/store/<slug>` },
    `store inventory listening on ${config.publicUrl}/graphql${config.graphiql ? " (GraphiQL in a browser)" : ""}. ` +
      `Try it: in another terminal run \`npm run seed:demo\` (the "Ejemplar" demo store: prints its admin token), ` +
      `then open ${config.publicUrl}/store/ejemplar; or create an empty store with ` +
      '`npm run store:create -- --slug my-store --name "My store"`',
  );
  const reconciliation = startReconciliation(deps, config.accounting.reconcileIntervalMs);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 15_000).unref();
    try {
      await reconciliation.stop();
      await app.close();
      await db.stop();
    } finally {
      clearTimeout(force);
      logger.info("stopped");
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error) => {
  createLogger().fatal({ err: error }, "could not start");
  process.exit(1);
});
