/**
 * The subscribers of the flash-sale bench, in a process of their own (started by
 * bench/flash-sale.ts, driven over IPC): one WebSocket per subscriber, each with one
 * `stockUpdates` subscription to the items of one store.
 *
 * Latency of a receipt = the time it arrives here (Date.now()) - the update's `at`, which the
 * service stamps when the stock change returns inside the order's transaction, right before
 * COMMIT (src/stock/stock-ledger.ts). Both are the machine's wall clock, read by two processes of
 * the same machine, to the millisecond: it is the time from COMMIT (plus the COMMIT itself) to
 * the subscriber. Receipts are counted under the step named by the last `step` command.
 *
 * Every receipt's version is kept per subscriber and item, so that `gaps` can tell, for each
 * subscriber, which versions of its items between two known ones it never received.
 */
import WebSocket from "ws";
import { terminateAll } from "./client-sockets.ts";

export type Subscription = { store: string; itemIds: string[]; count: number };

export type FlashCommand =
  | { type: "connect"; url: string; query: string; subscriptions: Subscription[] }
  /** from now on receipts count under this step */
  | { type: "step"; name: string }
  /** the receipts of the current step so far */
  | { type: "count" }
  /** the latencies of a step */
  | { type: "latencies"; name: string }
  /** versions of each item never received by a subscriber of it: those in (start, end] */
  | { type: "gaps"; start: Record<string, number>; end: Record<string, number> }
  | { type: "close" };

export type FlashReply =
  | { type: "connected"; ms: number; open: number; failed: number; refusedAttempts: number; firstError?: string }
  | { type: "count"; receipts: number }
  | { type: "latencies"; latenciesMs: number[] }
  | { type: "gaps"; versionGaps: number; outOfOrder: number; duplicates: number; received: number; expected: number; errors: number; firstError?: string }
  | { type: "closed" };

const CONNECTING_AT_ONCE = 200;

type Subscriber = { socket: WebSocket; itemIds: string[]; versions: Map<string, number[]> };
const subscribers: Subscriber[] = [];
const steps = new Map<string, number[]>();
let current: number[] = [];
let receipts = 0;
let errors = 0;
let firstError: string | undefined;

function open(url: string, query: string, subscription: Subscription): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, "graphql-transport-ws", { perMessageDeflate: false });
    const subscriber: Subscriber = { socket, itemIds: subscription.itemIds, versions: new Map() };
    let acknowledged = false;
    const timer = setTimeout(() => reject(new Error("timed out subscribing")), 60_000);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: {} })));
    socket.on("message", (data: Buffer) => {
      const now = Date.now();
      const message = JSON.parse(data.toString()) as { type: string; payload?: any };
      if (message.type === "connection_ack") {
        acknowledged = true;
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables: { store: subscription.store, items: subscription.itemIds } } }));
        clearTimeout(timer);
        // graphql-ws answers nothing to a subscribe; the bench's warm-up proves it registered
        resolve(subscriber);
        return;
      }
      const update = message.payload?.data?.stockUpdates as { itemId: string; version: number; at: string } | undefined;
      if (message.type === "next" && update) {
        current.push(now - Date.parse(update.at));
        receipts++;
        const seen = subscriber.versions.get(update.itemId);
        if (seen) seen.push(update.version);
        else subscriber.versions.set(update.itemId, [update.version]);
      } else if (message.type !== "pong" && message.type !== "ping") {
        errors++;
        firstError ??= data.toString().slice(0, 300);
      }
    });
    socket.on("close", (code) => {
      // (an upgrade refused is its caller's error, tried again or counted there)
      if (acknowledged && code !== 1000 && code !== 1005) {
        errors++;
        firstError ??= `socket closed with ${code}`;
      }
    });
  });
}

async function connect(command: Extract<FlashCommand, { type: "connect" }>): Promise<FlashReply> {
  const started = performance.now();
  let failed = 0;
  let connectError: string | undefined;
  let refusedAttempts = 0;
  const pending = command.subscriptions.flatMap((subscription) => Array.from({ length: subscription.count }, () => subscription));
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const subscription = pending[next++]!;
      // a service shedding load answers an upgrade 503 with Retry-After (1 s): tried again, as graphql-ws clients do
      for (let attempt = 1; ; attempt++) {
        try {
          subscribers.push(await open(command.url, command.query, subscription));
          break;
        } catch (error) {
          if (/\b503\b/.test(String(error)) && attempt < 20) {
            refusedAttempts++;
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            continue;
          }
          failed++;
          connectError ??= String(error);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTING_AT_ONCE }, worker));
  return { type: "connected", ms: performance.now() - started, open: subscribers.length, failed, refusedAttempts, firstError: connectError };
}

function gaps(command: Extract<FlashCommand, { type: "gaps" }>): FlashReply {
  let versionGaps = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  let received = 0;
  let expected = 0;
  for (const subscriber of subscribers) {
    for (const itemId of subscriber.itemIds) {
      const start = command.start[itemId]!;
      const end = command.end[itemId]!;
      const versions = (subscriber.versions.get(itemId) ?? []).filter((version) => version > start && version <= end);
      const distinct = new Set(versions);
      for (let i = 1; i < versions.length; i++) if (versions[i]! < versions[i - 1]!) outOfOrder++;
      duplicates += versions.length - distinct.size;
      received += distinct.size;
      expected += end - start;
      versionGaps += end - start - distinct.size;
    }
  }
  return { type: "gaps", versionGaps, outOfOrder, duplicates, received, expected, errors, firstError };
}

async function close(): Promise<FlashReply> {
  await terminateAll(subscribers.map(({ socket }) => socket));
  subscribers.length = 0;
  return { type: "closed" };
}

process.on("message", async (command: FlashCommand) => {
  let reply: FlashReply;
  switch (command.type) {
    case "connect":
      reply = await connect(command);
      break;
    case "step":
      current = [];
      steps.set(command.name, current);
      receipts = 0;
      reply = { type: "count", receipts };
      break;
    case "count":
      reply = { type: "count", receipts };
      break;
    case "latencies":
      reply = { type: "latencies", latenciesMs: steps.get(command.name) ?? [] };
      break;
    case "gaps":
      reply = gaps(command);
      break;
    case "close":
      reply = await close();
      break;
  }
  process.send!(reply);
  if (command.type === "close") process.disconnect();
});
