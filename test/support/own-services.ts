import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { createLogger } from "../../src/logger.ts";
import { freePort } from "./free-port.ts";
import { launchRedisServer, type RedisServer } from "./redis-server.ts";

/**
 * PostgreSQL and Redis servers of a test's own, for fault tests: the shared ones on the machine
 * are never stopped. Each can be cut off and brought back while the service under test runs.
 */

export type OwnPostgres = {
  /** the migrated database the service uses */
  url: string;
  /** Cuts every connection to the database (pg_terminate_backend), as a network blip or a failover would. */
  terminateConnections(): Promise<number>;
  stop(): Promise<void>;
  /** Starts it again on the same data directory and port. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
};

export async function startOwnPostgres(name: string): Promise<OwnPostgres> {
  const logger = createLogger("warn");
  const dataDir = `.data/${name}-${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  const options = { dataDir, port, database: "inventory", logger, persistent: true };
  let server = await startEmbeddedPostgres(options);
  const pool = new pg.Pool({ connectionString: server.url, max: 1 });
  await applyMigrations(pool, logger);
  await pool.end();
  let running = true;
  const adminUrl = server.url.replace(/\/inventory$/, "/postgres");
  const stop = async () => {
    if (!running) return;
    running = false;
    await server.stop();
  };
  return {
    url: server.url,
    async terminateConnections() {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        const { rowCount } = await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'inventory' AND pid <> pg_backend_pid()",
        );
        return rowCount ?? 0;
      } finally {
        await admin.end();
      }
    },
    stop,
    async start() {
      if (running) return;
      server = await startEmbeddedPostgres(options);
      running = true;
    },
    async destroy() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type OwnRedis = RedisServer;

/** A redis-server of the test's own on a free port, keeping nothing on disk (the shared launcher). */
export const startOwnRedis = (): Promise<OwnRedis> => launchRedisServer();

export type OwnDatabase = { url: string; drop(): Promise<void> };

/**
 * A migrated database of the test's own on the test run's PostgreSQL server, for a test that
 * reads database-wide figures (pg_stat_database's deadlocks) that other test files would move.
 */
export async function createOwnDatabase(testDatabaseUrl: string, prefix: string): Promise<OwnDatabase> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const adminUrl = new URL(testDatabaseUrl);
  adminUrl.pathname = "/postgres";
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  await applyMigrations(pool, createLogger("warn"));
  await pool.end();
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => client.end());
    },
  };
}
