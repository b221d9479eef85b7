import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "./free-port.ts";
import { launchRedisServer, type RedisServer } from "./redis-server.ts";
import { eventually } from "./wait.ts";

/**
 * A Redis Cluster of our own for the tests and the bench: masters and replicas of the machine's
 * redis-server on free loopback ports (the shared launcher, ./redis-server.ts), each with its
 * nodes.conf in a temporary directory, joined with `redis-cli --cluster create`. A short node
 * timeout makes a replica take over about two seconds after its master dies.
 */

const run = promisify(execFile);

export type ClusterNode = RedisServer & {
  /** host:port, as CLUSTER NODES and REDIS_CLUSTER_NODES spell it */
  address: string;
};

export type RedisCluster = {
  nodes: ClusterNode[];
  /** every node's host:port, comma-separated: the value of REDIS_CLUSTER_NODES */
  seeds: string;
  /** The hash slot of `key` (its {hash tag}, when it has one). */
  slotOf(key: string): Promise<number>;
  /** The node serving `key`'s slot as master now, as the live nodes see it. */
  masterOf(key: string): Promise<ClusterNode>;
  /** How many connections SSUBSCRIBE to a sharded channel, on each running master (by address). */
  shardSubscribers(channel: string): Promise<Record<string, number>>;
  /** Keys matching `pattern` on each running master that has any (SCAN), by address. */
  keysByMaster(pattern: string): Promise<Record<string, string[]>>;
  /**
   * Waits until every slot is served by a running master, every running node says
   * cluster_state:ok and agrees on who serves what, and every running replica is in sync.
   */
  untilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the directory. */
  stop(): Promise<void>;
};

export type RedisClusterOptions = {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout: how long a master may be unreachable before its replica takes over */
  nodeTimeoutMs?: number;
};

export async function launchRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const dir = await mkdtemp(join(tmpdir(), "redis-cluster-"));
  // the nodes are killed on exit (./redis-server.ts); their directory goes too
  const removeOnExit = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", removeOnExit);
  const nodes: ClusterNode[] = [];
  try {
    const started = await Promise.all(
      Array.from({ length: masters * (1 + replicasPerMaster) }, async (_, index) => {
        const nodeDir = join(dir, `node-${index}`);
        await mkdir(nodeDir);
        return launchRedisServer({
          dir: nodeDir,
          args: [
            "--cluster-enabled", "yes",
            // a free port of its own for the cluster bus: by default it is the node's port + 10,000,
            // which may be taken (an ephemeral port of a busy machine) or past 65,535
            "--cluster-port", String(await freePort()),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 1_000),
            // the shards that still have a master keep serving while one fails over
            "--cluster-require-full-coverage", "no",
            // a replica takes over however long ago it last heard from its master
            "--cluster-replica-validity-factor", "0",
          ],
        });
      }),
    );
    nodes.push(...started.map((node) => Object.assign(node, { address: `127.0.0.1:${node.port}` })));
    await run("redis-cli", ["--cluster", "create", ...nodes.map((node) => node.address), "--cluster-replicas", String(replicasPerMaster), "--cluster-yes"], {
      timeout: 30_000,
    }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    });
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(dir, { recursive: true, force: true });
    process.removeListener("exit", removeOnExit);
    throw error;
  }

  const running = () => nodes.filter((node) => node.pid() !== undefined);
  const ask = async <T>(node: ClusterNode, command: (redis: Redis) => Promise<T>): Promise<T | undefined> => {
    const redis = new Redis(node.url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on("error", () => {});
    try {
      await redis.connect();
      return await command(redis);
    } catch {
      return undefined;
    } finally {
      redis.disconnect();
    }
  };
  /** address -> master it serves slots as, from one node's CLUSTER NODES */
  const slotOwners = async (node: ClusterNode) => {
    const text = await ask(node, (redis) => redis.cluster("NODES") as Promise<string>);
    if (text === undefined) return undefined;
    const owners: { address: string; ranges: [number, number][]; failed: boolean }[] = [];
    for (const line of text.trim().split("\n")) {
      const [, address, flags, , , , , , ...slots] = line.split(" ");
      if (!flags!.includes("master")) continue;
      const ranges = slots
        .filter((slot) => !slot.startsWith("["))
        .map((slot) => slot.split("-").map(Number))
        .map(([from, to]) => [from!, to ?? from!] as [number, number]);
      if (ranges.length > 0) owners.push({ address: address!.split("@")[0]!, ranges, failed: flags!.includes("fail") });
    }
    return owners;
  };
  const runningMasters = async () => {
    const owners = (await slotOwners(running()[0]!)) ?? [];
    return running().filter((node) => owners.some((owner) => owner.address === node.address));
  };
  const slotOf = async (key: string) => {
    const slot = await ask(running()[0]!, (redis) => redis.cluster("KEYSLOT", key) as Promise<number>);
    if (slot === undefined) throw new Error("no cluster node answers CLUSTER KEYSLOT");
    return Number(slot);
  };

  const cluster: RedisCluster = {
    nodes,
    seeds: nodes.map((node) => node.address).join(","),
    slotOf,
    async masterOf(key) {
      const slot = await slotOf(key);
      for (const node of running()) {
        const owner = (await slotOwners(node))?.find((candidate) => candidate.ranges.some(([from, to]) => from <= slot && slot <= to));
        const master = nodes.find((candidate) => candidate.address === owner?.address);
        if (master && master.pid() !== undefined) return master;
      }
      throw new Error(`no running master serves slot ${slot}`);
    },
    async shardSubscribers(channel) {
      const counts: Record<string, number> = {};
      for (const node of await runningMasters()) {
        const reply = await ask(node, (redis) => redis.call("PUBSUB", "SHARDNUMSUB", channel) as Promise<[string, number]>);
        counts[node.address] = Number(reply?.[1] ?? 0);
      }
      return counts;
    },
    async keysByMaster(pattern) {
      const keys: Record<string, string[]> = {};
      for (const node of await runningMasters()) {
        const found = await ask(node, async (redis) => {
          const all: string[] = [];
          let cursor = "0";
          do {
            const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
            all.push(...batch);
            cursor = next;
          } while (cursor !== "0");
          return all;
        });
        if (found?.length) keys[node.address] = found;
      }
      return keys;
    },
    async untilHealthy(timeoutMs = 30_000) {
      await eventually(
        async () => {
          const live = running();
          const views = await Promise.all(live.map(slotOwners));
          if (views.some((view) => view === undefined)) return false;
          const liveAddresses = new Set(live.map((node) => node.address));
          const covered = (view: NonNullable<(typeof views)[number]>) =>
            view.reduce((sum, owner) => sum + owner.ranges.reduce((n, [from, to]) => n + to - from + 1, 0), 0) === 16_384 &&
            view.every((owner) => liveAddresses.has(owner.address) && !owner.failed);
          const same = (view: NonNullable<(typeof views)[number]>) => JSON.stringify(view.map((owner) => owner.address).sort());
          if (!views.every((view) => covered(view!) && same(view!) === same(views[0]!))) return false;
          const states = await Promise.all(
            live.map((node) =>
              ask(node, async (redis) => {
                const info = (await redis.cluster("INFO")) as string;
                const replication = await redis.info("replication");
                return info.includes("cluster_state:ok") && (!replication.includes("role:slave") || replication.includes("master_link_status:up"));
              }),
            ),
          );
          return states.every(Boolean);
        },
        "the Redis Cluster to be healthy (every slot served, cluster_state:ok everywhere, replicas in sync)",
        timeoutMs,
        100,
      );
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      await rm(dir, { recursive: true, force: true });
      process.removeListener("exit", removeOnExit);
    },
  };
  try {
    await cluster.untilHealthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
