/**
 * The physical floor of placing an order on this machine (../shared/floors/, its README): the
 * order's transaction as plain SQL with nothing else (no GraphQL, HTTP, ORM or per-store counter)
 * on a database of its own, from Node (`pg-orders.cjs`; its 3-line case is bench/pg-orders-multi3.cjs)
 * and from pgbench where it is installed. The bench runs it in turns beside each orders scenario,
 * at the same concurrency, and judges the service as a ratio to it.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import { ADMIN_URL, BENCH_DATABASE } from "./support.ts";

/** Where the floor's files are: ../shared/floors beside the repository, or BENCH_FLOORS_DIR. */
export const FLOORS_DIR = resolve(process.env.BENCH_FLOORS_DIR ?? "../shared/floors");

/** hot: 1 line, always item 1; spread: 1 line, a random one of 10,000 items; multi3: 3 lines on 3 distinct random items. */
export type FloorCase = "hot" | "spread" | "multi3";

export type FloorTurn = { perSec: number; orders: number; failed: number; seconds: number; cpuUsPerOrder?: number; p50Ms?: number; p99Ms?: number };

/** pgbench's version line, or null when it is not installed. */
export const PGBENCH = (() => {
  const probe = spawnSync("pgbench", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
})();

export function floorAvailable(): string | null {
  for (const file of ["schema.sql", "reset.sql", "pg-orders.cjs", "hot.sql", "spread.sql", "multi3.sql"]) {
    if (!existsSync(resolve(FLOORS_DIR, file))) return `${resolve(FLOORS_DIR, file)} is missing (BENCH_FLOORS_DIR)`;
  }
  return null;
}

/** Drops and recreates the floor's database (`<BENCH_DATABASE>_floor`) with the floor's schema. */
export async function freshFloorDatabase(): Promise<string> {
  const name = `${BENCH_DATABASE}_floor`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  await runSqlFile(url.toString(), "schema.sql");
  return url.toString();
}

/**
 * reset.sql: 10,000 items with huge stock and 100,000 past orders, analyzed, statistics reset and
 * a checkpoint; before every turn of the floor ("reset between runs"). About 2 s.
 */
export const resetFloor = (url: string) => runSqlFile(url, "reset.sql");

/** A file of the floor's SQL, statement by statement (VACUUM cannot run in the implicit transaction of a multi-statement query). */
async function runSqlFile(url: string, file: string) {
  const text = readFileSync(resolve(FLOORS_DIR, file), "utf8")
    .split("\n")
    .map((line) => line.replace(/--.*$/, ""))
    .join("\n");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET client_min_messages = warning");
    for (const statement of text.split(/;\s*\n/).map((part) => part.trim()).filter(Boolean)) await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * One turn of the Node floor: `pg-orders.cjs --case hot|spread` (or bench/pg-orders-multi3.cjs),
 * a `pg` Pool of `concurrency` connections with as many workers, for `durationMs`.
 */
export async function nodeFloorTurn(url: string, floorCase: FloorCase, concurrency: number, durationMs: number): Promise<FloorTurn> {
  const script = floorCase === "multi3" ? resolve("bench/pg-orders-multi3.cjs") : resolve(FLOORS_DIR, "pg-orders.cjs");
  // past PostgreSQL's connections (the machine's max_connections is 100), the workers share a pool of FLOOR_MAX_POOL
  const pool = Math.min(concurrency, FLOOR_MAX_POOL);
  const args = ["--case", floorCase, "--pool", String(pool), "--workers", String(concurrency), "--secs", String(durationMs / 1000), "--url", url];
  const result = await runToJson<{
    secs: number;
    orders: number;
    rejected: number;
    errors: number;
    tps: number;
    lat_ms: { p50: number; p99: number };
    node_cpu_us_per_order: number;
  }>(script, args);
  return {
    perSec: result.tps,
    orders: result.orders,
    failed: result.rejected + result.errors,
    seconds: result.secs,
    cpuUsPerOrder: result.node_cpu_us_per_order,
    p50Ms: result.lat_ms.p50,
    p99Ms: result.lat_ms.p99,
  };
}

/** The floor's connections at most: at 256 shoppers its workers share them, as the service's share its pool. */
export const FLOOR_MAX_POOL = 64;

/** Runs a Node floor script with the project's node_modules and answers the JSON of its last line. */
export async function runToJson<T>(script: string, args: string[]): Promise<T> {
  const output = await run(process.execPath, [script, ...args], { ...process.env, NODE_PATH: resolve("node_modules") });
  return JSON.parse(output.trim().split("\n").pop()!) as T;
}

/** One turn of pgbench with the floor's SQL file (`hot.sql`, `spread.sql`, `multi3.sql`), as the floor's README runs it. */
export async function pgbenchTurn(url: string, floorCase: FloorCase, concurrency: number, durationMs: number): Promise<FloorTurn> {
  const seconds = Math.max(1, Math.round(durationMs / 1000));
  const args = ["-n", "-M", "prepared", "-T", String(seconds), "-c", String(Math.min(concurrency, FLOOR_MAX_POOL)), "-j", "2", "-f", resolve(FLOORS_DIR, `${floorCase}.sql`), url];
  const output = await run("pgbench", args, process.env);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(output);
  const processed = /number of transactions actually processed: (\d+)/.exec(output);
  const failed = /number of failed transactions: (\d+)/.exec(output);
  if (!tps || !processed) throw new Error(`pgbench said:\n${output}`);
  return { perSec: Number(tps[1]), orders: Number(processed[1]), failed: Number(failed?.[1] ?? 0), seconds };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolvePromise(output) : reject(new Error(`${command} exited with ${code}:\n${output.slice(-2000)}`))));
  });
}
