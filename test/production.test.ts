import { execFile } from "node:child_process";
import { connect } from "node:net";
import { promisify } from "node:util";
import pg from "pg";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { databaseUrl, newItem, newStore, PLACE_ORDER, type TestStore } from "./support/harness.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { eventually } from "./support/wait.ts";

/**
 * The service as it is deployed: `npm run build`, then `node dist/main.js` (the container's
 * command), and `npm start` as a developer or a process manager runs it. Stopping any of them
 * with SIGTERM lets the request in flight finish, refuses new connections at once, closes
 * subscriptions with 1001 "going away" and exits 0 within the grace period (src/main.ts).
 */
const GRACE_MS = 15_000;
const run = promisify(execFile);

let db: Database;
const started: ServerProcess[] = [];

beforeAll(async () => {
  // once per run: esbuild takes well under a second
  await run("npm", ["run", "build"]);
  db = openDatabase(databaseUrl(), { poolSize: 2, logger: createLogger("silent") });
}, 60_000);

afterAll(async () => {
  for (const server of started) if (server.child.exitCode === null) server.child.kill("SIGKILL");
  await db?.close();
});

async function serve(command: [string, ...string[]], options: { detached?: boolean } = {}) {
  const server = await startServerProcess({ LOG_LEVEL: "info" }, { command, timeoutMs: 60_000, ...options });
  started.push(server);
  return server;
}

/** Holds the lock of every item of the store in an open transaction, as a long checkout would. */
async function lockItems(store: TestStore) {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  await client.query("BEGIN");
  await client.query("SELECT id FROM items WHERE store_id = $1 FOR UPDATE", [store.id]);
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return {
    /** how many statements of other sessions wait for these locks */
    async waiting() {
      const result = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        [rows[0].pid],
      );
      return result.rows[0].n;
    },
    async release() {
      await client.query("ROLLBACK");
      await client.end();
    },
  };
}

/** A graphql-ws subscriber of the store's stock updates, on a plain WebSocket. */
async function subscribe(server: ServerProcess, store: TestStore) {
  const socket = new WebSocket(`${server.url.replace("http", "ws")}/graphql`, "graphql-transport-ws");
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  socket.send(JSON.stringify({ type: "connection_init" }));
  await new Promise<void>((resolve) =>
    socket.on("message", (data) => JSON.parse(data.toString()).type === "connection_ack" && resolve()),
  );
  socket.send(
    JSON.stringify({
      id: "stock",
      type: "subscribe",
      payload: { query: `subscription($store: String!) { stockUpdates(store: $store) { itemId version } }`, variables: { store: store.slug } },
    }),
  );
  await eventually(
    async () => (await (await fetch(`${server.url}/metrics`)).text()).includes('graphql_subscriptions_open{field="stockUpdates"} 1'),
    "the subscription to be open on the server",
  );
  return { closed };
}

/** Whether a new TCP connection to the port is refused. */
function refused(port: number) {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/**
 * A subscriber and a checkout waiting for locked stock, then `signal()`: while the checkout still
 * waits the port refuses connections and the subscriber is closed with 1001; once the stock is
 * free the checkout is answered 200 with its order, and the process exits 0 within the grace period.
 */
async function stopsCleanly(server: ServerProcess, signal: () => void) {
  const store = await newStore(db);
  const item = await newItem(server, store, { quantity: 3 });
  const subscriber = await subscribe(server, store);
  const locks = await lockItems(store);
  let answered = false;
  const checkout = fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: PLACE_ORDER, variables: { store: store.slug, input: { lines: [{ itemId: item.id, quantity: 1 }] } } }),
  }).finally(() => (answered = true));
  try {
    await eventually(async () => (await locks.waiting()) > 0, "the checkout to wait for the locked stock");

    const signalled = Date.now();
    const exited = new Promise<number | null>((resolve) => {
      if (server.child.exitCode !== null) resolve(server.child.exitCode);
      else server.child.once("exit", (code) => resolve(code));
    });
    signal();

    await eventually(() => refused(server.port), "new connections to be refused", 5_000);
    expect(await subscriber.closed).toMatchObject({ code: 1001 });
    expect(answered).toBe(false);
    await locks.release();

    const response = await checkout;
    expect(response.status).toBe(200);
    expect((await response.json()).data.placeOrder.__typename).toBe("Order");
    expect(await exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(GRACE_MS);
    expect(server.output()).toContain('"msg":"stopped"');
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [store.id]);
    expect(rows[0].n).toBe(1);
  } finally {
    if (!answered) await locks.release().catch(() => {});
  }
}

describe("stopping the service", () => {
  it("node dist/main.js (the container's command) finishes the request in flight, refuses new connections, closes subscriptions with 1001 and exits 0", async () => {
    const server = await serve(["node", "dist/main.js"]);
    const health = await (await fetch(`${server.url}/health`)).json();
    // the build recorded the commit it was made from
    expect(health.commit).toMatch(/^[0-9a-f]{40}$/);
    await stopsCleanly(server, () => server.child.kill("SIGTERM"));
  });

  // npm runs the script through `sh -c`; `exec` in it leaves node as npm's own child, to which npm
  // forwards SIGTERM and SIGINT and then waits, exiting with its code.
  it("npm start, when npm alone is signalled (a process manager, or npm as a container's first process), stops the same way and exits 0", async () => {
    const server = await serve(["npm", "start"]);
    await stopsCleanly(server, () => server.child.kill("SIGTERM"));
  });

  it("npm start, when its whole process group is signalled (Ctrl-C in a terminal, systemd), stops the same way and exits 0", async () => {
    const server = await serve(["npm", "start"], { detached: true });
    await stopsCleanly(server, () => process.kill(-server.child.pid!, "SIGTERM"));
  });
});
