import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import type { Logger } from "../logger.ts";

export const MIGRATIONS_DIR = new URL("../../prisma/migrations/", import.meta.url).pathname;
export const FUNCTIONS_DIR = new URL("../../prisma/functions/", import.meta.url).pathname;

// Any constant works; it only has to be the same in every process of this service.
const MIGRATION_LOCK_ID = 727_465_001;

/**
 * Applies the SQL migrations under prisma/migrations that the database has not seen, in name
 * order, each in its own transaction, and then the current SQL functions (prisma/functions).
 * It keeps Prisma's own bookkeeping table, so the Prisma CLI (`prisma migrate status|deploy`)
 * agrees with what the service did. Several processes starting at once serialize on a
 * transaction-scoped advisory lock that each of those transactions takes first, and look again
 * under it: the first applies, the others find nothing left to do. Nothing outlives a
 * transaction, so this works the same through PgBouncer in transaction pooling.
 */
export async function applyMigrations(
  pool: pg.Pool,
  logger: Logger,
  /** a test's own folders; `functions: null` applies the migrations alone (the database as an earlier version left it) */
  { migrations: dir = MIGRATIONS_DIR, functions = FUNCTIONS_DIR }: { migrations?: string; functions?: string | null } = {},
): Promise<string[]> {
  const client = await pool.connect();
  let failed = false;
  try {
    await underMigrationLock(client, () =>
      client.query(`
        CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
          "id" VARCHAR(36) PRIMARY KEY NOT NULL,
          "checksum" VARCHAR(64) NOT NULL,
          "finished_at" TIMESTAMPTZ,
          "migration_name" VARCHAR(255) NOT NULL,
          "logs" TEXT,
          "rolled_back_at" TIMESTAMPTZ,
          "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
          "applied_steps_count" INTEGER NOT NULL DEFAULT 0
        )`),
    );
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    const newlyApplied: string[] = [];
    for (const name of names) {
      const sql = await readFile(join(dir, name, "migration.sql"), "utf8");
      const checksum = createHash("sha256").update(sql).digest("hex");
      const applied = await underMigrationLock(client, async () => {
        const { rows } = await client.query<{ checksum: string }>(
          `SELECT checksum FROM "_prisma_migrations"
            WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL`,
          [name],
        );
        if (rows[0]) {
          if (rows[0].checksum !== checksum) logger.warn({ migration: name }, "applied migration was edited since; not re-applied");
          return false;
        }
        try {
          await client.query(sql);
        } catch (error) {
          throw new Error(`migration ${name} failed: ${(error as Error).message}`, { cause: error });
        }
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), 1)`,
          [randomUUID(), checksum, name],
        );
        return true;
      });
      if (!applied) continue;
      logger.info({ migration: name }, "migration applied");
      newlyApplied.push(name);
    }
    if (functions) await applyFunctions(client, functions);
    return newlyApplied;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // after a failure the connection may be in any state (a ROLLBACK that failed too): dropped, not pooled
    client.release(failed);
  }
}

/**
 * Runs `work` in a transaction that first takes the migration lock (held until COMMIT or
 * ROLLBACK): one process at a time changes the schema.
 */
async function underMigrationLock<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_ID]);
    const result = await work();
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

/**
 * The service's SQL functions as they are now (the checkout, the stock ledger, availability), one
 * file each under prisma/functions, so that the current definition of each is one file to read
 * rather than whichever migration replaced it last. Migrations are history; these are the code.
 * Every file is `CREATE OR REPLACE FUNCTION ...`, run at each start after the migrations, all in
 * one transaction: applying them again changes nothing, and a process never sees half of them. A
 * file whose function changes its parameters drops the old signature itself
 * (test/sql-functions.test.ts fails while two of one name exist).
 */
async function applyFunctions(client: pg.PoolClient, dir: string): Promise<void> {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  const sources = await Promise.all(files.map((file) => readFile(join(dir, file), "utf8")));
  try {
    await underMigrationLock(client, async () => {
      for (const source of sources) await client.query(source);
    });
  } catch (error) {
    throw new Error(`SQL functions could not be applied: ${(error as Error).message}`, { cause: error });
  }
}

/** The name of the last migration applied to the database (null before the first), as /health reports it. */
export async function lastAppliedMigration(pool: pg.Pool): Promise<string | null> {
  const { rows } = await pool.query<{ migration_name: string }>(
    `SELECT migration_name FROM "_prisma_migrations"
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
      ORDER BY migration_name DESC LIMIT 1`,
  );
  return rows[0]?.migration_name ?? null;
}
