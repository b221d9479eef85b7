import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { RedisTarget } from "./config.ts";

/**
 * Connections to the deployment's Redis, which carries only live updates and rate counts
 * (PostgreSQL is the system of record): one server (REDIS_URL), or a Redis Cluster
 * (REDIS_CLUSTER_NODES) that grows by store. Everything kept or published there is named by its
 * store first, in a hash tag (`{<store>}:...`), so that a store's keys and channels live on one
 * shard and commands about one store never span two (SPEC section 7).
 */

export type RedisClient = Redis | Cluster;

/** `{<store>}`: the hash tag that places everything of one store on one cluster shard. */
export const storeHashTag = (store: string) => `{${store}}`;

/**
 * A client of `target` with a connection's `options`. On a cluster they apply to the connection
 * to each node, except the offline queue and the ready check, which the cluster client keeps
 * (while the cluster is unreachable, or a command's node is failing over).
 */
export function connectRedis(
  target: RedisTarget | string,
  options: RedisOptions,
  clusterOptions: Omit<ClusterOptions, "redisOptions" | "enableOfflineQueue" | "enableReadyCheck"> = {},
): RedisClient {
  if (typeof target === "string") return new Redis(target, options);
  if ("url" in target) return new Redis(target.url, options);
  const { enableOfflineQueue, enableReadyCheck, ...nodeOptions } = options;
  const cluster = new Cluster(target.clusterNodes, {
    ...clusterOptions,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableReadyCheck: enableReadyCheck ?? true,
    redisOptions: nodeOptions,
  });
  if (clusterOptions.shardedSubscribers) spaceSlotMapRefreshes(cluster, SLOT_MAP_REFRESH_SPACING_MS);
  return cluster;
}

const SLOT_MAP_REFRESH_SPACING_MS = 200;

/**
 * ioredis (5.11) replaces a sharded subscriber whose connection ended by reading the slot map
 * again at once, and the new subscriber's connection to a master that is gone ends at once too:
 * until a replica takes over (seconds), that loop keeps a core busy. Reading the slot map at
 * most once per `spacingMs` (callers meanwhile share the next reading) breaks the loop and
 * delays the move to a new master by as much at most.
 */
function spaceSlotMapRefreshes(cluster: Cluster, spacingMs: number) {
  const refresh = cluster.refreshSlotsCache.bind(cluster);
  const waiting: NonNullable<Parameters<Cluster["refreshSlotsCache"]>[0]>[] = [];
  let lastAt = -Infinity;
  let scheduled: NodeJS.Timeout | undefined;
  cluster.refreshSlotsCache = (callback) => {
    if (callback) waiting.push(callback);
    if (scheduled) return;
    scheduled = setTimeout(() => {
      scheduled = undefined;
      lastAt = Date.now();
      const callbacks = waiting.splice(0);
      refresh((error) => callbacks.forEach((done) => done(error)));
    }, Math.max(0, lastAt + spacingMs - Date.now()));
    scheduled.unref();
  };
}

export const isCluster = (redis: RedisClient): redis is Cluster => "isCluster" in redis && redis.isCluster === true;
