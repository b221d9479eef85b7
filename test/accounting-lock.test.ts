import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { AccountingLocks, BUSY } from "../src/accounting/accounting-lock.ts";
import { holdLeaseInTransaction } from "../src/db/lease.ts";
import { openDatabase } from "../src/db/pool.ts";
import { inTransaction } from "../src/db/transaction.ts";
import { createLogger } from "../src/logger.ts";
import { LocalStockEvents } from "../src/realtime/local-events.ts";
import { orderInvoicingKey } from "../src/orders/order-locks.ts";
import { databaseUrl } from "./support/harness.ts";

const logger = createLogger("silent");
const db = openDatabase(databaseUrl(), { poolSize: 6, logger });
afterAll(() => db.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `count` works of `ms` each through `run` at once; answers the most that overlapped. */
async function mostAtOnce(count: number, ms: number, run: (work: () => Promise<void>) => Promise<unknown>) {
  let running = 0;
  let most = 0;
  const results = await Promise.all(
    Array.from({ length: count }, () =>
      run(async () => {
        most = Math.max(most, ++running);
        await sleep(ms);
        running--;
      }),
    ),
  );
  return { most, results };
}

const leasesOf = async (storeId: string) =>
  (await db.pool.query(`SELECT name FROM leases WHERE store_id = $1 ORDER BY name`, [storeId])).rows.map((row) => row.name);

describe("one accounting operation per store at a time", () => {
  it("queues the operations of one store, in this process and across processes", async () => {
    const storeId = randomUUID();
    const processes = [new AccountingLocks(), new AccountingLocks()];
    let n = 0;
    const { most, results } = await mostAtOnce(6, 30, (work) => processes[n++ % 2]!.run(db.pool, storeId, 5_000, work));
    expect(most).toBe(1);
    expect(results).not.toContain(BUSY);
  });

  it("answers BUSY to one that cannot get its turn in time, and lets other stores through", async () => {
    const locks = new AccountingLocks();
    const storeId = randomUUID();
    const long = locks.run(db.pool, storeId, 1_000, () => sleep(300));
    expect(await locks.run(db.pool, storeId, 50, async () => "ran")).toBe(BUSY);
    // another process: it waits on the lease, not on this process's queue
    expect(await new AccountingLocks().run(db.pool, storeId, 50, async () => "ran")).toBe(BUSY);
    expect(await locks.run(db.pool, randomUUID(), 50, async () => "ran")).toBe("ran");
    await long;
    expect(await locks.run(db.pool, storeId, 50, async () => "ran")).toBe("ran");
  });

  it("holds no database connection while the work waits on accounting: many stores at once on a pool of one", async () => {
    const one = openDatabase(databaseUrl(), { poolSize: 1, logger });
    try {
      const locks = new AccountingLocks();
      const results = await Promise.all(
        Array.from({ length: 4 }, () =>
          locks.run(one.pool, randomUUID(), 5_000, async () => {
            await sleep(100); // the call to accounting
            return (await one.pool.query("SELECT 1 AS written")).rows[0].written; // what the work writes afterwards
          }),
        ),
      );
      expect(results).toEqual([1, 1, 1, 1]);
    } finally {
      await one.close();
    }
  });

  it("leaves no lease behind once the work ends, also when it throws", async () => {
    const locks = new AccountingLocks();
    const storeId = randomUUID();
    const during = await locks.run(db.pool, storeId, 1_000, () => leasesOf(storeId), [orderInvoicingKey("o-1")]);
    expect(during).toEqual(["accounting", "invoicing:o-1"]);
    await expect(locks.run(db.pool, storeId, 1_000, () => Promise.reject(new Error("accounting said no")))).rejects.toThrow("accounting said no");
    expect(await leasesOf(storeId)).toEqual([]);
  });

  it("renews the lease while the work runs, so a long operation keeps its store", async () => {
    const storeId = randomUUID();
    const long = new AccountingLocks({ ttlMs: 300 }).run(db.pool, storeId, 1_000, () => sleep(1_200));
    await sleep(700); // past two lease times
    expect(await new AccountingLocks().run(db.pool, storeId, 100, async () => "ran")).toBe(BUSY);
    await long;
    expect(await new AccountingLocks().run(db.pool, storeId, 100, async () => "ran")).toBe("ran");
  });

  it("a process that died mid-work leaves a lease that expires: the next operation waits for it, then runs", async () => {
    const storeId = randomUUID();
    // what a process killed while it waited on accounting leaves behind: its lease, never renewed again
    await db.pool.query(`INSERT INTO leases (store_id, name, holder, expires_at) VALUES ($1, 'accounting', $2, now() + interval '600 milliseconds')`, [
      storeId,
      randomUUID(),
    ]);
    const locks = new AccountingLocks();
    expect(await locks.run(db.pool, storeId, 100, async () => "ran")).toBe(BUSY);
    const started = Date.now();
    expect(await locks.run(db.pool, storeId, 5_000, async () => "ran")).toBe("ran");
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe("an order's invoicing lease and its cancellation", () => {
  it("a cancellation's transaction keeps an invoice from starting until it ends; a live invoice refuses the cancellation", async () => {
    const storeId = randomUUID();
    const invoicing = orderInvoicingKey(randomUUID());
    const events = new LocalStockEvents(logger);
    const steps: string[] = [];
    let invoice!: Promise<unknown>;
    await inTransaction(db.pool, events, async (tx) => {
      expect(await holdLeaseInTransaction(tx, storeId, invoicing)).toBe(true);
      invoice = new AccountingLocks().run(db.pool, storeId, 5_000, async () => steps.push("invoice"), [invoicing]);
      await sleep(300);
      steps.push("cancellation committed");
    });
    await invoice;
    expect(steps).toEqual(["cancellation committed", "invoice"]);

    // while an invoice holds the lease, a cancellation is refused, and nothing is left behind it
    await new AccountingLocks().run(
      db.pool,
      storeId,
      5_000,
      async () => {
        const held = await inTransaction(db.pool, events, (tx) => holdLeaseInTransaction(tx, storeId, invoicing));
        expect(held).toBe(false);
      },
      [invoicing],
    );
    expect(await inTransaction(db.pool, events, (tx) => holdLeaseInTransaction(tx, storeId, invoicing))).toBe(true);
    expect(await leasesOf(storeId)).toEqual([]);
  });
});
