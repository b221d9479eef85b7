/**
 * How a store's checkouts go to PostgreSQL from this process: in turns, at most `perStore` of a
 * store at once, the others waiting here in arrival order. A store's orders queue on its order
 * counter (and a hot item's on its lock) from their number to COMMIT whatever happens: sent all at
 * once, they do that waiting inside PostgreSQL, where every waiter costs CPU (lock waits and
 * wake-ups, WAL insertion). A turn is one checkout (`run`) or a batch (`inBatch`): every checkout
 * that arrives while the store's turns are taken joins the next batch, up to `maxBatch`, and goes
 * with it in one call, so that a busy store pays for one transaction, one commit and one take of
 * its counter per batch instead of per order; a lone checkout goes at once, as a batch of one
 * (bench/results/history.md, "issue 20: batches", for the numbers). Orders of different stores do
 * not wait for each other here.
 */
export class CheckoutTurns {
  private readonly stores = new Map<string, StoreTurns>();

  constructor(
    readonly perStore: number,
    readonly maxBatch = CHECKOUT_BATCH_MAX,
  ) {}

  /** Runs `checkout` once fewer than `perStore` turns of `storeId` are running. */
  run<T>(storeId: string, checkout: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue(storeId, this.turnsOf(storeId), {
        size: () => 1,
        start: async () => {
          try {
            resolve(await checkout());
          } catch (error) {
            reject(error);
          }
        },
      });
    });
  }

  /**
   * Adds `entry` to the next batch of `storeId` and answers what `checkout` settled for it. The
   * batch runs in the store's next free turn, with every entry that joined it until then (at most
   * `maxBatch`; the next ones open another batch): `checkout(entries)` answers one settled result
   * per entry, in the order given, or throws, which fails every entry of the batch. The batch
   * runs the `checkout` of the call that opened it: every caller passes the same one.
   */
  inBatch<T, R>(storeId: string, entry: T, checkout: (entries: T[]) => Promise<PromiseSettledResult<R>[]>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const turns = this.turnsOf(storeId);
      const open = turns.open;
      if (open && open.entries.length < this.maxBatch) {
        open.entries.push({ entry, resolve, reject });
        return;
      }
      const batch: Batch = { entries: [{ entry, resolve, reject }] };
      turns.open = batch;
      this.enqueue(storeId, turns, {
        size: () => batch.entries.length,
        start: async () => {
          if (turns.open === batch) turns.open = undefined; // closed: later arrivals open the next batch
          const waiting = batch.entries as Waiting<T, R>[];
          try {
            const results = await checkout(waiting.map((w) => w.entry));
            if (results.length !== waiting.length) throw new Error(`a batch of ${waiting.length} checkouts answered ${results.length}`);
            results.forEach((result, i) => (result.status === "fulfilled" ? waiting[i]!.resolve(result.value) : waiting[i]!.reject(result.reason)));
          } catch (error) {
            for (const w of waiting) w.reject(error);
          }
        },
      });
    });
  }

  /** How many checkouts are waiting for their turn, over all stores. */
  get waiting(): number {
    let waiting = 0;
    for (const turns of this.stores.values()) for (const turn of turns.queue) waiting += turn.size();
    return waiting;
  }

  private turnsOf(storeId: string): StoreTurns {
    let turns = this.stores.get(storeId);
    if (!turns) this.stores.set(storeId, (turns = { running: 0, queue: [] }));
    return turns;
  }

  private enqueue(storeId: string, turns: StoreTurns, turn: Turn) {
    turns.queue.push(turn);
    this.next(storeId, turns);
  }

  /** Starts the store's waiting turns while it has turns free. */
  private next(storeId: string, turns: StoreTurns) {
    while (turns.running < this.perStore && turns.queue.length > 0) {
      const turn = turns.queue.shift()!;
      turns.running++;
      void turn.start().finally(() => {
        turns.running--;
        // a store with nothing running or waiting keeps no entry: memory follows the stores busy now
        if (turns.running === 0 && turns.queue.length === 0) this.stores.delete(storeId);
        else this.next(storeId, turns);
      });
    }
  }
}

/**
 * The most checkouts one batch carries. Larger batches cost PostgreSQL less per order (one commit,
 * one take of the counter, the items locked once) but hold their items longer: past a few dozen,
 * two batches of a store in flight share an item more often than not and run one after the other.
 * At 256 shoppers, 2 batches in flight: a hot item did best at 128, a store of 10,000 items at
 * 32-64 (bench/results/history.md, "issue 20: batches").
 */
export const CHECKOUT_BATCH_MAX = 64;

type Waiting<T = unknown, R = unknown> = { entry: T; resolve: (value: R) => void; reject: (reason: unknown) => void };
type Batch = { entries: Waiting<any, any>[] };
/** A turn waiting in a store's queue: how many checkouts it carries, and what runs it (it never throws). */
type Turn = { size: () => number; start: () => Promise<void> };
/** A store's turns: how many are running, those waiting, and the batch still taking checkouts (waiting too). */
type StoreTurns = { running: number; queue: Turn[]; open?: Batch };
