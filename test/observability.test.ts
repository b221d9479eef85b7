import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { databaseUrl, gql, newItem, newStore, placeOrder } from "./support/harness.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";

const DEPLOYED_COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** What an operator sees of `npm start`: one JSON log line per request with its id, /health and /metrics. */
describe("operating the service", () => {
  let server: ServerProcess;
  let db: Database;
  beforeAll(async () => {
    server = await startServerProcess({ LOG_LEVEL: "info", ACCOUNTING_RECONCILE_INTERVAL_MS: "0", GIT_COMMIT: DEPLOYED_COMMIT });
    db = openDatabase(databaseUrl(), { poolSize: 2, logger: createLogger("silent") });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.close();
  });

  /** The service's JSON log lines about requests carrying `reqId`. */
  function requestLines(reqId: string) {
    return server
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.reqId === reqId && entry.msg.startsWith("request"));
  }

  it("echoes the caller's x-request-id, and makes one up when there is none or it is not plain", async () => {
    const echoed = await fetch(`${server.url}/health`, { headers: { "x-request-id": "checkout-42.a" } });
    expect(echoed.headers.get("x-request-id")).toBe("checkout-42.a");
    const made = await fetch(`${server.url}/health`);
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const replaced = await fetch(`${server.url}/health`, { headers: { "x-request-id": "<script> x" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("writes one log line per request with its id, method, path without query, status and duration", async () => {
    const reqId = `test-${Date.now()}`;
    const response = await fetch(`${server.url}/store/no-such-store?token=secret`, { headers: { "x-request-id": reqId } });
    expect(response.status).toBe(404);
    await expect.poll(() => requestLines(reqId).length).toBe(1);
    const [line] = requestLines(reqId);
    expect(line).toMatchObject({ level: 30, reqId, method: "GET", path: "/store/no-such-store", status: 404 });
    expect(line.durationMs).toBeTypeOf("number");
    expect(JSON.stringify(line)).not.toContain("secret");
  });

  it("serves Prometheus metrics of requests, errors, orders placed and refused, subscriptions, stock events and syncs", async () => {
    const store = await newStore(db);
    const item = await newItem(server, store, { quantity: 1 });
    expect((await placeOrder(server, store, [{ itemId: item.id, quantity: 1 }])).__typename).toBe("Order");
    expect((await placeOrder(server, store, [{ itemId: item.id, quantity: 1 }])).__typename).toBe("InsufficientStockError");
    expect((await gql(server.url, "{ items { edges { node { id } } } }")).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const metrics = await response.text();
    expect(metrics).toContain("orders_placed_total 1");
    expect(metrics).toContain('orders_refused_total{code="INSUFFICIENT_STOCK"} 1');
    expect(metrics).toContain('errors_total{kind="graphql",code="UNAUTHENTICATED"} 1');
    expect(metrics).toMatch(/http_requests_total\{method="POST",route="\/graphql",status="200"\} \d+/);
    // the item's first count and the order each published one stock event
    expect(metrics).toContain("stock_events_published_total 2");
    expect(metrics).toContain("# TYPE graphql_subscriptions_open gauge");
    expect(metrics).toContain("checkouts_waiting 0");
    expect(metrics).toContain("# TYPE accounting_sync_runs_total counter");
    expect(metrics).toContain("process_cpu_seconds_total");
  });

  it("says on /health and in /metrics which version and commit run, and the last migration applied", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8"));
    const lastMigration = readdirSync("prisma/migrations", { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
      .at(-1);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", version, commit: DEPLOYED_COMMIT, migration: lastMigration });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain("# TYPE store_inventory_build_info gauge");
    expect(metrics).toContain(`store_inventory_build_info{version="${version}",commit="${DEPLOYED_COMMIT}",migration="${lastMigration}"} 1`);
  });
});
