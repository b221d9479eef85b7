import type pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { transactionRetriesTotal } from "../src/observability/metrics.ts";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import {
  changeStatus,
  gql,
  gqlData,
  newItem,
  placeOrder,
  startTestServer,
  stockOf,
  storesWithBalancedLedgers,
  type TestServer,
  type TestStore,
} from "./support/harness.ts";
import { eventually } from "./support/wait.ts";

/**
 * The one global lock order (src/stock/stock-ledger.ts): a store's items in id order, then its
 * order rows. Switching accounting sync off locks every item of the store, then the orders that
 * hold units; cancelling and invoicing lock the order's items, then the order. Here each race is
 * set up so that it deadlocks when a transaction takes the order first: the test holds the
 * store's last item, so that sync-off holds the first one and waits; then the cancel (or the
 * invoice) of an order of the first item starts and waits too; then the test lets go. No
 * transaction may be aborted as a deadlock (transaction_retries_total{code="40P01"}), and every
 * unit is counted once.
 */

let server: TestServer;
let emulator: AccountingEmulator;
const store = storesWithBalancedLedgers(() => server);

beforeAll(async () => {
  server = await startTestServer({ accounting: { lockWaitMs: 10_000 } });
  emulator = await AccountingEmulator.start();
});
afterAll(async () => {
  await emulator.settled();
  await server.app.accountingWebhooks.idle();
  await emulator.close();
  await server.close();
});
afterEach(async () => {
  await emulator.settled();
  await server.app.accountingWebhooks.idle();
});

const deadlocks = async () => (await transactionRetriesTotal.get()).values.find((value) => value.labels.code === "40P01")?.value ?? 0;

/** A store with sync on and two synced items, in id order; `first` has 10 units. */
async function syncedStore() {
  const s = await store();
  const items = [];
  for (const sku of ["LOCK-A", "LOCK-B"]) {
    const reference = `${sku}-${s.slug}`;
    emulator.addItem({ reference, counts: { "1": 10, "2": 0 } });
    items.push(await newItem(server, s, { sku: reference, quantity: 0 }));
  }
  items.sort((a, b) => a.id.localeCompare(b.id));
  const settings = `... on InventorySettings { accountingSync } ... on OperationError { code message }`;
  await gqlData(
    server.url,
    `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { ${settings} } }`,
    { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } },
    s.token,
  );
  const on = await gqlData(server.url, `mutation { updateInventorySettings(input: { accountingSync: true }) { ${settings} } }`, {}, s.token);
  expect(on.updateInventorySettings).toEqual({ accountingSync: true });
  return { s, first: items[0]!, last: items[1]! };
}

const switchSyncOff = (s: TestStore) =>
  gql(server.url, `mutation { updateInventorySettings(input: { accountingSync: false }) { ... on InventorySettings { accountingSync } } }`, {}, s.token);

/** The backends waiting on a lock that one of `pids` holds. */
async function waitingOn(pids: number[]) {
  const { rows } = await server.db.pool.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pg_blocking_pids(pid) && $1::int[]",
    [pids],
  );
  return rows.map((row) => row.pid);
}

/**
 * Holds `last` locked while sync-off starts (it locks `first`, then waits), then starts `race`
 * and waits until it waits on sync-off; then lets go. Answers sync-off's and the race's answers.
 */
async function raceWithSyncOff<T>(s: TestStore, last: { id: string }, race: () => Promise<T>) {
  const holder: pg.PoolClient = await server.db.pool.connect();
  try {
    await holder.query("BEGIN");
    await holder.query("SELECT 1 FROM items WHERE store_id = $1 AND id = $2 FOR UPDATE", [s.id, last.id]);
    const holderPid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const off = switchSyncOff(s);
    let syncOff: number[] = [];
    await eventually(async () => (syncOff = await waitingOn([holderPid])).length > 0, "sync-off waiting on the held item");
    const raced = race();
    await eventually(async () => (await waitingOn(syncOff)).length > 0, "the race waiting on sync-off");
    await holder.query("COMMIT");
    return { off: await off, raced: await raced };
  } finally {
    await holder.query("ROLLBACK").catch(() => {});
    holder.release();
  }
}

describe("switching accounting sync off races cancels and invoices without a deadlock", () => {
  it("sync-off against a cancel of an order of the store's first item", async () => {
    const { s, first, last } = await syncedStore();
    const order = await placeOrder(server, s, [{ itemId: first.id, quantity: 3 }]);
    expect(await stockOf(server.db, s.id, first.id)).toMatchObject({ quantity: 10, committedQuantity: 3 });
    const before = await deadlocks();

    const { off, raced } = await raceWithSyncOff(s, last, () => changeStatus(server, s, order.id, "CANCELLED"));
    expect(off.data?.updateInventorySettings).toEqual({ accountingSync: false });
    expect(raced).toMatchObject({ status: "CANCELLED" });
    expect(await deadlocks()).toBe(before);
    // sync-off deducted the 3 held units, the cancel gave them back: each once
    expect(await stockOf(server.db, s.id, first.id)).toMatchObject({ quantity: 10, committedQuantity: 0 });
  });

  it("sync-off against an invoice of an order of the store's first item", async () => {
    const { s, first, last } = await syncedStore();
    const order = await placeOrder(server, s, [{ itemId: first.id, quantity: 2 }]);
    const before = await deadlocks();

    const invoice = () =>
      gqlData(server.url, `mutation($id: ID!) { invoiceOrder(orderId: $id) { __typename ... on Order { invoice { number } } } }`, { id: order.id }, s.token);
    const { off, raced } = await raceWithSyncOff(s, last, invoice);
    expect(off.data?.updateInventorySettings).toEqual({ accountingSync: false });
    expect(raced.invoiceOrder).toMatchObject({ __typename: "Order", invoice: { number: expect.any(String) } });
    expect(await deadlocks()).toBe(before);
    // the 2 held units are deducted once: by sync-off, which ended the hold before the invoice was recorded
    expect(await stockOf(server.db, s.id, first.id)).toMatchObject({ quantity: 8, committedQuantity: 0 });
  });
});
