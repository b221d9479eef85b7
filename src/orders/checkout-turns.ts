import pLimit, { type LimitFunction } from "p-limit";

/**
 * How many checkouts of one store this process has in PostgreSQL at once; the others wait their
 * turn here, in arrival order. A store's orders queue on its order counter (and a hot item's on
 * its lock) from their number to COMMIT whatever happens: sent all at once, they do that waiting
 * inside PostgreSQL, where every waiter costs CPU (lock waits and wake-ups, WAL insertion). On
 * the bench's 2 cores place_order() cost 1.0 ms of PostgreSQL CPU per order with 2 at once and
 * 1.7 ms with 16; the service did most orders with 4 per store (bench/results/history.md).
 * Orders of different stores do not wait for each other here.
 */
export class CheckoutTurns {
  private readonly stores = new Map<string, LimitFunction>();

  constructor(readonly perStore: number) {}

  /** Runs `checkout` once fewer than `perStore` checkouts of `storeId` are running. */
  run<T>(storeId: string, checkout: () => Promise<T>): Promise<T> {
    let limit = this.stores.get(storeId);
    if (!limit) this.stores.set(storeId, (limit = pLimit(this.perStore)));
    return limit(checkout).finally(() => {
      // a store with nothing running or waiting keeps no entry: memory follows the stores busy now
      if (limit.activeCount === 0 && limit.pendingCount === 0) this.stores.delete(storeId);
    });
  }

  /** How many checkouts are waiting for their turn, over all stores. */
  get waiting(): number {
    let waiting = 0;
    for (const limit of this.stores.values()) waiting += limit.pendingCount;
    return waiting;
  }
}
