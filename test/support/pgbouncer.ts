import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./free-port.ts";

/** Debian's `pgbouncer` package puts it here (`.ci/run` installs it, like Chromium). */
export const PGBOUNCER = "/usr/sbin/pgbouncer";
export const pgbouncerInstalled = () => existsSync(PGBOUNCER);

export type PgBouncer = {
  /** `databaseUrl` through this PgBouncer, with `pgbouncer=true` for the service (src/db/pool.ts) */
  url: string;
  /** One row per pool of `SHOW POOLS` on PgBouncer's admin console: clients and server connections. */
  pools(): Promise<PoolRow[]>;
  stop(): Promise<void>;
};

export type PoolRow = { database: string; cl_active: number; cl_waiting: number; sv_active: number; sv_idle: number; sv_used: number; pool_mode: string };

/** The PgBouncer configuration docker-compose.yml runs (deploy/pgbouncer.ini), which the test's own is made from. */
export const DEPLOYED_CONFIG = "deploy/pgbouncer.ini";

/**
 * Starts a PgBouncer of its own, on a free loopback port, in front of the PostgreSQL server of
 * `databaseUrl`, with deploy/pgbouncer.ini as docker-compose.yml runs it (transaction pooling,
 * the service's session settings on each server connection, SCRAM) and only the addresses, the
 * credentials and the pool changed: `poolSize` server connections in all, fewer than the clients
 * a test opens, so clients take turns on them. Started as root it drops to `nobody` (PgBouncer
 * refuses to run as root), so its files are readable by everyone.
 */
export async function startPgBouncer(databaseUrl: string, { poolSize }: { poolSize: number }): Promise<PgBouncer> {
  const server = new URL(databaseUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "pgbouncer-"));
  await chmod(dir, 0o755);
  await writeFile(join(dir, "userlist.txt"), `"${user}" "${password}"\n`, { mode: 0o644 });
  const ini = deployedConfig(await readFile(DEPLOYED_CONFIG, "utf8"), {
    database: `* = host=${server.hostname} port=${server.port || 5432}`,
    settings: {
      listen_addr: "127.0.0.1",
      listen_port: String(port),
      auth_file: join(dir, "userlist.txt"),
      admin_users: user,
      default_pool_size: String(poolSize),
      reserve_pool_size: "0",
      max_db_connections: String(poolSize),
    },
  });
  await writeFile(join(dir, "pgbouncer.ini"), ini, { mode: 0o644 });
  await chmod(join(dir, "pgbouncer.ini"), 0o644);
  const asRoot = process.getuid?.() === 0;
  const child = spawn(PGBOUNCER, [...(asRoot ? ["-u", "nobody"] : []), join(dir, "pgbouncer.ini")], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const admin = new URL(`postgresql://127.0.0.1:${port}/pgbouncer`);
  admin.username = server.username;
  admin.password = server.password;
  try {
    await untilAnswering(admin.toString(), child, () => output);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  url.searchParams.set("pgbouncer", "true");
  return {
    url: url.toString(),
    async pools() {
      const client = new pg.Client({ connectionString: admin.toString() });
      await client.connect();
      try {
        // the admin console speaks the simple query protocol only: no parameters
        const { rows } = await client.query("SHOW POOLS");
        return rows.map((row) => ({ ...row, ...numbers(row, ["cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used"]) }));
      } finally {
        await client.end();
      }
    },
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      if (child.exitCode === null) child.kill("SIGINT"); // immediate shutdown
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function untilAnswering(adminUrl: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${output()}`);
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query("SHOW VERSION");
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`pgbouncer did not answer: ${(error as Error).message}\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/**
 * deploy/pgbouncer.ini with its one database entry pointed elsewhere (its connect_query kept) and
 * `settings` in place of the file's own; throws when the file no longer has what it replaces.
 */
export function deployedConfig(ini: string, { database, settings }: { database: string; settings: Record<string, string> }) {
  const entry = /^inventory = host=\S+ port=\d+ dbname=\S+(?= )/m;
  if (!entry.test(ini)) throw new Error(`${DEPLOYED_CONFIG}: no "inventory = host=... port=... dbname=..." entry`);
  let out = ini.replace(entry, database);
  for (const [name, value] of Object.entries(settings)) {
    const line = new RegExp(`^${name} = .*$`, "m");
    if (!line.test(out)) throw new Error(`${DEPLOYED_CONFIG}: no ${name} setting`);
    out = out.replace(line, `${name} = ${value}`);
  }
  return out;
}

const numbers = (row: Record<string, unknown>, names: string[]) => Object.fromEntries(names.map((name) => [name, Number(row[name])]));
