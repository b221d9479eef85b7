import { sql } from "./sql.ts";
import type { Tx } from "./transaction.ts";

/**
 * PostgreSQL advisory locks held by a transaction, released by its COMMIT or ROLLBACK: nothing
 * outlives the transaction, so they work the same through PgBouncer in transaction pooling (a
 * session lock would stay on whichever server connection PgBouncer handed out). Work that spans
 * calls to other systems holds a lease instead (./lease.ts). A key is a lock space (one per kind
 * of work) and a record id; the id is hashed into the lock's second half, so two records may
 * rarely share a lock, which only serializes them.
 */
export type LockKey = { space: number; id: string };

/** Inside a transaction: waits for `key` and holds it until the transaction ends; `shared` lets other shared holders in. */
export async function transactionLock(tx: Tx, key: LockKey, mode: "exclusive" | "shared"): Promise<void> {
  if (mode === "shared") await tx.query(sql`SELECT pg_advisory_xact_lock_shared(${key.space}::int, hashtext(${key.id}))`);
  else await tx.query(sql`SELECT pg_advisory_xact_lock(${key.space}::int, hashtext(${key.id}))`);
}
