import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import pg from "pg";
import { startEmbeddedPostgres, createDatabaseIfMissing } from "../../src/db/embedded.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { createLogger } from "../../src/logger.ts";

/**
 * One database for the run: a fresh one on DATABASE_URL's server when set, else an embedded
 * PostgreSQL of the test run's own (under .data/test); or TEST_DATABASE_URL's as it is.
 * Migrations are applied once here; every test makes stores of its own, so files can share the
 * database and run in parallel.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger("warn");
  project.provide("redisUrl", process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    // a database someone else made and drops (test/pgbouncer.test.ts: the run's own, through a
    // PgBouncer): used as it is, its migrations applied through that URL (nothing left to apply)
    const pool = new pg.Pool({ connectionString: given, max: 1 });
    await applyMigrations(pool, logger);
    await pool.end();
    project.provide("databaseUrl", given);
    return;
  }
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
