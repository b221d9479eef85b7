import { once } from "node:events";
import net from "node:net";
import type pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { defaultConfig, loadConfig } from "../src/config.ts";
import type { LoadSheddingSettings } from "../src/http/load-shedding.ts";
import { gql, newItem, newStore, PLACE_ORDER, startTestServer, stockOf, unbalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";
import { eventually, liveClient, redisForTests, setQuantity, sleep, stockUpdates, untilLive } from "./support/live.ts";

/** Issue 23: past its load bounds a process refuses new requests at once (503), keeps its open subscriptions, and recovers. */

const redisUrl = inject("redisUrl");
const redisUp = await redisForTests(redisUrl, "the load-shedding tests with a second process");

const servers: TestServer[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const server of servers.splice(0)) await server.close();
});

const UNBOUNDED: LoadSheddingSettings = { enabled: true, maxEventLoopDelayMs: 60_000, maxCheckoutsWaiting: 1_000_000, maxPoolWaiting: 1_000_000, retryAfterSeconds: 3 };

async function server(loadShedding: Partial<LoadSheddingSettings>, options: { poolSize?: number; checkoutConcurrencyPerStore?: number } = {}) {
  const started = await startTestServer({
    ...options,
    config: { loadShedding: { ...UNBOUNDED, ...loadShedding }, ...(redisUp ? { redis: { url: redisUrl } } : {}) },
  });
  servers.push(started);
  return started;
}

/** POSTs a placeOrder of one unit with an idempotency key; answers the HTTP status, the Retry-After and the body. */
async function order(base: { url: string }, store: TestStore, itemId: string, idempotencyKey: string) {
  const response = await fetch(`${base.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: PLACE_ORDER, variables: { store: store.slug, input: { lines: [{ itemId, quantity: 1 }], idempotencyKey } } }),
  });
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: (await response.json()) as any };
}

const ordersWithKey = async (server: TestServer, storeId: string, key: string) =>
  (await server.db.pool.query("SELECT id FROM orders WHERE store_id = $1 AND idempotency_key = $2", [storeId, key])).rowCount;

const metrics = async (base: { url: string }) => {
  const response = await fetch(`${base.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
};
const shedCount = (text: string, transport: string, signal: string) =>
  Number(new RegExp(`^requests_shed_total\\{transport="${transport}",signal="${signal}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);

/** Takes every connection of the server's pool, and queues `waiting` queries behind them; answers how to give them back. */
async function holdPool(pool: pg.Pool, size: number, waiting: number) {
  const held = await Promise.all(Array.from({ length: size }, () => pool.connect()));
  const queued = Array.from({ length: waiting }, () => pool.query("SELECT 1"));
  expect(pool.waitingCount).toBe(waiting);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    for (const client of held) client.release();
    await Promise.all(queued);
  };
  cleanups.push(release);
  return release;
}

/** A WebSocket upgrade to the server: its HTTP refusal (status and Retry-After), or "open". */
function upgrade(base: { url: string }): Promise<{ status: number; retryAfter?: string } | "open"> {
  const socket = new WebSocket(`${base.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
  return new Promise((resolve, reject) => {
    socket.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined });
      socket.terminate();
    });
    socket.once("open", () => {
      resolve("open");
      socket.close();
    });
    socket.once("error", (error) => (error.message.includes("Unexpected server response") ? undefined : reject(error)));
  });
}

/** Locks the item as a slow checkout would, so that the store's turn waits inside PostgreSQL; answers how to unlock it. */
async function lockItem(server: TestServer, store: TestStore, itemId: string) {
  const locker = await server.db.pool.connect();
  await locker.query("BEGIN");
  // held for as long as the test needs, however slow the machine (the service's sessions end an idle transaction after 30 s)
  await locker.query("SET LOCAL idle_in_transaction_session_timeout = 0");
  await locker.query("SELECT 1 FROM items WHERE store_id = $1 AND id = $2 FOR UPDATE", [store.id, itemId]);
  let unlocked = false;
  const unlock = async () => {
    if (unlocked) return;
    unlocked = true;
    try {
      await locker.query("COMMIT");
      locker.release();
    } catch (error) {
      locker.release(error as Error);
      throw error;
    }
  };
  cleanups.push(unlock);
  return unlock;
}

const untilWaitingForLock = (server: TestServer) =>
  eventually(
    async () =>
      (await server.db.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()")).rows[0].n === 1,
    "the first checkout to wait for the item's lock",
  );

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe("load shedding", () => {
  it.skipIf(!redisUp)("past its pool bound a process answers new requests 503 at once, keeps /metrics, /health and open subscriptions, places nothing it refused, and serves again once the load is gone", async () => {
    const shedding = await server({ maxPoolWaiting: 2 }, { poolSize: 2 });
    // a second process on the same database and Redis, whose changes the first one's subscribers hear
    const other = await server({ enabled: false });
    const store = await newStore(shedding.db);
    const item = await newItem(shedding, store, { quantity: 10 });
    const live = liveClient(shedding.url);
    cleanups.push(() => live.dispose());
    const updates = stockUpdates(live, store.slug, [item.id]);
    let quantity = 10;
    await untilLive(updates, () => setQuantity(other, store, item.id, ++quantity));
    const before = await metrics(shedding);

    // every connection taken and 3 queries waiting for one: past the bound of 2, for longer than two reads
    const release = await holdPool(shedding.db.pool, 2, 3);
    await eventually(() => shedding.app.loadShedder.shedding() === "pool_waiting", "the process to start shedding");

    const refused = await order(shedding, store, item.id, "shed-while-overloaded");
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe("3");
    expect(refused.body).toEqual({ errors: [{ message: expect.stringMatching(/over capacity/), extensions: { code: "SERVICE_UNAVAILABLE" } }] });
    expect(await upgrade(shedding)).toEqual({ status: 503, retryAfter: "3" });
    const during = await metrics(shedding);
    expect(during).toMatch(/^load_shedding_active 1$/m);
    expect(shedCount(during, "http", "pool_waiting") - shedCount(before, "http", "pool_waiting")).toBeGreaterThanOrEqual(1);
    expect(shedCount(during, "websocket", "pool_waiting") - shedCount(before, "websocket", "pool_waiting")).toBe(1);
    // the open subscription still hears every change, while new requests are still refused
    const changed = await setQuantity(other, store, item.id, 7);
    await updates.until((received) => received.some((update) => update.version === changed.version && update.availableQuantity === 7), "the change made on the other process");
    expect((await order(shedding, store, item.id, "shed-after-the-update")).status).toBe(503);
    // a query over the open socket is shed like one over HTTP; its subscriptions go on
    const query = await new Promise<unknown>((resolve) => live.subscribe({ query: "{ __typename }" }, { next: resolve, error: resolve, complete: () => undefined }));
    expect(query).toEqual([expect.objectContaining({ extensions: { code: "SERVICE_UNAVAILABLE" } })]);
    expect(updates.errors).toEqual([]);

    // /health is never refused: it waits for a connection like the queries before it
    const health = fetch(`${shedding.url}/health`);
    await sleep(200);
    await release();
    expect((await health).status).toBe(200);
    // under half of every bound for a second: served again
    let placed: Awaited<ReturnType<typeof order>> | undefined;
    await eventually(async () => (placed = await order(shedding, store, item.id, "after-the-load")).status === 200, "the process to serve again", 10_000, 100);
    expect(placed!.body.data.placeOrder.__typename).toBe("Order");
    expect((await metrics(shedding)).includes("load_shedding_active 0")).toBe(true);
    expect(await upgrade(shedding)).toBe("open");

    // nothing half done: the refused orders made no order and took no stock
    expect(await ordersWithKey(shedding, store.id, "shed-while-overloaded")).toBe(0);
    expect(await ordersWithKey(shedding, store.id, "shed-after-the-update")).toBe(0);
    expect(await ordersWithKey(shedding, store.id, "after-the-load")).toBe(1);
    expect(await stockOf(shedding.db, store.id, item.id)).toMatchObject({ quantity: 6, committedQuantity: 0 });
    expect(await unbalancedLedgers(shedding.db, store.id)).toEqual([]);
  });

  it("at its bound, not past it, a request is served", async () => {
    const shedding = await server({ maxCheckoutsWaiting: 3 }, { checkoutConcurrencyPerStore: 1 });
    const store = await newStore(shedding.db);
    const item = await newItem(shedding, store, { quantity: 10 });
    const before = await metrics(shedding);
    const unlock = await lockItem(shedding, store, item.id);
    const admitted = [order(shedding, store, item.id, "first")];
    await untilWaitingForLock(shedding);
    for (let i = 1; i <= 3; i++) admitted.push(order(shedding, store, item.id, `waiting-${i}`));
    // exactly 3 waiting, for longer than the reads that would start shedding
    await eventually(() => shedding.deps.checkoutTurns.waiting === 3, "3 checkouts waiting for the store's turn");
    await sleep(500);
    admitted.push(order(shedding, store, item.id, "at-the-bound"));
    await eventually(() => shedding.deps.checkoutTurns.waiting === 4, "the order at the bound to wait for its turn too");
    await unlock();
    const answers = await Promise.all(admitted);
    expect(answers.map((answer) => [answer.status, answer.body.data.placeOrder.__typename])).toEqual(Array.from({ length: 5 }, () => [200, "Order"]));
    expect(await ordersWithKey(shedding, store.id, "at-the-bound")).toBe(1);
    const after = await metrics(shedding);
    expect(shedCount(after, "http", "checkouts_waiting")).toBe(shedCount(before, "http", "checkouts_waiting"));
  });

  it("past its bound of checkouts waiting for their store's turn, a process refuses new orders; those admitted are placed", async () => {
    const shedding = await server({ maxCheckoutsWaiting: 2 }, { checkoutConcurrencyPerStore: 1 });
    const store = await newStore(shedding.db);
    const item = await newItem(shedding, store, { quantity: 10 });
    const unlock = await lockItem(shedding, store, item.id);
    const admitted = [order(shedding, store, item.id, "admitted-0")];
    await untilWaitingForLock(shedding);
    for (let i = 1; i <= 3; i++) admitted.push(order(shedding, store, item.id, `admitted-${i}`));
    await eventually(() => shedding.deps.checkoutTurns.waiting === 3, "3 checkouts waiting for the store's turn");
    await eventually(() => shedding.app.loadShedder.shedding() === "checkouts_waiting", "the process to start shedding");
    const refused = await order(shedding, store, item.id, "refused");
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe("3");
    expect(refused.body).toEqual({ errors: [{ message: expect.stringMatching(/over capacity/), extensions: { code: "SERVICE_UNAVAILABLE" } }] });
    await unlock();
    const answers = await Promise.all(admitted);
    expect(answers.map((answer) => answer.body.data.placeOrder.__typename)).toEqual(["Order", "Order", "Order", "Order"]);
    expect(await ordersWithKey(shedding, store.id, "refused")).toBe(0);
    expect(await stockOf(shedding.db, store.id, item.id)).toMatchObject({ quantity: 6, committedQuantity: 0 });
  });

  it("an event loop blocked past its bound sheds what arrives meanwhile but answers /health and /metrics, then serves again", async () => {
    // a bound far above what a loaded test machine's scheduling costs the loop
    const shedding = await server({ maxEventLoopDelayMs: 1_000 });
    const store = await newStore(shedding.db);
    const item = await newItem(shedding, store, { quantity: 10 });
    // whatever the start cost is behind: served
    await eventually(async () => (await order(shedding, store, item.id, `warm-${Date.now()}`)).status === 200, "the process to serve", 10_000, 100);

    const requests = [
      rawRequest(shedding.port, "POST", "/graphql", JSON.stringify({ query: PLACE_ORDER, variables: { store: store.slug, input: { lines: [{ itemId: item.id, quantity: 1 }], idempotencyKey: "blocked" } } })),
      rawRequest(shedding.port, "GET", "/health"),
      rawRequest(shedding.port, "GET", "/metrics"),
    ];
    await Promise.all(requests.map((request) => request.connected));
    // two turns of the loop each late by far more than the bound (a read between them), the requests arriving during the second
    busy(1_500);
    await sleep(1);
    for (const request of requests) request.send();
    busy(1_500);
    const [placed, health, metricsAnswer] = await Promise.all(requests.map((request) => request.answer));
    expect(placed!.status).toBe(503);
    expect(placed!.headers["retry-after"]).toBe("3");
    expect(JSON.parse(placed!.body).errors[0].extensions.code).toBe("SERVICE_UNAVAILABLE");
    expect(health!.status).toBe(200);
    expect(metricsAnswer!.status).toBe(200);
    expect(metricsAnswer!.body).toMatch(/^load_shedding_active 1$/m);

    await eventually(async () => (await order(shedding, store, item.id, "after-the-block")).status === 200, "the process to serve again", 20_000, 100);
    expect(await ordersWithKey(shedding, store.id, "blocked")).toBe(0);
    expect(await ordersWithKey(shedding, store.id, "after-the-block")).toBe(1);
  });

  it("switched off, nothing is shed however far past the bounds", async () => {
    const off = await server({ enabled: false, maxPoolWaiting: 0 }, { poolSize: 2 });
    const store = await newStore(off.db);
    const item = await newItem(off, store, { quantity: 10 });
    const release = await holdPool(off.db.pool, 2, 3);
    await sleep(400);
    const answer = order(off, store, item.id, "unshed");
    await eventually(() => off.db.pool.waitingCount === 4, "the order to wait for a connection");
    await release();
    expect((await answer).status).toBe(200);
    expect(await ordersWithKey(off, store.id, "unshed")).toBe(1);
  });

  it("LOAD_SHEDDING and its bounds are settings", () => {
    expect(defaultConfig().loadShedding).toEqual({ enabled: true, maxEventLoopDelayMs: expect.any(Number), maxCheckoutsWaiting: expect.any(Number), maxPoolWaiting: expect.any(Number), retryAfterSeconds: 1 });
    expect(
      loadConfig({
        LOAD_SHEDDING: "false",
        LOAD_SHEDDING_MAX_EVENT_LOOP_DELAY_MS: "50",
        LOAD_SHEDDING_MAX_CHECKOUTS_WAITING: "10",
        LOAD_SHEDDING_MAX_POOL_WAITING: "0",
        LOAD_SHEDDING_RETRY_AFTER_S: "5",
      }).loadShedding,
    ).toEqual({ enabled: false, maxEventLoopDelayMs: 50, maxCheckoutsWaiting: 10, maxPoolWaiting: 0, retryAfterSeconds: 5 });
    expect(() => loadConfig({ LOAD_SHEDDING_MAX_EVENT_LOOP_DELAY_MS: "0" })).toThrow(/LOAD_SHEDDING_MAX_EVENT_LOOP_DELAY_MS/);
    expect(() => loadConfig({ LOAD_SHEDDING_RETRY_AFTER_S: "0" })).toThrow(/LOAD_SHEDDING_RETRY_AFTER_S/);
  });
});

/**
 * An HTTP request over a socket of its own, connected first and written on `send()`: written at
 * once into the kernel, so that it arrives while this process's event loop is blocked.
 */
function rawRequest(port: number, method: string, path: string, body = "") {
  const socket = net.connect(port, "127.0.0.1");
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk) => (text += chunk));
  const answer = once(socket, "end").then(() => {
    const [head, ...rest] = text.split("\r\n\r\n");
    const [status, ...lines] = head!.split("\r\n");
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
    const raw = rest.join("\r\n\r\n");
    // chunked answers (/metrics, /health): the chunks' sizes dropped
    const content = headers["transfer-encoding"] === "chunked" ? raw.replace(/(^|\r\n)[0-9a-f]+\r\n/g, "$1").replace(/\r\n/g, "") : raw;
    return { status: Number(status!.split(" ")[1]), headers, body: content };
  });
  return {
    connected: once(socket, "connect").then(() => socket),
    send: () =>
      socket.write(
        `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      ),
    answer,
  };
}
