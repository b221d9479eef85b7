import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { createClient, type Client } from "graphql-ws";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { stockChannel } from "../../src/realtime/redis-events.ts";
import { gqlData, type TestStore } from "./harness.ts";
import { redisAnswers } from "./redis-server.ts";
import { eventually, sleep } from "./wait.ts";

export { eventually, sleep };
export { launchRedisServer, redisServerInstalled, type RedisServer } from "./redis-server.ts";

/**
 * Helpers for live-update tests: graphql-ws clients and subscriptions that record what they
 * receive, Redis checks, and a process's resident memory. The poller (`eventually`) and the
 * redis-server launcher are shared with the bench (./wait.ts, ./redis-server.ts).
 */

export const STOCK_UPDATE_FIELDS = "itemId availability availableQuantity version at";

export type StockUpdate = { itemId: string; availability: string; availableQuantity: number | null; version: number; at: string };

/** A graphql-ws client of the server at `httpUrl`, giving up at once when the socket closes. */
export function liveClient(httpUrl: string): Client {
  return createClient({ url: `${httpUrl.replace(/^http/, "ws")}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
}

export type LiveSubscription = {
  /** the updates received so far, in arrival order */
  updates: StockUpdate[];
  /** GraphQL errors and socket errors received */
  errors: unknown[];
  completed: boolean;
  /** Waits until `condition` holds; fails the test with `what` after `timeoutMs`. */
  until(condition: (updates: StockUpdate[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): void;
};

/** Subscribes with `client` and records every update of the operation's one field. */
export function subscribe(client: Client, query: string, variables: Record<string, unknown>): LiveSubscription {
  const subscription: LiveSubscription = {
    updates: [],
    errors: [],
    completed: false,
    until: (condition, what, timeoutMs = 10_000) => eventually(() => condition(subscription.updates), what, timeoutMs),
    close: () => stop(),
  };
  const stop = client.subscribe<Record<string, StockUpdate>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) subscription.errors.push(...result.errors);
        else subscription.updates.push(Object.values(result.data!)[0]!);
      },
      // graphql-ws hands over a list of GraphQL errors, or the socket's close event
      error: (error) => subscription.errors.push(...(Array.isArray(error) ? error : [error])),
      complete: () => (subscription.completed = true),
    },
  );
  return subscription;
}

export const stockUpdates = (client: Client, store: string, itemIds?: string[]) =>
  subscribe(
    client,
    `subscription($store: String!, $itemIds: [ID!]) { stockUpdates(store: $store, itemIds: $itemIds) { ${STOCK_UPDATE_FIELDS} } }`,
    { store, itemIds },
  );

export const availabilityChanges = (client: Client, store: string) =>
  subscribe(client, `subscription($store: String!) { availabilityChanges(store: $store) { ${STOCK_UPDATE_FIELDS} } }`, { store });

/** Sets an item's count through the admin API; returns the result (Item or OperationError). */
export async function setQuantity(server: { url: string }, store: TestStore, itemId: string, quantity: number, expectedQuantity?: number) {
  const data = await gqlData(
    server.url,
    `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { __typename ... on Item { version availability availableQuantity } ... on OperationError { code } } }`,
    { input: { itemId, quantity, expectedQuantity } },
    store.token,
  );
  return data.setItemQuantity;
}

/** Adds `delta` to an item's count through the admin API; returns the result. */
export async function adjustQuantity(server: { url: string }, store: TestStore, itemId: string, delta: number) {
  const data = await gqlData(
    server.url,
    `mutation($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) { __typename ... on Item { version availability availableQuantity } ... on OperationError { code } } }`,
    { input: { itemId, delta } },
    store.token,
  );
  return data.adjustItemQuantity;
}

export async function setOutOfStockBehavior(server: { url: string }, store: TestStore, outOfStockBehavior: "HIDE" | "MARK_SOLD_OUT") {
  const data = await gqlData(
    server.url,
    `mutation($input: UpdateInventorySettingsInput!) { updateInventorySettings(input: $input) { __typename } }`,
    { input: { outOfStockBehavior } },
    store.token,
  );
  return data.updateInventorySettings.__typename;
}

/**
 * A server sends no message saying that a subscription is in place. This changes an item with
 * `change` until the subscription hears of it, waits for the last of these changes, then forgets
 * them, so that what the subscription receives next is what the test does next.
 */
export async function untilLive(subscription: LiveSubscription, change: () => Promise<{ version: number }>) {
  let last = 0;
  await eventually(
    async () => {
      last = (await change()).version;
      await sleep(100);
      return subscription.updates.length > 0;
    },
    "the subscription to receive a first update",
  );
  await subscription.until((updates) => updates.some((update) => update.version === last), "the last probing change");
  subscription.updates.splice(0);
}

export type RawSubscription = {
  /** the `data` of every `next` message, in arrival order */
  updates: Record<string, unknown>[];
  /** Stops reading the socket: what the server sends piles up in TCP buffers, then in the server. */
  stopReading(): void;
  resumeReading(): void;
  close(): void;
};

/**
 * One subscription over a bare `ws` socket speaking the graphql-ws protocol by hand
 * (connection_init, subscribe), so that a test can stop reading it like a stalled client.
 */
export async function rawSubscription(httpUrl: string, query: string, variables: Record<string, unknown>): Promise<RawSubscription> {
  const socket = new WebSocket(`${httpUrl.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
  const updates: Record<string, unknown>[] = [];
  let acknowledged = false;
  socket.on("message", (data) => {
    const message = JSON.parse(String(data));
    if (message.type === "connection_ack") acknowledged = true;
    if (message.type === "next") updates.push(Object.values(message.payload.data)[0] as Record<string, unknown>);
  });
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  socket.send(JSON.stringify({ type: "connection_init" }));
  await eventually(() => acknowledged, "connection_ack");
  socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  return {
    updates,
    stopReading: () => tcp.pause(),
    resumeReading: () => tcp.resume(),
    close: () => socket.terminate(),
  };
}

/**
 * Whether Redis answers at `url`. Tests that need it skip when it does not, with a message
 * saying so, except under CI=true, where a missing Redis fails the run instead.
 */
export async function redisForTests(url: string, what: string): Promise<boolean> {
  if (await redisAnswers(url)) return true;
  if (process.env.CI === "true") throw new Error(`CI=true and no Redis answers at ${url}: ${what} need it`);
  console.warn(`Skipping ${what}: no Redis answers at ${url} (set REDIS_URL, or start redis-server)`);
  return false;
}

/** How many connections (processes) are SUBSCRIBEd to the store's stock channel. */
export async function channelSubscribers(redis: Redis, storeId: string): Promise<number> {
  const [, count] = (await redis.pubsub("NUMSUB", stockChannel(storeId))) as [string, number];
  return Number(count);
}

export async function waitForChannelSubscribers(redis: Redis, storeId: string, count: number, timeoutMs = 10_000) {
  await eventually(async () => (await channelSubscribers(redis, storeId)) === count, `${count} subscriber(s) of store ${storeId}'s channel`, timeoutMs);
}

/** Resident memory of a process of this machine, from /proc. */
export function residentBytes(pid: number): number {
  const kilobytes = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]!;
  return Number(kilobytes) * 1024;
}
