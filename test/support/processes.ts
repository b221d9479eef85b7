import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./free-port.ts";
import { databaseUrl } from "./harness.ts";

export { freePort };

export type ServerProcess = {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, and wait for the process to exit; resolves with its exit code. */
  stop(): Promise<number | null>;
};

/**
 * Starts `npm start`'s entry point (src/main.ts) as a separate process on the test database,
 * and waits until GET /health answers 200.
 */
export async function startServerProcess(
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const merged = {
    ...process.env,
    DATABASE_URL: databaseUrl(),
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    // every test client is 127.0.0.1: the order rate limit is off unless a test sets it
    ORDER_RATE_LIMIT_PER_MINUTE: "0",
    ...env,
  };
  // an `undefined` in `env` removes the variable (e.g. DATABASE_URL, to start the embedded database)
  const childEnv = Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)) as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server process exited early:\n${output}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server process did not become healthy:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    port,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
