import { freePort } from "./free-port.ts";
import { databaseUrl } from "./harness.ts";
import { spawnService, type ServiceProcess, type SpawnServiceOptions } from "./service-process.ts";

export { freePort };

export type ServerProcess = ServiceProcess;

/**
 * Starts `npm start`'s entry point (src/main.ts) as a separate process on the test database,
 * and waits until GET /health answers 200 (test/support/service-process.ts, shared with the bench).
 * It does not sweep expired cart holds unless the test sets RESERVATION_EXPIRY_INTERVAL_MS: the
 * sweep ends the expired holds of every store on the database, other test files' too, and would
 * tell only its own subscribers (see startTestServer).
 */
export async function startServerProcess(
  env: Record<string, string | undefined> = {},
  options: Pick<SpawnServiceOptions, "timeoutMs" | "command" | "detached"> = {},
): Promise<ServerProcess> {
  return spawnService({
    env: {
      DATABASE_URL: databaseUrl(),
      // every test client is 127.0.0.1: the order rate limit is off unless a test sets it
      ORDER_RATE_LIMIT_PER_MINUTE: "0",
      // a shared test machine delays every event loop: load shedding is off unless a test sets it
      LOAD_SHEDDING: "false",
      RESERVATION_EXPIRY_INTERVAL_MS: "0",
      ...env,
    },
    ...options,
  });
}
