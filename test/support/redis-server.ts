import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "./free-port.ts";
import { eventually } from "./wait.ts";

/**
 * The one launcher of redis-server processes of our own, for the tests and the bench: a plain
 * one for an outage test, or the nodes of a cluster (test/support/redis-cluster.ts). Never the
 * machine's shared Redis. No test-runner imports.
 */

export type RedisServer = {
  port: number;
  url: string;
  /** the running process's id (undefined while stopped) */
  pid(): number | undefined;
  /** Kills it (SIGKILL: no goodbye to its clients, as a crash or a cut cable) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (and directory), and waits until it answers. */
  start(): Promise<void>;
  /** How many connections other clients hold open to it (to know when theirs are back). */
  clients(): Promise<number>;
};

export type RedisServerOptions = {
  /** default: a free loopback port */
  port?: number;
  /** more redis-server arguments, e.g. ["--cluster-enabled", "yes"] */
  args?: string[];
  /** its working directory (where a cluster node keeps nodes.conf); default this process's */
  dir?: string;
};

export const redisServerInstalled = () => spawnSync("redis-server", ["--version"]).status === 0;

/** A redis-server on 127.0.0.1 keeping nothing on disk, answering PING when this resolves. */
export async function launchRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    if (child) return;
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...(options.args ?? [])];
    const started = spawn("redis-server", args, { cwd: options.dir, stdio: "ignore" });
    child = started;
    // a test or bench that dies without stopping it leaves no redis-server behind
    const killOnExit = () => started.kill("SIGKILL");
    process.once("exit", killOnExit);
    started.once("exit", () => process.removeListener("exit", killOnExit));
    let failure: Error | undefined;
    started.once("error", (error) => (failure = new Error(`cannot run redis-server (apt-get install redis-server): ${error.message}`)));
    started.once("exit", (code) => (failure ??= new Error(`redis-server on port ${port} exited with ${code}`)));
    await eventually(
      () => {
        if (failure) throw failure;
        return redisAnswers(url);
      },
      `redis-server on port ${port} to answer`,
      10_000,
      50,
    );
  };
  await start();
  return {
    port,
    url,
    pid: () => child?.pid,
    start,
    async stop() {
      const running = child;
      if (!running) return;
      child = undefined;
      if (running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGKILL");
      await exited;
    },
    async clients() {
      const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on("error", () => {});
      try {
        const list = (await redis.client("LIST")) as string;
        return list.trim().split("\n").length - 1;
      } catch {
        return 0;
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Whether a Redis answers PING at `url` within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
