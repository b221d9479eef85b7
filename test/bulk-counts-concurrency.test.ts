import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db/pool.ts";
import { createLogger } from "../src/logger.ts";
import { insertBulkItems } from "./support/bulk-items.ts";
import { databaseUrl, gql, newStore, PLACE_ORDER, unbalancedLedgers, type TestStore } from "./support/harness.ts";
import { createOwnDatabase, type OwnDatabase } from "./support/own-services.ts";
import { startServerProcess, type ServerProcess } from "./support/processes.ts";
import { seededRandom } from "./support/chaos.ts";

/**
 * Bulk counts take the one global lock order (items in id order), as orders do: bulk calls and
 * orders racing over two service processes never deadlock. PostgreSQL counts every deadlock it
 * breaks in pg_stat_database, even those the service's retries then hide, so the test runs on a
 * database of its own and reads that count.
 */

const ITEMS = 40;
const ROUNDS = 4;

let own: OwnDatabase;
let db: Database;
let processes: ServerProcess[] = [];

beforeAll(async () => {
  own = await createOwnDatabase(databaseUrl(), "inventory_bulk_race");
  processes = await Promise.all([1, 2].map(() => startServerProcess({ DATABASE_URL: own.url, REDIS_URL: undefined })));
  db = openDatabase(own.url, { poolSize: 2, logger: createLogger("silent") });
});

afterAll(async () => {
  await Promise.all(processes.map((process) => process.stop()));
  await db?.close();
  await own?.drop();
});

const SET_QUANTITIES = `mutation($input: SetItemQuantitiesInput!) {
  setItemQuantities(input: $input) { __typename ... on BulkQuantitiesSet { changed } ... on BulkQuantitiesRefused { errors { index code } } }
}`;

async function deadlocks(): Promise<number> {
  const { rows } = await db.pool.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`);
  return Number(rows[0].deadlocks);
}

describe("bulk counts and orders racing over two processes", () => {
  it("never deadlock: every bulk call and every order goes through, and the ledger adds up", async () => {
    const random = seededRandom(Number(process.env.CHAOS_SEED ?? 2211));
    const store: TestStore = await newStore(db);
    const itemIds = await insertBulkItems(db.pool, store.id, ITEMS, 1_000);
    const before = await deadlocks();
    const via = (n: number) => processes[n % processes.length]!.url;
    const answers: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // each bulk call names every item, in an order of its own: an unordered lock taking would deadlock
      const bulk = Array.from({ length: 6 }, (_, n) => {
        const entries = random.shuffle([...itemIds]).map((itemId) => ({ itemId, quantity: random.int(500, 1_000) }));
        return gql(via(n), SET_QUANTITIES, { input: { entries, note: `ronda ${round}` } }, store.token).then((r) =>
          answers.push(r.errors ? `errors ${JSON.stringify(r.errors)}` : r.data.setItemQuantities.__typename),
        );
      });
      const orders = Array.from({ length: 30 }, (_, n) => {
        const lines = random.shuffle([...itemIds]).slice(0, 2 + (n % 4)).map((itemId) => ({ itemId, quantity: 1 }));
        return gql(via(n + 1), PLACE_ORDER, { store: store.slug, input: { lines } }).then((r) =>
          answers.push(r.errors ? `errors ${JSON.stringify(r.errors)}` : r.data.placeOrder.__typename),
        );
      });
      await Promise.all([...bulk, ...orders]);
    }
    expect(answers.filter((answer) => answer !== "BulkQuantitiesSet" && answer !== "Order")).toEqual([]);
    expect(answers.filter((answer) => answer === "BulkQuantitiesSet")).toHaveLength(6 * ROUNDS);
    expect(await unbalancedLedgers(db, store.id)).toEqual([]);
    // a backend's statistics reach pg_stat_database when it goes idle or ends: end them all
    await Promise.all(processes.map((process) => process.stop()));
    await db.pool.query(`SELECT pg_stat_clear_snapshot()`);
    expect(await deadlocks()).toBe(before);
  });
});
