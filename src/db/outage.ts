/**
 * Whether an error means the database cannot serve right now rather than that the request or the
 * code is wrong: PostgreSQL stopped or restarting, a connection cut, no connection to be had in
 * time, a statement stuck past its timeout, or contention that outlasted the transaction retries.
 * Such a request can simply be tried again shortly, so the API answers SERVICE_UNAVAILABLE
 * instead of an internal error. Both ways the service reaches PostgreSQL are recognised: `pg`
 * errors and Prisma's (whose driver adapter keeps the `pg` error or its kind as a cause).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return causesOf(error).some(
    (cause) =>
      (typeof cause.code === "string" && (OUTAGE_SQLSTATE.test(cause.code) || OUTAGE_CODES.has(cause.code))) ||
      (typeof cause.kind === "string" && OUTAGE_ADAPTER_KINDS.has(cause.kind)) ||
      (typeof cause.message === "string" && OUTAGE_MESSAGES.test(cause.message)),
  );
}

/**
 * SQLSTATE class 08 (connection exceptions), 57P01-57P03 (terminated by an administrator, crash,
 * starting up or shutting down), 57014 (statement timeout), 53300 (too many connections), and
 * 40001/40P01 (serialization failure, deadlock) once `inTransaction` has used up its retries.
 */
const OUTAGE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|57014|53300|40001|40P01)$/;
/** Socket errors, and Prisma's codes for an unreachable server or a closed connection. */
const OUTAGE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "P1001",
  "P1002",
  "P1008",
  "P1017",
  "P2024",
]);
/** What Prisma's pg driver adapter calls the same situations. */
const OUTAGE_ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
/** node-postgres reports a connection that ends or cannot be had in time without a code. */
const OUTAGE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|is not queryable/;

type Cause = { code?: unknown; kind?: unknown; message?: unknown };

/** The error and everything it wraps: `cause`, GraphQL's `originalError`, Prisma's adapter error. */
function causesOf(error: unknown): Cause[] {
  const found: Cause[] = [];
  const pending = [error];
  while (pending.length > 0 && found.length < 20) {
    const next = pending.pop();
    if (typeof next !== "object" || next === null || found.includes(next as Cause)) continue;
    found.push(next as Cause);
    const wrapper = next as { cause?: unknown; originalError?: unknown; errors?: unknown; meta?: { driverAdapterError?: unknown } };
    pending.push(wrapper.cause, wrapper.originalError, wrapper.meta?.driverAdapterError);
    if (Array.isArray(wrapper.errors)) pending.push(...wrapper.errors);
  }
  return found;
}
