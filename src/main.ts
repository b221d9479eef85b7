import { loadSecretKey } from "./accounting/secret-box.ts";
import { loadConfig } from "./config.ts";
import { connectDatabase } from "./db/connect.ts";
import { createLogger } from "./logger.ts";
import { createService } from "./service.ts";

// Within this the requests in flight are answered and everything closed, or the process exits 1.
// Container stops must wait longer (docker-compose.yml's stop_grace_period, README "Operations").
const STOP_GRACE_MS = 15_000;

/**
 * `npm start`, and `node dist/main.js` once built: the database (DATABASE_URL, or an embedded
 * PostgreSQL under ./.data), its migrations, then the server; SIGTERM/SIGINT finish the requests
 * in flight, close the sockets and everything else, and exit 0.
 */
async function main() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = await connectDatabase(config, logger);
  const secretKey = await loadSecretKey(config.accounting.secretKey, config.dataDir, logger);
  const service = createService(config, { db, logger, secretKey });
  await service.listen(config.port, config.host);
  // the production build (dist/, where there is no tsx) runs its commands with node
  const built = import.meta.url.endsWith(".js");
  const seedDemo = built ? "node dist/cli/seed-demo.js" : "npm run seed:demo";
  const createStore = built ? "node dist/cli/create-store.js" : "npm run store:create --";
  logger.info(
    { port: config.port, graphql: `${config.publicUrl}/graphql`, storefront: `${config.publicUrl}/store/<slug>` },
    `store inventory listening on ${config.publicUrl}/graphql${config.graphiql ? " (GraphiQL in a browser)" : ""}. ` +
      `Try it: in another terminal run \`${seedDemo}\` (the "Ejemplar" demo store: prints its admin token), ` +
      `then open ${config.publicUrl}/store/ejemplar; or create an empty store with ` +
      `\`${createStore} --slug my-store --name "My store"\``,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error({ graceMs: STOP_GRACE_MS }, "could not stop within the grace period; exiting");
      process.exit(1);
    }, STOP_GRACE_MS).unref();
    let exitCode = 0;
    try {
      await service.close();
      await db.stop();
      logger.info("stopped");
    } catch (error) {
      logger.error({ err: error }, "could not stop cleanly");
      exitCode = 1;
    }
    clearTimeout(force);
    process.exit(exitCode);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error) => {
  createLogger().fatal({ err: error }, "could not start");
  process.exit(1);
});
