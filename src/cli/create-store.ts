import { parseArgs } from "node:util";
import { loadConfig } from "../config.ts";
import { connectDatabase } from "../db/connect.ts";
import { OperationError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { createStore } from "../stores/stores.ts";

/**
 * `npm run store:create -- --slug SLUG --name NAME`: creates a store and prints, as its last
 * line, {"slug", "name", "adminToken"}. The token is shown only here; keep it.
 */
const { values } = parseArgs({ options: { slug: { type: "string" }, name: { type: "string" } } });
if (!values.slug || !values.name) {
  console.error('usage: npm run store:create -- --slug my-store --name "My store"');
  process.exit(2);
}
const config = loadConfig();
const logger = createLogger(process.env.LOG_LEVEL ?? "warn");
const db = await connectDatabase(config, logger);
try {
  const store = await createStore(db.prisma, { slug: values.slug, name: values.name });
  if (store instanceof OperationError) {
    console.error(store.message);
    process.exitCode = 1;
  } else {
    console.log(JSON.stringify({ slug: store.slug, name: store.name, adminToken: store.adminToken }));
  }
} finally {
  await db.stop();
}
