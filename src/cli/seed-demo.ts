import { loadConfig } from "../config.ts";
import { connectDatabase } from "../db/connect.ts";
import { createLogger } from "../logger.ts";
import { createDemoStore, DEMO_STORE } from "../stores/demo-store.ts";

/**
 * `npm run seed:demo`: creates the help article's "Ejemplar" store with a few items and prints
 * its admin token and storefront URL; the last line is JSON, like `npm run store:create`'s.
 * When `ejemplar` exists it makes `ejemplar-2`, `ejemplar-3`...
 */
const config = loadConfig();
const logger = createLogger(process.env.LOG_LEVEL ?? "warn");
const db = await connectDatabase(config, logger);
// Nobody can be subscribed to a store that did not exist a moment ago: its first events go nowhere.
const publisher = { publish() {} };
try {
  const store = await createDemoStore({ db, publisher });
  if (!store) {
    console.error(
      `The demo stores "${DEMO_STORE.slug}" to "${DEMO_STORE.slug}-20" all exist already; ` +
        'create another store with: npm run store:create -- --slug my-store --name "My store"',
    );
    process.exitCode = 1;
  } else {
    const storefrontUrl = `${config.publicUrl}/store/${store.slug}`;
    if (store.slug !== DEMO_STORE.slug) console.log(`"${DEMO_STORE.slug}" exists already: created "${store.slug}" instead.`);
    console.log(`Demo store "${store.name}" created with its items.`);
    console.log(`  storefront:  ${storefrontUrl}  (open it while \`npm start\` runs)`);
    console.log(`  GraphiQL:    ${config.publicUrl}/graphql  (Headers: {"Authorization": "Bearer <adminToken>"})`);
    console.log(`  admin token: ${store.adminToken}  (shown only now; only its hash is stored)`);
    console.log(JSON.stringify({ slug: store.slug, name: store.name, adminToken: store.adminToken, storefrontUrl }));
  }
} finally {
  await db.stop();
}
