import { randomBytes } from "node:crypto";
import { afterEach, expect, inject } from "vitest";
import { AccountingLocks } from "../../src/accounting/accounting-lock.ts";
import type { AccountingOptions } from "../../src/accounting/options.ts";
import { openDatabase, type Database } from "../../src/db/pool.ts";
import { defaultConfig, type Config } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import type { OrderRateLimiter } from "../../src/orders/order-rate-limit.ts";
import type { StockEventPublisher } from "../../src/realtime/stock-events.ts";
import { createService } from "../../src/service.ts";
import { createStore } from "../../src/stores/stores.ts";

export const databaseUrl = () => inject("databaseUrl");

/**
 * A real server on a free port, in this test process, on the test database: the service's own
 * composition (src/service.ts) with in-process stock events, no order rate limit, no load
 * shedding and no expiry sweep of cart holds unless given.
 * A server that sweeps (`reservationExpiryIntervalMs` > 0) shares its stock events through the
 * test Redis, as every process of a deployment does: the sweep ends the expired holds of every
 * store on the database, so the server of another test file may end this file's holds, and its
 * events must reach this file's subscribers (an in-process bus would keep them to itself).
 * `publisher` sits between the domain and the bus, under the production publisher. Calls to an
 * accounting system time out and retry quickly; `accounting` changes that.
 */
export async function startTestServer(
  options: {
    publisher?: StockEventPublisher;
    poolSize?: number;
    accounting?: Partial<AccountingOptions>;
    /** another database than the test run's (a fault test's own PostgreSQL) */
    databaseUrl?: string;
    orderRateLimiter?: OrderRateLimiter;
    /** checkout batches of one store in PostgreSQL at once (the service's default: 2) */
    checkoutConcurrencyPerStore?: number;
    /** request limits and the like; unset ones are the service's defaults */
    config?: Partial<
      Pick<
        Config,
        "graphiql" | "introspection" | "limits" | "csrfPrevention" | "trustProxy" | "storefrontTokenOrdersPerMinute" | "webSocketLimits" | "http" | "reservationExpiryIntervalMs" | "loadShedding" | "redis"
      >
    >;
  } = {},
) {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const db = openDatabase(options.databaseUrl ?? databaseUrl(), { poolSize: options.poolSize ?? 10, logger });
  const defaults = defaultConfig();
  const sweeps = (options.config?.reservationExpiryIntervalMs ?? 0) > 0;
  const config: Config = {
    ...defaults,
    graphiql: false,
    introspection: true,
    redis: sweeps ? { url: inject("redisUrl") } : undefined,
    reservationExpiryIntervalMs: 0,
    orderRateLimitPerMinute: 0,
    checkoutConcurrencyPerStore: options.checkoutConcurrencyPerStore ?? defaults.checkoutConcurrencyPerStore,
    // a test process blocks its own event loop (seeding, a loaded machine): shedding is off unless a test sets it
    loadShedding: { ...defaults.loadShedding, enabled: false },
    accounting: {
      ...defaults.accounting,
      reconcileIntervalMs: 0,
      timeoutMs: 1_000,
      maxAttempts: 3,
      retryDelayMs: 5,
      // the emulator listens on loopback: allowed by its address, as an operator would (ACCOUNTING_ALLOWED_HOSTS)
      allowedHosts: ["127.0.0.1"],
    },
    ...options.config,
  };
  const service = createService(config, {
    db,
    logger,
    secretKey: randomBytes(32),
    parts: {
      publisher: options.publisher,
      ...("orderRateLimiter" in options ? { orderRateLimiter: options.orderRateLimiter } : {}),
      accounting: { lockWaitMs: 5_000, locks: new AccountingLocks(), ...options.accounting },
    },
  });
  const port = await service.listen(0, "127.0.0.1");
  const { app, deps } = service;
  // the base of the webhook URL registered with accounting is known once the port is
  deps.accounting.publicUrl = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    deps,
    db,
    app,
    async close() {
      await service.close();
      await db.close();
    },
  };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

export type GraphQLResponse<T = any> = { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };

/** POSTs one GraphQL operation; `token` goes in the Authorization header. */
export async function gql<T = any>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Like `gql`, but fails the test on any top-level error and returns `data`. */
export async function gqlData<T = any>(baseUrl: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const result = await gql<T>(baseUrl, query, variables, token);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

export type TestStore = { id: string; slug: string; token: string };

export async function newStore(db: Database, name = "Ejemplar"): Promise<TestStore> {
  const slug = `store-${randomBytes(5).toString("hex")}`;
  const store = await createStore(db.prisma, { slug, name });
  if (!("adminToken" in store)) throw new Error(store.message);
  return { id: store.id, slug: store.slug, token: store.adminToken };
}

export const ITEM_FIELDS = `id name sku type price trackInventory sellWithoutStock quantity committedQuantity availableQuantity availability version`;

/** Creates an item through the admin API and returns it. */
export async function newItem(
  server: { url: string },
  store: TestStore,
  input: { name?: string; type?: "PRODUCT" | "SERVICE"; price?: string; quantity?: number; sellWithoutStock?: boolean; trackInventory?: boolean; sku?: string } = {},
) {
  const data = await gqlData(
    server.url,
    `mutation($input: CreateItemInput!) { createItem(input: $input) { __typename ... on Item { ${ITEM_FIELDS} } ... on OperationError { code message field } } }`,
    { input: { name: "Bolso de cuero", type: "PRODUCT", price: "120000.00", ...input } },
    store.token,
  );
  if (data.createItem.__typename !== "Item") throw new Error(`createItem failed: ${JSON.stringify(data.createItem)}`);
  return data.createItem as { id: string; quantity: number | null; availability: string; version: number };
}

export const PLACE_ORDER = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number status total lines { quantity unitPrice item { id } } }
    ... on InsufficientStockError { code message shortages { itemId requested available } }
    ... on OperationError { code message field }
  }
}`;

export async function placeOrder(
  server: { url: string },
  store: TestStore,
  lines: { itemId: string; quantity: number }[],
  extra: Record<string, unknown> = {},
) {
  const data = await gqlData(server.url, PLACE_ORDER, { store: store.slug, input: { lines, ...extra } });
  return data.placeOrder;
}

export const CHANGE_STATUS = `mutation($input: ChangeOrderStatusInput!) {
  changeOrderStatus(input: $input) {
    __typename ... on Order { id status } ... on OperationError { code message field }
  }
}`;

export async function changeStatus(server: { url: string }, store: TestStore, orderId: string, status: string) {
  const data = await gqlData(server.url, CHANGE_STATUS, { input: { orderId, status } }, store.token);
  return data.changeOrderStatus;
}

/** The stored stock row of an item, read straight from the database. */
export async function stockOf(db: Database, storeId: string, itemId: string) {
  const { rows } = await db.pool.query(
    `SELECT quantity, committed_quantity AS "committedQuantity", availability, version FROM items WHERE store_id = $1 AND id = $2`,
    [storeId, itemId],
  );
  return rows[0] as { quantity: number; committedQuantity: number; availability: string; version: number };
}

/**
 * The ledger invariants (SPEC sections 1, 8 and 9) for every stock level of the store's tracked
 * products: its movements add up to its quantity and the newest movement's quantityAfter is it;
 * every level holds for carts exactly the units its HELD holds keep there; and every variant's
 * quantity, committed and reserved quantities are the sums over its fulfilling warehouses, every
 * item's the sums over its variants. Returns what breaks them.
 */
export async function unbalancedLedgers(db: Database, storeId: string) {
  const { rows } = await db.pool.query(
    `SELECT 'level' AS kind, l.variant_id AS id, l.quantity, coalesce(m.sum, 0)::int AS sum, m.newest
       FROM stock_levels l
       JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
       JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
       LEFT JOIN LATERAL (
         SELECT sum(delta) AS sum,
                (SELECT quantity_after FROM stock_movements n WHERE n.store_id = l.store_id AND n.variant_id = l.variant_id
                    AND n.warehouse_id = l.warehouse_id ORDER BY id DESC LIMIT 1) AS newest
           FROM stock_movements m WHERE m.store_id = l.store_id AND m.variant_id = l.variant_id AND m.warehouse_id = l.warehouse_id
       ) m ON true
      WHERE l.store_id = $1 AND i.type = 'PRODUCT' AND i.track_inventory
        AND (coalesce(m.sum, 0) <> l.quantity OR (m.newest IS NOT NULL AND m.newest <> l.quantity))
     UNION ALL
     SELECT 'held level', l.variant_id, l.reserved_quantity, coalesce(h.sum, 0)::int, NULL
       FROM stock_levels l
       LEFT JOIN LATERAL (
         SELECT sum(a.quantity) AS sum FROM reservation_allocations a
           JOIN reservations r ON r.store_id = a.store_id AND r.id = a.reservation_id AND r.status = 'HELD'
          WHERE a.store_id = l.store_id AND a.variant_id = l.variant_id AND a.warehouse_id = l.warehouse_id
       ) h ON true
      WHERE l.store_id = $1 AND l.reserved_quantity <> coalesce(h.sum, 0)
     UNION ALL
     SELECT 'variant', v.id, v.quantity, coalesce(sum(l.quantity) FILTER (WHERE w.fulfils_online_orders), 0)::int, NULL
       FROM variants v JOIN stock_levels l ON l.store_id = v.store_id AND l.variant_id = v.id
       JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
      WHERE v.store_id = $1
      GROUP BY v.id, v.quantity, v.committed_quantity, v.reserved_quantity
     HAVING v.quantity <> coalesce(sum(l.quantity) FILTER (WHERE w.fulfils_online_orders), 0)
         OR v.committed_quantity <> coalesce(sum(l.committed_quantity) FILTER (WHERE w.fulfils_online_orders), 0)
         OR v.reserved_quantity <> coalesce(sum(l.reserved_quantity) FILTER (WHERE w.fulfils_online_orders), 0)
     UNION ALL
     SELECT 'item', i.id, i.quantity, sum(v.quantity)::int, NULL
       FROM items i JOIN variants v ON v.store_id = i.store_id AND v.item_id = i.id
      WHERE i.store_id = $1
      GROUP BY i.id, i.quantity, i.committed_quantity, i.reserved_quantity
     HAVING i.quantity <> sum(v.quantity) OR i.committed_quantity <> sum(v.committed_quantity)
         OR i.reserved_quantity <> sum(v.reserved_quantity)`,
    [storeId],
  );
  return rows;
}

/** The stock level an item without options keeps in the store's main warehouse: its default variant there. */
export async function mainLevelOf(db: Database, storeId: string, itemId: string) {
  const { rows } = await db.pool.query<{ variantId: string; warehouseId: string }>(
    `SELECT v.id AS "variantId", w.id AS "warehouseId" FROM variants v JOIN warehouses w ON w.store_id = v.store_id AND w.is_main
      WHERE v.store_id = $1 AND v.item_id = $2 AND v.is_default`,
    [storeId, itemId],
  );
  return rows[0]!;
}

export const uniqueKey = () => randomBytes(8).toString("hex");

/**
 * For a test file: makes stores, and after each test checks that every store it made keeps
 * SPEC section 1's invariant (each item's movements add up to its quantity).
 */
export function storesWithBalancedLedgers(server: () => TestServer) {
  const made: TestStore[] = [];
  afterEach(async () => {
    for (const store of made.splice(0)) expect(await unbalancedLedgers(server().db, store.id)).toEqual([]);
  });
  return async () => {
    const store = await newStore(server().db);
    made.push(store);
    return store;
  };
}
