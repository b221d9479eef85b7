import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import pg from "pg";
import { startEmbeddedPostgres, createDatabaseIfMissing } from "../../src/db/embedded.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { createLogger } from "../../src/logger.ts";

/**
 * One database for the run: a fresh one on DATABASE_URL's server when set, else an embedded
 * PostgreSQL of the test run's own (under .data/test). Migrations are applied once here; every
 * test makes stores of its own, so files can share the database and run in parallel.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger("warn");
  let adminUrl: string;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    const embedded = await startEmbeddedPostgres({
      dataDir: ".data/test",
      port: Number(process.env.TEST_EMBEDDED_PG_PORT ?? 54339),
      database: "postgres",
      logger,
      persistent: false,
    });
    adminUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  const name = `inventory_test_${randomBytes(4).toString("hex")}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await createDatabaseIfMissing(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  await applyMigrations(pool, logger);
  await pool.end();

  project.provide("databaseUrl", url.toString());
  project.provide("redisUrl", process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

  return async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    await admin.end();
    await stopEmbedded?.();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}
