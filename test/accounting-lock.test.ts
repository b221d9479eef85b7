import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { AccountingLocks, BUSY } from "../src/accounting/accounting-lock.ts";
import { openDatabase } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { databaseUrl } from "./support/harness.ts";

const db = openDatabase(databaseUrl(), { poolSize: 6, logger: createLogger("silent") });
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
    expect(await locks.run(db.pool, randomUUID(), 50, async () => "ran")).toBe("ran");
    await long;
    expect(await locks.run(db.pool, storeId, 50, async () => "ran")).toBe("ran");
  });

  it("holds at most maxHolders connections at once, whatever the number of stores", async () => {
    const locks = new AccountingLocks(2);
    const { most, results } = await mostAtOnce(6, 30, (work) => locks.run(db.pool, randomUUID(), 5_000, work));
    expect(most).toBe(2);
    expect(results).not.toContain(BUSY);
  });
});
