import pg from "pg";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { applyMigrations } from "./migrate.ts";
import { openDatabase, type Database } from "./pool.ts";

export const EMBEDDED_PORT = Number(process.env.EMBEDDED_PG_PORT ?? 54329);
const EMBEDDED_URL = `postgresql://postgres:postgres@127.0.0.1:${EMBEDDED_PORT}/inventory`;

/**
 * The service's database, migrated and its Prisma client connected: DATABASE_URL when set;
 * otherwise the embedded PostgreSQL under the data directory, reused when another process of
 * ours (a running `npm start`) already serves it, else started here and stopped again by `stop()`.
 */
export async function connectDatabase(config: Config, logger: Logger): Promise<Database & { stop(): Promise<void> }> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    if (await reachable(EMBEDDED_URL)) {
      url = EMBEDDED_URL;
    } else {
      const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: EMBEDDED_PORT, database: "inventory", logger });
      url = embedded.url;
      stopEmbedded = embedded.stop;
      logger.info({ dataDir: config.dataDir, port: EMBEDDED_PORT }, "no DATABASE_URL: started the embedded PostgreSQL");
    }
  }
  const db = openDatabase(url, { poolSize: config.databasePoolSize, logger });
  try {
    await applyMigrations(db.pool, logger);
    // Prisma loads its query compiler (WebAssembly, about 50 MB and 130 ms) at its first query
    // unless connected first: loaded here, that is part of starting up, not of whichever request
    // comes first, and a process that answers /health serves at full speed
    await db.prisma.$connect();
  } catch (error) {
    await db.close();
    await stopEmbedded?.();
    throw error;
  }
  return {
    ...db,
    async stop() {
      await db.close();
      await stopEmbedded?.();
    },
  };
}

async function reachable(url: string) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
