import type pg from "pg";
import { stockEventsPublishedTotal, transactionRetriesTotal } from "../observability/metrics.ts";
import type { StockEvent, StockEventPublisher } from "../realtime/stock-events.ts";
import type { Sql } from "./sql.ts";

/** A transaction in progress: its SQL, and the stock events to publish once it commits. */
export type Tx = {
  /** Runs one statement, written with the `sql` tag of ./sql.ts. */
  query<R extends pg.QueryResultRow = any>(statement: Sql): Promise<pg.QueryResult<R>>;
  readonly events: StockEvent[];
  /** Ends the transaction with ROLLBACK and makes `inTransaction` return `value`. */
  rollbackWith<V>(value: V): never;
};

class RollbackWith {
  constructor(readonly value: unknown) {}
}

// serialization_failure and deadlock_detected: the transaction did nothing and may simply run again.
const RETRYABLE = new Set(["40001", "40P01"]);
export const MAX_ATTEMPTS = 4;

/**
 * Runs `work` in a READ COMMITTED transaction on one pooled connection. Commits when it returns,
 * rolls back when it throws or calls `tx.rollbackWith`, retries a bounded number of times on
 * serialization and deadlock failures, and hands the collected stock events to `publisher` only
 * after COMMIT succeeded, so no subscriber ever hears of a change that did not happen.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  publisher: StockEventPublisher,
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  return retried(publisher, async (events) => {
    const client = await pool.connect();
    const tx: Tx = {
      // pg takes the statement as a query config: its `text` with numbered parameters and `values`
      query: (statement: Sql) => client.query(statement),
      events,
      rollbackWith(value) {
        throw new RollbackWith(value);
      },
    };
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(tx);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      if (!(error instanceof RollbackWith)) throw error;
      events.length = 0; // nothing happened: nothing to tell
      return error.value as T;
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: drop it instead of reusing it.
      client.release(broken);
    }
  });
}

/**
 * Runs `work`, which sends exactly one statement: its own transaction, committed by PostgreSQL as
 * it ends, so no round trip to this process holds its locks (the checkout, a server-side
 * function). Retried like inTransaction; the stock events `work` queues are published once the
 * statement has returned, that is committed.
 */
export async function inOneStatement<T>(
  pool: pg.Pool,
  publisher: StockEventPublisher,
  work: (statement: Pick<Tx, "query" | "events">) => Promise<T>,
): Promise<T> {
  return retried(publisher, (events) => work({ query: (statement: Sql) => pool.query(statement), events }));
}

/** One attempt after another while they fail with a retryable error; the events of the one that succeeded are published. */
async function retried<T>(publisher: StockEventPublisher, attempt: (events: StockEvent[]) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    const events: StockEvent[] = [];
    try {
      const result = await attempt(events);
      if (events.length > 0) {
        publisher.publish(events);
        stockEventsPublishedTotal.inc(events.length);
      }
      return result;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code && RETRYABLE.has(code) && n < MAX_ATTEMPTS) {
        transactionRetriesTotal.inc({ code });
        await sleep(5 * n + Math.random() * 10 * n);
        continue;
      }
      throw error;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
