import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, describe, expect, it } from "vitest";
import { databaseUrl, gqlData, newItem, newStore, placeOrder, stockOf, unbalancedLedgers } from "./support/harness.ts";
import { openDatabase } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { freePort, startServerProcess, type ServerProcess } from "./support/processes.ts";

const run = promisify(execFile);
const started: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

async function serverProcess(env: Record<string, string | undefined> = {}, timeoutMs?: number) {
  const p = await startServerProcess(env, { timeoutMs });
  started.push(p);
  return p;
}

describe("the service as separate processes", () => {
  it("200 concurrent orders for the last 50 units, sent to two processes on one database, sell exactly 50", async () => {
    const [one, two] = await Promise.all([serverProcess(), serverProcess()]);
    const db = openDatabase(databaseUrl(), { poolSize: 2, logger: createLogger("silent") });
    try {
      const store = await newStore(db);
      const item = await newItem(one, store, { quantity: 50 });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, n) =>
          // an answer with errors fails the test with what the processes logged of it (its cause, which the answer hides)
          placeOrder(n % 2 ? one : two, store, [{ itemId: item.id, quantity: 1 }]).catch((error: Error) => {
            throw new Error(`${error.message}\n--- the processes logged:\n${one.output()}\n${two.output()}`.slice(0, 8_000));
          }),
        ),
      );
      expect(results.filter((r) => r.__typename === "Order")).toHaveLength(50);
      expect(results.filter((r) => r.__typename === "InsufficientStockError")).toHaveLength(150);
      expect(await stockOf(db, store.id, item.id)).toMatchObject({ quantity: 0, availability: "SOLD_OUT" });
      expect(await unbalancedLedgers(db, store.id)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("two processes starting at once on a new database apply the migrations once", async () => {
    const name = `inventory_fresh_${Date.now()}`;
    const adminUrl = new URL(databaseUrl());
    adminUrl.pathname = "/postgres";
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const freshUrl = new URL(databaseUrl());
    freshUrl.pathname = `/${name}`;
    try {
      const both = await Promise.all([serverProcess({ DATABASE_URL: freshUrl.toString() }), serverProcess({ DATABASE_URL: freshUrl.toString() })]);
      const client = new pg.Client({ connectionString: freshUrl.toString() });
      await client.connect();
      const { rows } = await client.query(`SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY 1`);
      await client.end();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((row) => row.n === 1)).toBe(true);
      await Promise.all(both.map((p) => p.stop()));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });

  it("answers GraphQL over WebSocket (graphql-ws) at /graphql too, with the admin token in connectionParams", async () => {
    const p = await serverProcess();
    const db = openDatabase(databaseUrl(), { poolSize: 1, logger: createLogger("silent") });
    const store = await newStore(db);
    await db.close();
    const client = createClient({
      url: p.url.replace("http", "ws") + "/graphql",
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${store.token}` },
    });
    try {
      const result = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe(
          { query: `query($slug: String!) { store(slug: $slug) { slug inventorySettings { outOfStockBehavior } } }`, variables: { slug: store.slug } },
          { next: (data) => (value = data), error: reject, complete: () => resolve(value) },
        );
      });
      expect(result).toEqual({ data: { store: { slug: store.slug, inventorySettings: { outOfStockBehavior: "MARK_SOLD_OUT" } } } });
    } finally {
      await client.dispose();
    }
  });

  it("SIGTERM finishes cleanly with exit code 0", async () => {
    const p = await serverProcess();
    const health = await fetch(`${p.url}/health`);
    expect(await health.json()).toMatchObject({ status: "ok" });
    expect(await p.stop()).toBe(0);
  });

  it("a newcomer's path: no DATABASE_URL, embedded PostgreSQL under the data dir, store:create, a query", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "inventory-newcomer-"));
    const env = { DATABASE_URL: undefined, DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    try {
      const p = await serverProcess(env, 90_000);
      const { stdout } = await run(process.execPath, ["--import", "tsx", "src/cli/create-store.ts", "--slug", "ejemplar", "--name", "Ejemplar"], {
        env: Object.fromEntries(Object.entries({ ...process.env, ...env, LOG_LEVEL: "warn" }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
      });
      const created = JSON.parse(stdout.trim().split("\n").at(-1)!);
      expect(created).toMatchObject({ slug: "ejemplar", adminToken: expect.stringMatching(/^sk_/) });
      const item = await gqlData(p.url, `mutation { createItem(input: { name: "Bolso", type: PRODUCT, price: "120000", quantity: 5, sellWithoutStock: true }) { ... on Item { id quantity } } }`, {}, created.adminToken);
      expect(item.createItem.quantity).toBe(5);
      const store = await gqlData(p.url, `{ store(slug: "ejemplar") { name items { edges { node { name availability } } } } }`);
      expect(store.store).toEqual({ name: "Ejemplar", items: { edges: [{ node: { name: "Bolso", availability: "IN_STOCK" } }] } });
      expect(await p.stop()).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
