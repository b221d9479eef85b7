import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startReconciliation } from "../src/accounting/reconciliation.ts";
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

let server: TestServer;
let emulator: AccountingEmulator;
const store = storesWithBalancedLedgers(() => server);

beforeAll(async () => {
  server = await startTestServer({
    accounting: { http: { timeoutMs: 1_000, maxAttempts: 3, retryDelayMs: 5 }, lockWaitMs: 3_000 },
  });
});
afterAll(async () => server.close());
beforeEach(async () => (emulator = await AccountingEmulator.start()));
// runs before the ledger check (after-hooks run last-registered first)
afterEach(async () => {
  await notificationsHandled();
  await emulator.close();
});

const RUN = `id status trigger itemsMatched itemsUpdated itemsUnmatched error startedAt finishedAt unmatched { itemId sku reason detail }`;
const SETTINGS = `accountingConnected accountingSync outOfStockBehavior webhookUrl
  mainWarehouse { accountingId name isMain } lastSync { ${RUN} }`;
const SETTINGS_RESULT = `__typename ... on InventorySettings { ${SETTINGS} } ... on OperationError { code message field }`;

async function connect(s: TestStore, token = emulator.token) {
  const data = await gqlData(
    server.url,
    `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) { ${SETTINGS_RESULT} } }`,
    { input: { baseUrl: emulator.baseUrl, email: emulator.email, token } },
    s.token,
  );
  return data.connectAccounting;
}

async function updateSettings(s: TestStore, input: Record<string, unknown>) {
  const data = await gqlData(
    server.url,
    `mutation($input: UpdateInventorySettingsInput!) { updateInventorySettings(input: $input) { ${SETTINGS_RESULT} } }`,
    { input },
    s.token,
  );
  return data.updateInventorySettings;
}

async function syncNow(s: TestStore) {
  const data = await gqlData(
    server.url,
    `mutation { syncInventoryNow { __typename ... on SyncRun { ${RUN} } ... on OperationError { code message } } }`,
    {},
    s.token,
  );
  return data.syncInventoryNow;
}

async function invoice(s: TestStore, orderId: string) {
  const data = await gqlData(
    server.url,
    `mutation($orderId: ID!) { invoiceOrder(orderId: $orderId) {
      __typename ... on Order { id status invoice { accountingId number issuedAt } } ... on OperationError { code message field }
    } }`,
    { orderId },
    s.token,
  );
  return data.invoiceOrder;
}

async function itemAsAdmin(s: TestStore, id: string) {
  const data = await gqlData(
    server.url,
    `query($id: ID!) { item(id: $id) { quantity committedQuantity availableQuantity availability version
      warehouse { accountingId isMain } stockMovements { edges { node { reason delta quantityAfter orderId } } } } }`,
    { id },
    s.token,
  );
  return data.item;
}

/** A store connected to the emulator with sync on, and one synced item holding `quantity`. */
async function syncedStoreWithItem(quantity: number) {
  const s = await store();
  const accountingItem = emulator.addItem({ reference: "BOL-001", counts: { "1": quantity, "2": 50 } });
  const item = await newItem(server, s, { sku: "BOL-001", quantity: 0, price: "120000" });
  await connect(s);
  expect(await updateSettings(s, { accountingSync: true })).toMatchObject({ accountingSync: true });
  return { s, item, accountingItem };
}

async function notificationsHandled() {
  await emulator.settled();
  await server.app.accountingWebhooks.idle();
}

describe("connecting the accounting system", () => {
  it("checks the credentials with one call, stores the token sealed and never returns it", async () => {
    const s = await store();
    const refused = await connect(s, "wrong-token");
    expect(refused).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_UNAVAILABLE" });
    expect(refused.message).toContain("401");
    expect(emulator.requests).toEqual(["GET /company"]);

    const settings = await connect(s);
    expect(settings).toMatchObject({ __typename: "InventorySettings", accountingConnected: true, accountingSync: false });
    expect(settings.webhookUrl).toMatch(new RegExp(`^${server.url}/webhooks/accounting/whk_[0-9a-f]{32}_[\\w-]{43}$`));
    expect(JSON.stringify(settings)).not.toContain(emulator.token);
    const { rows } = await server.db.pool.query("SELECT * FROM accounting_connections WHERE store_id = $1", [s.id]);
    const stored = JSON.stringify(rows[0]) + rows[0].token_sealed.toString("latin1") + rows[0].webhook_secret_sealed.toString("latin1");
    expect(stored).not.toContain(emulator.token);
    expect(stored).not.toContain(settings.webhookUrl.split("/").pop());
  });

  it("switching sync on needs a connected accounting system", async () => {
    const s = await store();
    expect(await updateSettings(s, { accountingSync: true })).toMatchObject({
      __typename: "OperationError",
      code: "ACCOUNTING_NOT_CONNECTED",
      field: "accountingSync",
    });
    expect(await syncNow(s)).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_NOT_CONNECTED" });
  });
});

describe("a sync", () => {
  it("takes the main warehouse's quantity, for items on the second page too; unmatched items keep their count and are reported", async () => {
    emulator.warehouses[0]!.isDefault = false;
    // "Bodega norte" is the accounting default: it maps onto the store's main warehouse (SPEC section 8)
    emulator.warehouses[1]!.isDefault = true;
    const s = await store();
    const matched: { id: string; accountingId: string; expected: number }[] = [];
    for (let n = 1; n <= 35; n++) {
      const sku = `SKU-${String(n).padStart(2, "0")}`;
      const accountingItem = emulator.addItem({ reference: sku, counts: { "1": 1000, "2": n } });
      const item = await newItem(server, s, { name: `Producto ${n}`, sku, quantity: 0 });
      matched.push({ id: item.id, accountingId: accountingItem.id, expected: n });
    }
    emulator.addItem({ reference: "DUP", counts: { "2": 8 } });
    emulator.addItem({ reference: "DUP", counts: { "2": 9 } });
    const noSku = await newItem(server, s, { name: "Sin SKU", quantity: 7 });
    const duplicate = await newItem(server, s, { name: "Duplicado", sku: "DUP", quantity: 4 });
    const missing = await newItem(server, s, { name: "Solo en la tienda", sku: "NOPE", quantity: 2 });
    await connect(s);

    const settings = await updateSettings(s, { accountingSync: true });
    expect(settings).toMatchObject({
      accountingSync: true,
      mainWarehouse: { accountingId: "2", name: "Principal", isMain: true },
      lastSync: { status: "SUCCEEDED", trigger: "SYNC_ENABLED", itemsMatched: 35, itemsUpdated: 35, itemsUnmatched: 3, error: null },
    });
    expect(emulator.requests).toContain("GET /items?start=30&limit=30");
    expect(settings.lastSync.unmatched).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ itemId: noSku.id, reason: "NO_SKU" }),
        expect.objectContaining({ itemId: duplicate.id, sku: "DUP", reason: "DUPLICATE_REFERENCE" }),
        expect.objectContaining({ itemId: missing.id, sku: "NOPE", reason: "NO_ACCOUNTING_ITEM" }),
      ]),
    );
    for (const { id, expected } of matched) expect((await stockOf(server.db, s.id, id)).quantity).toBe(expected);
    expect((await stockOf(server.db, s.id, noSku.id)).quantity).toBe(7);
    expect((await stockOf(server.db, s.id, duplicate.id)).quantity).toBe(4);
    expect((await stockOf(server.db, s.id, missing.id)).quantity).toBe(2);

    const last = await itemAsAdmin(s, matched[34]!.id);
    expect(last.warehouse).toEqual({ accountingId: "2", isMain: true });
    // accounting "Principal" (1) became a warehouse of the store that does not fulfil online orders: its
    // level took its count too, in the same statement, without changing what the storefront sells
    expect(last.stockMovements.edges.map((edge: any) => edge.node)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: "ACCOUNTING_SYNC", delta: 35, quantityAfter: 35 }),
        expect.objectContaining({ reason: "ACCOUNTING_SYNC", delta: 1000, quantityAfter: 1000 }),
      ]),
    );
    expect((await itemAsAdmin(s, noSku.id)).warehouse).toEqual({ accountingId: "2", isMain: true });
  });

  it("without isDefault the first warehouse is the main one; without per-warehouse counts the item's total is used", async () => {
    emulator.omitAssumedFields = true;
    const s = await store();
    emulator.addItem({ reference: "A", counts: { "1": 4, "2": 6 } });
    const item = await newItem(server, s, { sku: "A" });
    await connect(s);
    const settings = await updateSettings(s, { accountingSync: true });
    expect(settings.mainWarehouse).toMatchObject({ accountingId: "1" });
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(10);
  });

  it('"Ocultar producto": an item with nothing in the main warehouse is hidden', async () => {
    const s = await store();
    emulator.addItem({ reference: "EMPTY", counts: { "1": 0, "2": 5 } });
    emulator.addItem({ reference: "FULL", counts: { "1": 5 } });
    const empty = await newItem(server, s, { name: "Vacío", sku: "EMPTY", quantity: 3 });
    const full = await newItem(server, s, { name: "Lleno", sku: "FULL", quantity: 0 });
    await connect(s);
    expect(await updateSettings(s, { accountingSync: true, outOfStockBehavior: "HIDE" })).toMatchObject({
      outOfStockBehavior: "HIDE",
      accountingSync: true,
    });
    expect(await stockOf(server.db, s.id, empty.id)).toMatchObject({ quantity: 0, availability: "HIDDEN" });
    expect(await stockOf(server.db, s.id, full.id)).toMatchObject({ quantity: 5, availability: "IN_STOCK" });
    const listed = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { items { edges { node { id } } } } }`, {
      slug: s.slug,
    });
    expect(listed.store.items.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([full.id]);
  });

  it('"Sincronizar ahora" applies what changed in accounting and lists its runs newest first', async () => {
    const { s, item, accountingItem } = await syncedStoreWithItem(10);
    emulator.autoNotify = false;
    expect(await syncNow(s)).toMatchObject({ __typename: "SyncRun", status: "SUCCEEDED", trigger: "MANUAL", itemsUpdated: 0 });
    const versionBefore = (await stockOf(server.db, s.id, item.id)).version;
    await emulator.setCount(accountingItem.id, "1", 6);
    expect(await syncNow(s)).toMatchObject({ status: "SUCCEEDED", itemsMatched: 1, itemsUpdated: 1 });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 6, version: versionBefore + 1 });

    const runs = await gqlData(server.url, `{ syncRuns(first: 5) { trigger status } }`, {}, s.token);
    expect(runs.syncRuns).toEqual([
      { trigger: "MANUAL", status: "SUCCEEDED" },
      { trigger: "MANUAL", status: "SUCCEEDED" },
      { trigger: "SYNC_ENABLED", status: "SUCCEEDED" },
    ]);
  });

  it("while sync is on the store's own stock mutations answer INVENTORY_MANAGED_BY_ACCOUNTING", async () => {
    const { s, item } = await syncedStoreWithItem(10);
    for (const [mutation, input] of [
      ["setItemQuantity", { itemId: item.id, quantity: 3 }],
      ["adjustItemQuantity", { itemId: item.id, delta: 1 }],
    ] as const) {
      const name = mutation === "setItemQuantity" ? "SetItemQuantityInput" : "AdjustItemQuantityInput";
      const data = await gqlData(
        server.url,
        `mutation($input: ${name}!) { ${mutation}(input: $input) { __typename ... on OperationError { code } } }`,
        { input },
        s.token,
      );
      expect(data[mutation]).toEqual({ __typename: "OperationError", code: "INVENTORY_MANAGED_BY_ACCOUNTING" });
    }
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(10);
  });

  it("only one sync of a store runs at a time", async () => {
    const { s } = await syncedStoreWithItem(10);
    emulator.slow(100, { match: /GET \/(warehouses|items)/ });
    const [first, second] = await Promise.all([syncNow(s), syncNow(s)]);
    expect([first.status, second.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    const [earlier, later] = [first, second].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    expect(later.startedAt >= earlier.finishedAt).toBe(true);
  });
});

describe("orders while sync is on", () => {
  it("an order commits units; invoicing issues the invoice from the main warehouse and deducts them", async () => {
    const { s, item, accountingItem } = await syncedStoreWithItem(10);
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 3 }]);
    expect(order.__typename).toBe("Order");
    expect(await itemAsAdmin(s, item.id)).toMatchObject({ quantity: 10, committedQuantity: 3, availableQuantity: 7 });

    const invoiced = await invoice(s, order.id);
    expect(invoiced).toMatchObject({ __typename: "Order", invoice: { accountingId: "101", number: "FV-101" } });
    expect(emulator.invoices).toHaveLength(1);
    expect(emulator.invoices[0]!.request).toMatchObject({
      client: { id: "1" },
      items: [{ id: accountingItem.id, price: 120000, quantity: 3, warehouse: { id: "1" } }],
      status: "open",
    });
    expect(emulator.invoices[0]!.request.observations).toContain("#1");
    const after = await itemAsAdmin(s, item.id);
    expect(after).toMatchObject({ quantity: 7, committedQuantity: 0, availableQuantity: 7 });
    expect(after.stockMovements.edges[0].node).toMatchObject({ reason: "ORDER_INVOICED", delta: -3, quantityAfter: 7, orderId: order.id });

    // the new-invoice notification re-reads the lowered count: nothing is deducted twice
    await notificationsHandled();
    expect(emulator.deliveries.some((d) => d.body.includes("new-invoice") && d.status === 202)).toBe(true);
    expect(emulator.countOf(accountingItem.id)).toBe(7);
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 7, committedQuantity: 0 });
  });

  it("invoicing twice is refused, and an invoiced order cannot be cancelled in the store", async () => {
    const { s, item } = await syncedStoreWithItem(10);
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    expect((await invoice(s, order.id)).__typename).toBe("Order");
    expect(await invoice(s, order.id)).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
    expect(emulator.invoices).toHaveLength(1);
    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
    expect(await changeStatus(server, s, order.id, "CONFIRMED")).toMatchObject({ status: "CONFIRMED" });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 8, committedQuantity: 0 });
  });

  it("an order whose invoice is being issued cannot be cancelled meanwhile", async () => {
    const { s, item } = await syncedStoreWithItem(10);
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    emulator.slow(800, { match: /POST \/invoices/ });
    const invoicing = invoice(s, order.id);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the invoice is in the accounting system's hands
    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject({
      code: "INVALID_STATUS_TRANSITION",
      message: expect.stringMatching(/being issued right now/),
    });
    expect(await invoicing).toMatchObject({ __typename: "Order", invoice: { number: expect.stringMatching(/^FV-/) } });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 8, committedQuantity: 0 });
  });

  it("cancelling an order that is not invoiced releases its committed units", async () => {
    const { s, item } = await syncedStoreWithItem(10);
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 4 }]);
    expect(await changeStatus(server, s, order.id, "CANCELLED")).toMatchObject({ status: "CANCELLED" });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 10, committedQuantity: 0 });
    expect(await invoice(s, order.id)).toMatchObject({ code: "INVALID_STATUS_TRANSITION" });
  });
});

describe("notifications", () => {
  it("a notification delivered twice or out of order sets the right count once", async () => {
    const { s, item, accountingItem } = await syncedStoreWithItem(10);
    emulator.autoNotify = false;
    const older = await emulator.setCount(accountingItem.id, "1", 7);
    const newer = await emulator.setCount(accountingItem.id, "1", 4);
    expect(await emulator.notify(newer)).toEqual([202]);
    expect(await emulator.notify(older)).toEqual([202]);
    expect(await emulator.notify(newer)).toEqual([202]);
    await notificationsHandled();

    const after = await itemAsAdmin(s, item.id);
    expect(after.quantity).toBe(4);
    const syncMovements = after.stockMovements.edges.filter((e: any) => e.node.reason === "ACCOUNTING_SYNC");
    const [newest, ...first] = syncMovements.map((e: any) => e.node.delta);
    expect(newest).toBe(-6);
    // the first sync set the main warehouse (10) and "Bodega norte" (50), in one statement
    expect(first.sort((a: number, b: number) => a - b)).toEqual([10, 50]);
  });

  it("a notification to a wrong secret is refused and changes nothing", async () => {
    const { s, item, accountingItem } = await syncedStoreWithItem(10);
    emulator.autoNotify = false;
    const notification = JSON.stringify(await emulator.setCount(accountingItem.id, "1", 1));
    const settings = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { inventorySettings { webhookUrl } } }`, { slug: s.slug }, s.token);
    const url: string = settings.store.inventorySettings.webhookUrl;
    const forged = url.replace(/.{4}$/, "AAAA");
    const post = (target: string) => fetch(target, { method: "POST", body: notification }).then((r) => r.status);
    expect(await post(forged)).toBe(404);
    expect(await post(`${server.url}/webhooks/accounting/nonsense`)).toBe(404);
    expect(await fetch(url).then((r) => r.status)).toBe(405);
    await server.app.accountingWebhooks.idle();
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(10);
    expect(await post(url)).toBe(202);
    await server.app.accountingWebhooks.idle();
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(1);
  });

  it("switching sync on subscribes each event once after the empty check POST; switching off unsubscribes", async () => {
    const s = await store();
    const { webhookUrl } = await connect(s);
    await emulator.deliver(webhookUrl, "").then((status) => expect(status).toBe(200));
    emulator.subscriptions.push({ id: "old", url: webhookUrl, event: "edit-item" });
    await updateSettings(s, { accountingSync: true });
    expect(emulator.subscriptions.filter((sub) => sub.url === webhookUrl).map((sub) => sub.event).sort()).toEqual(
      ["delete-invoice", "delete-item", "edit-invoice", "edit-item", "new-invoice", "new-item"],
    );
    expect(emulator.deliveries.filter((d) => d.body === "").every((d) => d.status === 200)).toBe(true);
    await updateSettings(s, { accountingSync: false });
    expect(emulator.subscriptions).toEqual([]);
  });
});

describe("switching sync off", () => {
  it("deducts the committed units of open orders, and a later cancel restores them", async () => {
    const { s, item } = await syncedStoreWithItem(10);
    const open = await placeOrder(server, s, [{ itemId: item.id, quantity: 3 }]);
    const invoiced = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    const cancelled = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
    await invoice(s, invoiced.id);
    await changeStatus(server, s, cancelled.id, "CANCELLED");
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 8, committedQuantity: 3 });

    expect(await updateSettings(s, { accountingSync: false })).toMatchObject({ accountingSync: false });
    const after = await itemAsAdmin(s, item.id);
    expect(after).toMatchObject({ quantity: 5, committedQuantity: 0, availableQuantity: 5 });
    expect(after.stockMovements.edges[0].node).toMatchObject({ reason: "SYNC_DISABLED", delta: -3, orderId: open.id });

    expect(await changeStatus(server, s, open.id, "CANCELLED")).toMatchObject({ status: "CANCELLED" });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 8, committedQuantity: 0 });
    const adjusted = await gqlData(
      server.url,
      `mutation($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) { __typename } }`,
      { input: { itemId: item.id, delta: 2 } },
      s.token,
    );
    expect(adjusted.adjustItemQuantity.__typename).toBe("Item");
    expect(await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }])).toMatchObject({ __typename: "Order" });
    expect(await stockOf(server.db, s.id, item.id)).toMatchObject({ quantity: 9, committedQuantity: 0 });
  });
});

describe("when the accounting system fails", () => {
  it("a sync failing part way is FAILED with its error and every item untouched; the store keeps serving", async () => {
    const s = await store();
    const items = [];
    for (let n = 1; n <= 31; n++) {
      emulator.addItem({ reference: `R${n}`, counts: { "1": n } });
      items.push(await newItem(server, s, { name: `P${n}`, sku: `R${n}` }));
    }
    await connect(s);
    await updateSettings(s, { accountingSync: true });
    emulator.autoNotify = false;
    for (const accountingItem of emulator.items.values()) await emulator.setCount(accountingItem.id, "1", 99);
    const before = await Promise.all(items.map((item) => stockOf(server.db, s.id, item.id)));

    emulator.fail(500, { match: /start=30/ });
    const run = await syncNow(s);
    expect(run).toMatchObject({ status: "FAILED", itemsUpdated: 0 });
    expect(run.error).toMatch(/HTTP 500.*3 attempts/);
    expect(await Promise.all(items.map((item) => stockOf(server.db, s.id, item.id)))).toEqual(before);
    expect(await placeOrder(server, s, [{ itemId: items[4]!.id, quantity: 1 }])).toMatchObject({ __typename: "Order" });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    emulator.heal();
    expect(await syncNow(s)).toMatchObject({ status: "SUCCEEDED", itemsUpdated: 31 });
  });

  it("a hanging accounting system times out: the sync is FAILED and the items untouched", async () => {
    const { s, item, accountingItem } = await syncedStoreWithItem(10);
    emulator.autoNotify = false;
    await emulator.setCount(accountingItem.id, "1", 3);
    emulator.hang({ match: /GET \/items/ });
    const run = await syncNow(s);
    expect(run).toMatchObject({ status: "FAILED" });
    expect(run.error).toMatch(/could not reach the accounting system/);
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(10);
  });

  it("429 and 5xx answers are retried", async () => {
    const { s } = await syncedStoreWithItem(10);
    emulator.fail(429, { times: 1, match: /GET \/warehouses/ });
    emulator.fail(503, { times: 1, match: /GET \/items/ });
    expect(await syncNow(s)).toMatchObject({ status: "SUCCEEDED" });
  });

  it("invoiceOrder answers ACCOUNTING_UNAVAILABLE and changes nothing", async () => {
    const { s, item } = await syncedStoreWithItem(10);
    const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 2 }]);
    const before = await stockOf(server.db, s.id, item.id);
    for (const fault of [() => emulator.fail(500, { match: /POST \/invoices/ }), () => emulator.hang({ match: /POST \/invoices/ })]) {
      emulator.heal();
      fault();
      expect(await invoice(s, order.id)).toMatchObject({ code: "ACCOUNTING_UNAVAILABLE" });
      expect(emulator.requests.filter((r) => r === "POST /invoices")).toHaveLength(1); // never sent twice
      emulator.requests.length = 0;
      expect(await stockOf(server.db, s.id, item.id)).toEqual(before);
      const stored = await gqlData(server.url, `query($id: ID!) { order(id: $id) { invoice { number } } }`, { id: order.id }, s.token);
      expect(stored.order.invoice).toBeNull();
    }
    emulator.heal();
    expect(await invoice(s, order.id)).toMatchObject({ invoice: { number: expect.stringMatching(/^FV-/) } });
  });

  it("switching sync on while accounting is down changes nothing", async () => {
    const s = await store();
    emulator.addItem({ reference: "A", counts: { "1": 4 } });
    const item = await newItem(server, s, { sku: "A", quantity: 9 });
    await connect(s);
    emulator.fail(500, { match: /GET \/items/ });
    const refused = await updateSettings(s, { accountingSync: true, outOfStockBehavior: "HIDE" });
    expect(refused).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_UNAVAILABLE", field: "accountingSync" });
    const settings = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { inventorySettings { ${SETTINGS} } } }`, { slug: s.slug }, s.token);
    expect(settings.store.inventorySettings).toMatchObject({
      accountingSync: false,
      outOfStockBehavior: "MARK_SOLD_OUT",
      lastSync: { status: "FAILED", trigger: "SYNC_ENABLED" },
    });
    expect((await stockOf(server.db, s.id, item.id)).quantity).toBe(9);
  });
});

describe("the periodic reconciliation", () => {
  it("repairs a count whose notification was missed", async () => {
    const { s, item, accountingItem } = await syncedStoreWithItem(10);
    emulator.autoNotify = false;
    await emulator.setCount(accountingItem.id, "1", 2);
    const reconciliation = startReconciliation(server.deps, 200);
    try {
      await expect.poll(async () => (await stockOf(server.db, s.id, item.id)).quantity, { timeout: 5_000 }).toBe(2);
    } finally {
      await reconciliation.stop();
    }
    const runs = await gqlData(server.url, `{ syncRuns(first: 1) { trigger status } }`, {}, s.token);
    expect(runs.syncRuns).toEqual([{ trigger: "SCHEDULED", status: "SUCCEEDED" }]);
  });
});

it("another store's token cannot sync, invoice or read this store's runs", async () => {
  const { s, item } = await syncedStoreWithItem(10);
  const other = await store();
  await connect(other);
  const order = await placeOrder(server, s, [{ itemId: item.id, quantity: 1 }]);
  expect(await invoice(other, order.id)).toMatchObject({ code: "NOT_FOUND" });
  expect(emulator.invoices).toEqual([]);
  expect((await gql(server.url, `{ syncRuns { id } }`, {}, other.token)).data.syncRuns).toEqual([]);
});
