import { fork, spawn, type ChildProcess } from "node:child_process";
import { launchRedisCluster } from "../test/support/redis-cluster.ts";
import type { Command, Group, Reply } from "./fanout-clients.ts";
import { percentile, processCpuMs, round, rssKB, sleep, startServer, type BenchStore, type ServerProcess } from "./support.ts";

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

/** A server with its subscribers: connected, RSS growth measured, warmed up. */
async function prepareSide(groups: Group[], pid: number, trigger: Trigger, firstVersion: number, options: FanoutOptions) {
  const rssBefore = await rssAfterGc(pid);
  const clients = new Clients();
  const total = groups.reduce((sum, group) => sum + group.count, 0);
  const connected = await clients.send<"connected">({ type: "connect", groups });
  if (connected.failed > 0) throw new Error(`${connected.failed} of ${total} subscribers could not connect: ${connected.firstError}`);
  // the warm-up updates also make sure every subscription is registered before measuring
  const warm = await clients.send<"result">({ type: "run", updates: options.warmupUpdates, firstVersion, intervalMs: options.intervalMs, trigger });
  if (warm.triggerErrors) throw new Error(`the update could not be triggered: ${warm.firstTriggerError}`);
  const rssAfter = await rssAfterGc(pid);
  return {
    clients,
    pid,
    cpuMs: 0,
    version: firstVersion + options.warmupUpdates,
    trigger,
    connectSeconds: round(connected.ms / 1000, 1),
    rssPerSubscriberKB: round((rssAfter - rssBefore) / total, 1),
    latencies: groups.map(() => [] as number[]),
    expected: groups.map((group) => group.count * options.updates),
  };
}
type Side = Awaited<ReturnType<typeof prepareSide>>;
type Trigger = { url: string; headers: Record<string, string>; bodyTemplate: string };

/**
 * The measured updates, one at a time, alternating between the sides, so that whatever else the
 * shared machine does at a moment weighs on every side alike.
 */
async function alternate(sides: Side[], options: FanoutOptions) {
  for (let k = 0; k < options.updates; k++) {
    for (const side of sides) {
      const cpuBefore = processCpuMs(side.pid);
      const result = await side.clients.send<"result">({ type: "run", updates: 1, firstVersion: side.version++, intervalMs: options.intervalMs, trigger: side.trigger });
      side.cpuMs += processCpuMs(side.pid) - cpuBefore;
      if (result.triggerErrors) throw new Error(`the update could not be triggered: ${result.firstTriggerError}`);
      result.groups.forEach((group, index) => side.latencies[index]!.push(...group.latenciesMs));
    }
  }
  return sides.map((side) => side.latencies.map((latenciesMs, index) => ({ latenciesMs, expected: side.expected[index]! })));
}

async function rssAfterGc(pid: number) {
  process.kill(pid, "SIGUSR2");
  await sleep(500);
  return rssKB(pid);
}

function summarize(group: { latenciesMs: number[]; expected: number }) {
  const sorted = [...group.latenciesMs].sort((a, b) => a - b);
  return {
    p50Ms: round(percentile(sorted, 50), 1),
    p99Ms: round(percentile(sorted, 99), 1),
    maxMs: round(sorted.at(-1) ?? NaN, 1),
    received: sorted.length,
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

/**
 * One size N: N subscribers on one service process and N on the raw ws server, each side with a
 * client process of its own, the updates alternating between them.
 */
export async function fanoutScenario(n: number, context: FanoutContext, options: FanoutOptions) {
  const itemId = context.store.itemIds[0]!;
  const server = await startServer(context.serverEnv, `fanout-${n}`, GC_ARGS);
  const raw = await startRawServer();
  const sides: Side[] = [];
  try {
    const subscribe = { query: SUBSCRIBE, variables: { store: context.store.slug, items: [itemId] } };
    sides.push(await prepareSide([{ name: "service", url: wsUrl(server.url), kind: "graphql", count: n, subscribe }], server.child.pid!, adjustTrigger(server.url, context.store, itemId), nextVersion, options));
    nextVersion += options.warmupUpdates + options.updates;
    sides.push(await prepareSide([{ name: "raw", url: wsUrl(raw.url), kind: "raw", count: n }], raw.pid, rawTrigger(raw.url, itemId), 1_000_000, options));
    const [[service], [floor]] = await alternate(sides, options);
    const s = summarize(service!);
    const f = summarize(floor!);
    return {
      subscribers: n,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      baselineP50Ms: f.p50Ms,
      baselineP99Ms: f.p99Ms,
      ratio: round(s.p99Ms / f.p99Ms),
      rssPerSubscriberKB: sides[0]!.rssPerSubscriberKB,
      // server CPU time per message delivered (incl. the mutation for the service), less load-dependent than latency
      cpuUsPerDelivery: round((sides[0]!.cpuMs * 1000) / (n * options.updates), 1),
      baselineCpuUsPerDelivery: round((sides[1]!.cpuMs * 1000) / (n * options.updates), 1),
      baselineRssPerSubscriberKB: sides[1]!.rssPerSubscriberKB,
      received: s.received,
      expected: s.expected,
      baselineReceived: f.received,
      maxMs: s.maxMs,
      baselineMaxMs: f.maxMs,
      connectSeconds: sides[0]!.connectSeconds,
      updates: options.updates,
    };
  } finally {
    await Promise.all(sides.map((side) => side.clients.close()));
    await Promise.all([server.stop(), raw.stop()]);
  }
}

/**
 * The same update reaching subscribers on the process that made it and on a second process,
 * through Redis: N subscribers on each of two service processes, the mutation sent to the first.
 */
export async function crossProcessScenario(n: number, context: FanoutContext, options: FanoutOptions) {
  const itemId = context.store.itemIds[0]!;
  const [first, second] = await Promise.all([startServer(context.serverEnv, "cross-first", GC_ARGS), startServer(context.serverEnv, "cross-second", GC_ARGS)]);
  const sides: Side[] = [];
  try {
    const subscribe = { query: SUBSCRIBE, variables: { store: context.store.slug, items: [itemId] } };
    sides.push(
      await prepareSide(
        [
          { name: "same", url: wsUrl(first.url), kind: "graphql", count: n, subscribe },
          { name: "other", url: wsUrl(second.url), kind: "graphql", count: n, subscribe },
        ],
        first.child.pid!,
        adjustTrigger(first.url, context.store, itemId),
        nextVersion,
        options,
      ),
    );
    nextVersion += options.warmupUpdates + options.updates;
    const [[sameGroup, otherGroup]] = await alternate(sides, options);
    const same = summarize(sameGroup!);
    const other = summarize(otherGroup!);
    return {
      subscribersPerProcess: n,
      p50Ms: other.p50Ms,
      p99Ms: other.p99Ms,
      singleProcessP50Ms: same.p50Ms,
      singleProcessP99Ms: same.p99Ms,
      differenceMs: round(other.p99Ms - same.p99Ms, 1),
      received: other.received + same.received,
      expected: other.expected + same.expected,
      updates: options.updates,
    };
  } finally {
    await Promise.all(sides.map((side) => side.clients.close()));
    await Promise.all([first.stop(), second.stop()]);
  }
}

/**
 * The cross-process measurement on a Redis Cluster of the bench's own (3 masters, 3 replicas of
 * the machine's redis-server, test/support/redis-cluster.ts): the same two processes and
 * subscribers, the events by SPUBLISH/SSUBSCRIBE on the store's shard.
 */
export async function crossProcessClusterScenario(n: number, context: FanoutContext, options: FanoutOptions) {
  const cluster = await launchRedisCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    // an empty REDIS_URL is unset: the processes speak to the cluster only
    const serverEnv = { ...context.serverEnv, REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.seeds };
    return { ...(await crossProcessScenario(n, { ...context, serverEnv }, options)), clusterMasters: 3, clusterReplicas: 3 };
  } finally {
    await cluster.stop();
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
