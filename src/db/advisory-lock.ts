import type pg from "pg";
import { sql } from "./sql.ts";
import type { Tx } from "./transaction.ts";

/**
 * PostgreSQL advisory locks, for work that spans calls to other systems and so cannot live inside
 * one transaction. A key is a lock space (one per kind of work) and a record id; the id is hashed
 * into the lock's second half, so two records may rarely share a lock, which only serializes them.
 */
export type LockKey = { space: number; id: string };

export const BUSY = Symbol("busy");

const LOCK_NOT_AVAILABLE = "55P03";

/**
 * Takes `keys` in order on a connection of its own, waiting at most `waitMs` in all, runs `work`
 * and releases them. Answers BUSY when a key stayed taken. The locks belong to the session, so a
 * process that dies mid-work releases them with its connection.
 */
export async function withAdvisoryLocks<T>(
  pool: pg.Pool,
  keys: readonly LockKey[],
  waitMs: number,
  work: () => Promise<T>,
): Promise<T | typeof BUSY> {
  const client = await pool.connect();
  const taken: LockKey[] = [];
  let broken: Error | undefined;
  try {
    const deadline = Date.now() + waitMs;
    for (const key of keys) {
      if (!(await takeLock(client, key, deadline - Date.now()))) return BUSY;
      taken.push(key);
    }
    return await work();
  } finally {
    for (const key of taken.reverse()) {
      await client
        .query(sql`SELECT pg_advisory_unlock(${key.space}::int, hashtext(${key.id}))`)
        .catch((error: Error) => (broken = error));
    }
    // a connection that could not unlock is dropped, which releases whatever it still holds
    client.release(broken);
  }
}

async function takeLock(client: pg.PoolClient, key: LockKey, waitMs: number): Promise<boolean> {
  if (waitMs < 1) {
    const { rows } = await client.query(sql`SELECT pg_try_advisory_lock(${key.space}::int, hashtext(${key.id})) AS taken`);
    return rows[0].taken;
  }
  await client.query(sql`SELECT set_config('lock_timeout', ${`${Math.ceil(waitMs)}ms`}, false)`);
  try {
    await client.query(sql`SELECT pg_advisory_lock(${key.space}::int, hashtext(${key.id}))`);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return false;
    throw error;
  } finally {
    await client.query("RESET lock_timeout");
  }
}

/** Inside a transaction: takes `key` until the transaction ends, or answers false at once. */
export async function tryTransactionLock(tx: Tx, key: LockKey): Promise<boolean> {
  const { rows } = await tx.query(sql`SELECT pg_try_advisory_xact_lock(${key.space}::int, hashtext(${key.id})) AS taken`);
  return rows[0].taken;
}

/** Inside a transaction: waits for `key` and holds it until the transaction ends; `shared` lets other shared holders in. */
export async function transactionLock(tx: Tx, key: LockKey, mode: "exclusive" | "shared"): Promise<void> {
  if (mode === "shared") await tx.query(sql`SELECT pg_advisory_xact_lock_shared(${key.space}::int, hashtext(${key.id}))`);
  else await tx.query(sql`SELECT pg_advisory_xact_lock(${key.space}::int, hashtext(${key.id}))`);
}
