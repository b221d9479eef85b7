import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import {
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

/**
 * updateInventorySettings changes the accounting switch and the out-of-stock behaviour together
 * or not at all: here the behaviour's change fails (a trigger refuses it, as a fault would), and
 * the switch it came with must not stay behind.
 */
let server: TestServer;
let emulator: AccountingEmulator;
const store = storesWithBalancedLedgers(() => server);

beforeAll(async () => {
  server = await startTestServer();
  emulator = await AccountingEmulator.start();
});
afterAll(async () => {
  await emulator.settled();
  await server.app.accountingWebhooks.idle();
  await emulator.close();
  await server.close();
});

const SETTINGS = `__typename ... on InventorySettings { accountingSync outOfStockBehavior } ... on OperationError { code message }`;
const update = (s: TestStore, input: Record<string, unknown>) =>
  gql(server.url, `mutation($input: UpdateInventorySettingsInput!) { updateInventorySettings(input: $input) { ${SETTINGS} } }`, { input }, s.token);

/** A store connected to the emulator, with one synced item of 10 units. */
async function connectedStore() {
  const s = await store();
  const reference = `ATOM-${s.slug}`;
  emulator.addItem({ reference, counts: { "1": 10, "2": 0 } });
  const item = await newItem(server, s, { sku: reference, quantity: 0 });
  await gqlData(
    server.url,
    `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { ${SETTINGS} } }`,
    { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } },
    s.token,
  );
  return { s, item };
}

/** Makes every change of the store's out-of-stock behaviour fail, until the returned function is called. */
async function refuseBehaviourChanges(s: TestStore) {
  const name = `settings_test_refuse_${s.id.replaceAll("-", "")}`;
  await server.db.pool.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`);
  await server.db.pool.query(
    `CREATE TRIGGER ${name} BEFORE UPDATE ON stores FOR EACH ROW
     WHEN (NEW.id = '${s.id}' AND NEW.out_of_stock_behavior IS DISTINCT FROM OLD.out_of_stock_behavior) EXECUTE FUNCTION ${name}()`,
  );
  return async () => {
    await server.db.pool.query(`DROP TRIGGER ${name} ON stores`);
    await server.db.pool.query(`DROP FUNCTION ${name}()`);
  };
}

async function storeRow(s: TestStore) {
  const { rows } = await server.db.pool.query(
    `SELECT accounting_sync AS "accountingSync", out_of_stock_behavior AS "outOfStockBehavior" FROM stores WHERE id = $1`,
    [s.id],
  );
  return rows[0];
}

const movements = async (s: TestStore, reason: string) =>
  (await server.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM stock_movements WHERE store_id = $1 AND reason = $2", [s.id, reason])).rows[0]!.n;

describe("updateInventorySettings is one change: the switch and the behaviour, or neither", () => {
  it("switching sync off with HIDE, the behaviour refused: sync stays on, the order keeps holding its units", async () => {
    const { s, item } = await connectedStore();
    expect((await update(s, { accountingSync: true })).data?.updateInventorySettings).toMatchObject({ accountingSync: true });
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 3 }]);
    expect(order.__typename).toBe("Order");
    const held = await stockOf(server.db, s.id, item.id);
    expect(held).toMatchObject({ quantity: 10, committedQuantity: 3 });

    const allow = await refuseBehaviourChanges(s);
    try {
      const answer = await update(s, { accountingSync: false, outOfStockBehavior: "HIDE" });
      expect(answer.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    } finally {
      await allow();
    }
    expect(await storeRow(s)).toEqual({ accountingSync: true, outOfStockBehavior: "MARK_SOLD_OUT" });
    expect(await stockOf(server.db, s.id, item.id)).toEqual(held);
    expect(await movements(s, "SYNC_DISABLED")).toBe(0);
    const { rows } = await server.db.pool.query("SELECT holds_committed FROM orders WHERE store_id = $1 AND id = $2", [s.id, order.id]);
    expect(rows[0].holds_committed).toBe(true);

    // without the fault the same request does both
    const done = await update(s, { accountingSync: false, outOfStockBehavior: "HIDE" });
    expect(done.data?.updateInventorySettings).toEqual({ __typename: "InventorySettings", accountingSync: false, outOfStockBehavior: "HIDE" });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 7, committedQuantity: 0 });
  });

  it("switching sync on with HIDE, the behaviour refused: sync stays off and no count is taken from accounting", async () => {
    const { s, item } = await connectedStore();
    const before = await stockOf(server.db, s.id, item.id);

    const allow = await refuseBehaviourChanges(s);
    try {
      const answer = await update(s, { accountingSync: true, outOfStockBehavior: "HIDE" });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.updateInventorySettings).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_UNAVAILABLE" });
    } finally {
      await allow();
    }
    expect(await storeRow(s)).toEqual({ accountingSync: false, outOfStockBehavior: "MARK_SOLD_OUT" });
    expect(await stockOf(server.db, s.id, item.id)).toEqual(before);
    expect(await movements(s, "ACCOUNTING_SYNC")).toBe(0);

    const done = await update(s, { accountingSync: true, outOfStockBehavior: "HIDE" });
    expect(done.data?.updateInventorySettings).toEqual({ __typename: "InventorySettings", accountingSync: true, outOfStockBehavior: "HIDE" });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 10 });
  });
});
