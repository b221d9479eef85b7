import { randomUUID } from "node:crypto";
import type pg from "pg";
import { sql } from "./sql.ts";
import type { Tx } from "./transaction.ts";

/**
 * Leases: rows of the `leases` table that say which process does a store's piece of work that
 * spans calls to other systems (an accounting sync, an invoice), and until when. A lease holds no
 * connection and no session of PostgreSQL while its work waits on the other system, so it works
 * the same through PgBouncer in transaction pooling and costs nothing to hold; its holder renews
 * it while it works, and a process that dies leaves one that expires by itself.
 */
export const BUSY = Symbol("busy");

/** Held leases of one store: what `takeLeases` answers. */
export type HeldLeases = {
  readonly storeId: string;
  readonly names: readonly string[];
  /** true once a renewal found the leases gone: they expired (the holder was cut off from the database for longer than their time) and another may hold them now */
  readonly lost: boolean;
  /** Stops renewing and deletes the leases; when the database cannot be reached they expire by themselves. */
  release(): Promise<void>;
};

export type LeaseOptions = {
  /** how long a lease lasts without renewal: how long a crashed holder keeps others waiting */
  ttlMs: number;
  /** how long to wait for leases another holds before answering BUSY */
  waitMs: number;
  /** called once when a renewal finds the leases gone */
  onLost?: () => void;
};

// waits between attempts while another holds a lease: short first, then at most this
const FIRST_RETRY_MS = 20;
const LONGEST_RETRY_MS = 500;

/**
 * Takes the leases `names` of the store, all or none, waiting at most `waitMs` while another
 * holder has any of them (an expired lease is free), and renews them every third of `ttlMs`
 * until released. Answers BUSY when they stayed taken. Each attempt is one statement, its own
 * transaction: it takes what is free, and gives back what it took when that was not all.
 */
export async function takeLeases(
  pool: pg.Pool,
  storeId: string,
  names: readonly string[],
  { ttlMs, waitMs, onLost }: LeaseOptions,
): Promise<HeldLeases | typeof BUSY> {
  const holder = randomUUID();
  const sorted = [...new Set(names)].sort();
  const deadline = Date.now() + waitMs;
  for (let retryMs = FIRST_RETRY_MS; ; retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS)) {
    const { rowCount } = await pool.query(
      sql`INSERT INTO leases AS l (store_id, name, holder, expires_at)
          SELECT ${storeId}::uuid, name, ${holder}::uuid, now() + ${ttlMs}::int * interval '1 millisecond'
            FROM unnest(${sorted}::text[]) AS name
          ON CONFLICT (store_id, name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE l.expires_at <= now()`,
    );
    if (rowCount === sorted.length) break;
    if (rowCount) await deleteLeases(pool, storeId, sorted, holder);
    const left = deadline - Date.now();
    if (left <= 0) return BUSY;
    // jittered, so that holders in several processes do not retry in step
    await sleep(Math.min(left, retryMs * (0.5 + Math.random())));
  }
  return holding(pool, storeId, sorted, holder, ttlMs, onLost);
}

function holding(pool: pg.Pool, storeId: string, names: string[], holder: string, ttlMs: number, onLost?: () => void): HeldLeases {
  let lost = false;
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = async () => {
    const { rowCount } = await pool.query(
      sql`UPDATE leases SET expires_at = now() + ${ttlMs}::int * interval '1 millisecond'
           WHERE store_id = ${storeId}::uuid AND name = ANY(${names}::text[]) AND holder = ${holder}::uuid`,
    );
    if (rowCount !== names.length && !lost) {
      lost = true;
      onLost?.();
    }
  };
  // a renewal that fails (the database away for a moment) is tried again at the next tick
  const timer = setInterval(() => (renewing = renew().catch(() => {})), Math.max(1, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    storeId,
    names,
    get lost() {
      return lost;
    },
    async release() {
      clearInterval(timer);
      await renewing;
      await deleteLeases(pool, storeId, names, holder).catch(() => {});
    },
  };
}

function deleteLeases(pool: pg.Pool, storeId: string, names: readonly string[], holder: string) {
  return pool.query(
    sql`DELETE FROM leases WHERE store_id = ${storeId}::uuid AND name = ANY(${names}::text[]) AND holder = ${holder}::uuid`,
  );
}

/**
 * Inside a transaction: answers false when another holds the lease `name` of the store; else
 * keeps anyone from taking it until the transaction ends, and answers true. The row it writes
 * (and deletes again at once) stays locked by the transaction, so a `takeLeases` of that name
 * waits for its COMMIT or ROLLBACK: a cancellation that checked an order is not being invoiced
 * keeps it so until the cancellation has committed.
 */
export async function holdLeaseInTransaction(tx: Tx, storeId: string, name: string): Promise<boolean> {
  const holder = randomUUID();
  const { rowCount } = await tx.query(
    sql`INSERT INTO leases AS l (store_id, name, holder, expires_at) VALUES (${storeId}::uuid, ${name}, ${holder}::uuid, now())
        ON CONFLICT (store_id, name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE l.expires_at <= now()`,
  );
  if (!rowCount) return false;
  await tx.query(sql`DELETE FROM leases WHERE store_id = ${storeId}::uuid AND name = ${name} AND holder = ${holder}::uuid`);
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
