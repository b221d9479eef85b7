import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./free-port.ts";
import { eventually } from "./wait.ts";

/**
 * The one spawner of the service as a process of its own, for the tests (test/support/processes.ts
 * adds their defaults) and the bench (bench/support.ts). No test-runner imports.
 */

export type ServiceProcess = {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  /** everything it wrote to stdout and stderr so far */
  output(): string;
  /** SIGTERM (or `signal`), and wait for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

export type SpawnServiceOptions = {
  /** added to this process's environment; an `undefined` removes a variable (e.g. DATABASE_URL) */
  env?: Record<string, string | undefined>;
  /** names the process in errors */
  name?: string;
  /** Node flags, after tsx's loader (so that they may --import TypeScript) */
  nodeArgs?: string[];
  /** how long it may take to answer GET /health with 200 */
  timeoutMs?: number;
  /** what to run instead of `node --import tsx src/main.ts`, e.g. `["node", "dist/main.js"]` or `["npm", "start"]` */
  command?: [string, ...string[]];
  /** in a process group of its own (signal the group with `process.kill(-child.pid, signal)`) */
  detached?: boolean;
};

/**
 * Starts `npm start`'s entry point (src/main.ts) on a free loopback port and waits until
 * GET /health answers 200; fails with the process's output when it exits or times out first.
 */
export async function spawnService(options: SpawnServiceOptions = {}): Promise<ServiceProcess> {
  const name = options.name ?? "server process";
  const port = await freePort();
  const merged = { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ...options.env };
  const env = Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)) as NodeJS.ProcessEnv;
  const [file, ...args] = options.command ?? [process.execPath, "--import", "tsx", ...(options.nodeArgs ?? []), "src/main.ts"];
  const child = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: options.detached });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited early:\n${output}`);
        return fetch(`${url}/health`).then((response) => response.ok, () => false);
      },
      `${name} to answer GET /health`,
      timeoutMs,
      100,
    );
  } catch (error) {
    child.kill("SIGKILL");
    if ((error as Error).message.startsWith("timed out")) throw new Error(`${name} did not become healthy in ${timeoutMs} ms:\n${output}`);
    throw error;
  }
  return {
    name,
    url,
    port,
    child,
    output: () => output,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
