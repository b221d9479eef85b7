import { fork, spawn, type ChildProcess } from "node:child_process";
import type { Command, Group, GroupResult, Reply } from "./fanout-clients.ts";
import { percentile, round, rssKB, sleep, startServer, type BenchStore, type ServerProcess } from "./support.ts";

export const SUBSCRIBE = `subscription StockUpdates($store: String!, $items: [ID!]) {
  stockUpdates(store: $store, itemIds: $items) { itemId availability availableQuantity version at }
}`;

const ADJUST = `mutation Adjust($input: AdjustItemQuantityInput!) {
  adjustItemQuantity(input: $input) { __typename ... on Item { version } ... on OperationError { code message } }
}`;

/** Both kinds of server run with a collectable heap, so RSS is read after a full GC (SIGUSR2). */
export const GC_ARGS = ["--expose-gc", "--import", "./bench/gc-on-signal.ts"];

export type FanoutOptions = { updates: number; warmupUpdates: number; intervalMs: number };

/** The subscribers' process (bench/fanout-clients.ts), driven over IPC. */
class Clients {
  private readonly child: ChildProcess;
  private readonly replies: ((reply: Reply) => void)[] = [];

  constructor() {
    this.child = fork("bench/fanout-clients.ts", [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (reply: Reply) => this.replies.shift()?.(reply));
  }

  send<T extends Reply["type"]>(command: Command): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve) => {
      this.replies.push(resolve as (reply: Reply) => void);
      this.child.send(command);
    });
  }

  async close() {
    await this.send({ type: "close" });
    await new Promise((resolve) => (this.child.exitCode === null ? this.child.once("exit", resolve) : resolve(null)));
  }
}

type SideResult = { connectSeconds: number; rssPerSubscriberKB: number; groups: GroupResult[]; triggerErrors: number };

/**
 * Subscribes `groups` from a fresh client process, measures the server's RSS growth, sends
 * warm-up updates (which also make sure every subscription is registered), then the measured ones.
 */
async function measure(
  groups: Group[],
  rssOf: ServerProcess | { pid: number },
  trigger: { url: string; headers: Record<string, string>; bodyTemplate: string },
  firstVersion: number,
  options: FanoutOptions,
): Promise<SideResult> {
  const pid = "child" in rssOf ? rssOf.child.pid! : rssOf.pid;
  const rssBefore = await rssAfterGc(pid);
  const clients = new Clients();
  try {
    const connected = await clients.send<"connected">({ type: "connect", groups });
    const total = groups.reduce((sum, group) => sum + group.count, 0);
    if (connected.failed > 0) throw new Error(`${connected.failed} of ${total} subscribers could not connect: ${connected.firstError}`);
    const warm = await clients.send<"result">({ type: "run", updates: options.warmupUpdates, firstVersion, intervalMs: options.intervalMs, trigger });
    if (warm.triggerErrors) throw new Error(`the update could not be triggered: ${warm.firstTriggerError}`);
    const rssAfter = await rssAfterGc(pid);
    const result = await clients.send<"result">({
      type: "run",
      updates: options.updates,
      firstVersion: firstVersion + options.warmupUpdates,
      intervalMs: options.intervalMs,
      trigger,
    });
    return {
      connectSeconds: round(connected.ms / 1000, 1),
      rssPerSubscriberKB: round((rssAfter - rssBefore) / total, 1),
      groups: result.groups,
      triggerErrors: result.triggerErrors,
    };
  } finally {
    await clients.close();
  }
}

async function rssAfterGc(pid: number) {
  process.kill(pid, "SIGUSR2");
  await sleep(500);
  return rssKB(pid);
}

function summarize(group: GroupResult) {
  const sorted = [...group.latenciesMs].sort((a, b) => a - b);
  return {
    p50Ms: round(percentile(sorted, 50), 1),
    p99Ms: round(percentile(sorted, 99), 1),
    maxMs: round(sorted.at(-1) ?? NaN, 1),
    received: group.received,
    expected: group.expected,
  };
}

/** The raw ws floor (bench/fanout-raw-server.ts) as a process of its own. */
async function startRawServer() {
  const child = spawn(process.execPath, ["--import", "tsx", ...GC_ARGS, "bench/fanout-raw-server.ts"], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (chunk) => resolve(Number(String(chunk).trim())));
    child.once("exit", (code) => reject(new Error(`raw ws server exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => (child.kill("SIGTERM"), child.once("exit", resolve))),
  };
}

const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, "ws")}/graphql`;

export type FanoutContext = { databaseUrl: string; redisUrl: string; store: BenchStore; serverEnv: Record<string, string> };

/** The item's version as the service counts it; every update of the bench adds one. */
let nextVersion = 2;

/** One size N: the service (one process) and the raw ws server, each with N subscribers. */
export async function fanoutScenario(n: number, context: FanoutContext, options: FanoutOptions) {
  const itemId = context.store.itemIds[0]!;
  const server = await startServer(context.serverEnv, `fanout-${n}`, GC_ARGS);
  let service: SideResult;
  try {
    service = await measure(
      [{ name: "service", url: wsUrl(server.url), kind: "graphql", count: n, subscribe: { query: SUBSCRIBE, variables: { store: context.store.slug, items: [itemId] } } }],
      server,
      adjustTrigger(server.url, context.store, itemId),
      nextVersion,
      options,
    );
    nextVersion += options.warmupUpdates + options.updates;
  } finally {
    await server.stop();
  }
  const raw = await startRawServer();
  let floor: SideResult;
  try {
    floor = await measure([{ name: "raw", url: wsUrl(raw.url), kind: "raw", count: n }], raw, rawTrigger(raw.url, itemId), 1_000_000, options);
  } finally {
    await raw.stop();
  }
  const s = summarize(service.groups[0]!);
  const f = summarize(floor.groups[0]!);
  return {
    subscribers: n,
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
    baselineP50Ms: f.p50Ms,
    baselineP99Ms: f.p99Ms,
    ratio: round(s.p99Ms / f.p99Ms),
    rssPerSubscriberKB: service.rssPerSubscriberKB,
    baselineRssPerSubscriberKB: floor.rssPerSubscriberKB,
    received: s.received,
    expected: s.expected,
    baselineReceived: f.received,
    maxMs: s.maxMs,
    baselineMaxMs: f.maxMs,
    connectSeconds: service.connectSeconds,
    updates: options.updates,
  };
}

/**
 * The same update reaching subscribers on the process that made it and on a second process,
 * through Redis: N subscribers on each of two service processes, the mutation sent to the first.
 */
export async function crossProcessScenario(n: number, context: FanoutContext, options: FanoutOptions) {
  const itemId = context.store.itemIds[0]!;
  const first = await startServer(context.serverEnv, "cross-first", GC_ARGS);
  const second = await startServer(context.serverEnv, "cross-second", GC_ARGS);
  try {
    const subscribe = { query: SUBSCRIBE, variables: { store: context.store.slug, items: [itemId] } };
    const result = await measure(
      [
        { name: "same", url: wsUrl(first.url), kind: "graphql", count: n, subscribe },
        { name: "other", url: wsUrl(second.url), kind: "graphql", count: n, subscribe },
      ],
      first,
      adjustTrigger(first.url, context.store, itemId),
      nextVersion,
      options,
    );
    nextVersion += options.warmupUpdates + options.updates;
    const same = summarize(result.groups[0]!);
    const other = summarize(result.groups[1]!);
    return {
      subscribersPerProcess: n,
      p50Ms: other.p50Ms,
      p99Ms: other.p99Ms,
      singleProcessP99Ms: same.p99Ms,
      differenceMs: round(other.p99Ms - same.p99Ms, 1),
      received: other.received + same.received,
      expected: other.expected + same.expected,
      updates: options.updates,
    };
  } finally {
    await Promise.all([first.stop(), second.stop()]);
  }
}

function adjustTrigger(url: string, store: BenchStore, itemId: string) {
  return {
    url: `${url}/graphql`,
    headers: { "content-type": "application/json", authorization: `Bearer ${store.token}` },
    bodyTemplate: JSON.stringify({ query: ADJUST, variables: { input: { itemId, delta: 1 } } }),
  };
}

function rawTrigger(url: string, itemId: string) {
  return {
    url: `${url}/publish`,
    headers: { "content-type": "application/json" },
    bodyTemplate: `{"itemId":"${itemId}","availability":"IN_STOCK","availableQuantity":1000,"version":"$VERSION","at":"${new Date().toISOString()}"}`,
  };
}
