import type pg from "pg";
import { BUSY, withAdvisoryLocks, type LockKey } from "../db/advisory-lock.ts";

export { BUSY };

// A lock space; any constant works as long as every process of the service uses the same one.
const STORE_ACCOUNTING_SPACE = 727_465_002;

/**
 * One accounting operation per store at a time, across processes. A sync, the refresh after a
 * notification and an invoice each read the accounting system and then write what it said; side
 * by side, one could apply a count that the other's write already accounts for (an invoice
 * deducted twice, once by the invoice and once by a refresh that read the lowered count). Callers
 * in this process queue on a promise chain per store, so waiting costs no database connection;
 * the one whose turn it is then takes the store's advisory lock, which other processes respect.
 * A lock holds a connection of its own for as long as the work calls the accounting system, so
 * at most `maxHolders` are held at once: the rest of the pool stays free for the work itself
 * (an invoice issued must always find a connection to be recorded) and for everything else.
 */
export class AccountingLocks {
  private readonly tails = new Map<string, Promise<void>>();
  private holders = 0;
  private readonly waitingHolders: (() => void)[] = [];

  constructor(private readonly maxHolders = 5) {}

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
      if (!(await this.takeHolderSlot(waitMs - (Date.now() - started)))) return BUSY;
      try {
        const keys = [{ space: STORE_ACCOUNTING_SPACE, id: storeId }, ...extraKeys];
        return await withAdvisoryLocks(pool, keys, waitMs - (Date.now() - started), work);
      } finally {
        this.releaseHolderSlot();
      }
    } finally {
      // `done` exists once `before` settled; a caller that gave up releases its turn as soon as it comes
      void before.then(() => done());
      void mine.then(() => {
        if (this.tails.get(storeId) === mine) this.tails.delete(storeId);
      });
    }
  }

  private async takeHolderSlot(waitMs: number): Promise<boolean> {
    if (this.holders < this.maxHolders) {
      this.holders++;
      return true;
    }
    let handOver!: () => void;
    const handedOver = new Promise<void>((resolve) => (handOver = resolve));
    this.waitingHolders.push(handOver);
    if (await settlesWithin(handedOver, waitMs)) return true;
    const index = this.waitingHolders.indexOf(handOver);
    if (index >= 0) this.waitingHolders.splice(index, 1);
    else this.releaseHolderSlot(); // handed over just as the wait ended
    return false;
  }

  /** Hands the slot to the next waiting caller, if any. */
  private releaseHolderSlot() {
    const next = this.waitingHolders.shift();
    if (next) next();
    else this.holders--;
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
