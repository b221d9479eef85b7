import type pg from "pg";
import { BUSY, withAdvisoryLocks, type LockKey } from "../db/advisory-lock.ts";

export { BUSY };

// Lock spaces; any constants work as long as every process of the service uses the same ones.
const STORE_ACCOUNTING_SPACE = 727_465_002;
const ORDER_INVOICING_SPACE = 727_465_003;

/** Held while an order's invoice is being issued; a cancellation in that window is refused. */
export const orderInvoicingKey = (orderId: string): LockKey => ({ space: ORDER_INVOICING_SPACE, id: orderId });

/**
 * One accounting operation per store at a time, across processes. A sync, the refresh after a
 * notification and an invoice each read the accounting system and then write what it said; side
 * by side, one could apply a count that the other's write already accounts for (an invoice
 * deducted twice, once by the invoice and once by a refresh that read the lowered count). Callers
 * in this process queue on a promise chain per store, so waiting costs no database connection;
 * the one whose turn it is then takes the store's advisory lock, which other processes respect.
 */
export class AccountingLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(
    pool: pg.Pool,
    storeId: string,
    waitMs: number,
    work: () => Promise<T>,
    extraKeys: readonly LockKey[] = [],
  ): Promise<T | typeof BUSY> {
    const started = Date.now();
    const before = this.tails.get(storeId) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.tails.set(storeId, mine);
    try {
      if (!(await settlesWithin(before, waitMs))) return BUSY;
      const keys = [{ space: STORE_ACCOUNTING_SPACE, id: storeId }, ...extraKeys];
      return await withAdvisoryLocks(pool, keys, waitMs - (Date.now() - started), work);
    } finally {
      // `done` exists once `before` settled; a caller that gave up releases its turn as soon as it comes
      void before.then(() => done());
      void mine.then(() => {
        if (this.tails.get(storeId) === mine) this.tails.delete(storeId);
      });
    }
  }
}

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
