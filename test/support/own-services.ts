import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { createLogger } from "../../src/logger.ts";
import { freePort } from "./processes.ts";

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

export type OwnRedis = {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** How many connections other clients hold open to it (to know when theirs are back). */
  clients(): Promise<number>;
};

/** A redis-server of the test's own on a free port, keeping nothing on disk. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    if (child) return;
    const started = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    child = started;
    let failure: Error | undefined;
    started.once("error", (error) => (failure = new Error(`cannot run redis-server (apt-get install redis-server): ${error.message}`)));
    await untilRedisAnswers(url, () => failure);
  };
  await start();
  return {
    url,
    start,
    async clients() {
      const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on("error", () => {});
      try {
        const list = (await redis.client("LIST")) as string;
        return list.trim().split("\n").length - 1;
      } catch {
        return 0;
      } finally {
        redis.disconnect();
      }
    },
    async stop() {
      const running = child;
      if (!running) return;
      child = undefined;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGKILL");
      await exited;
    },
  };
}

async function untilRedisAnswers(url: string, failure: () => Error | undefined) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failed = failure();
    if (failed) throw failed;
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on("error", () => {});
    const ok = await redis.connect().then(() => redis.ping(), () => null);
    redis.disconnect();
    if (ok === "PONG") return;
    if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
