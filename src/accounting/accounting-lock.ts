import type pg from "pg";
import { BUSY, takeLeases } from "../db/lease.ts";
import type { Logger } from "../logger.ts";

export { BUSY };

/** The store's lease on its accounting operations (src/db/lease.ts). */
const ACCOUNTING_LEASE = "accounting";

/**
 * One accounting operation per store at a time, across processes. A sync, the refresh after a
 * notification and an invoice each read the accounting system and then write what it said; side
 * by side, one could apply a count that the other's write already accounts for (an invoice
 * deducted twice, once by the invoice and once by a refresh that read the lowered count). Callers
 * in this process queue on a promise chain per store, so waiting costs no database round trips;
 * the one whose turn it is then takes the store's accounting lease (a row with an expiry, renewed
 * while the work runs), which other processes respect. A lease holds no database connection while
 * accounting answers, so it works the same through PgBouncer in transaction pooling, and a slow
 * accounting system never ties up the pool; a process that dies mid-work leaves a lease that
 * expires after `ttlMs`.
 */
export class AccountingLocks {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly options: { ttlMs?: number; logger?: Logger } = {}) {}

  async run<T>(
    pool: pg.Pool,
    storeId: string,
    waitMs: number,
    work: () => Promise<T>,
    /** more leases of the store to hold with it (an order's invoicing, src/orders/order-locks.ts) */
    extraLeases: readonly string[] = [],
  ): Promise<T | typeof BUSY> {
    const started = Date.now();
    const before = this.tails.get(storeId) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.tails.set(storeId, mine);
    try {
      if (!(await settlesWithin(before, waitMs))) return BUSY;
      const leases = await takeLeases(pool, storeId, [ACCOUNTING_LEASE, ...extraLeases], {
        ttlMs: this.options.ttlMs ?? DEFAULT_TTL_MS,
        waitMs: waitMs - (Date.now() - started),
        onLost: () =>
          this.options.logger?.error(
            { storeId },
            "accounting lease expired while its work ran (the database was out of reach): another process may have started on the store",
          ),
      });
      if (leases === BUSY) return BUSY;
      try {
        return await work();
      } finally {
        await leases.release();
      }
    } finally {
      // `done` exists once `before` settled; a caller that gave up releases its turn as soon as it comes
      void before.then(() => done());
      void mine.then(() => {
        if (this.tails.get(storeId) === mine) this.tails.delete(storeId);
      });
    }
  }
}

/**
 * How long an accounting lease lasts unless renewed (every third of it): a process that dies
 * mid-work keeps the store's accounting operations waiting this long at most.
 */
export const DEFAULT_TTL_MS = 30_000;

/** Whether `promise` settles within `waitMs` (it is not stopped when it does not). */
export async function settlesWithin(promise: Promise<unknown>, waitMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, waitMs))));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
