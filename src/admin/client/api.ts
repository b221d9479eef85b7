/**
 * The console's one door to the service: the public GraphQL API at this origin's /graphql, over
 * HTTP with the admin token in the Authorization header, and live StockUpdates over WebSocket
 * (graphql-ws). Every operation the console sends is written here, with the shapes it reads.
 */
import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type CombinedError } from "@urql/core";
import { createClient as createSocket } from "graphql-ws/client";
import type { ErrorCode as ServiceErrorCode } from "../../errors.ts";
import type { BulkAnswer, SheetLevel } from "./inventory-sheet.ts";

export type Session = { slug: string; token: string };
export type Availability = "IN_STOCK" | "BACKORDER" | "SOLD_OUT" | "HIDDEN";
export type OrderStatus = "PENDING" | "CONFIRMED" | "SHIPPED" | "DELIVERED" | "CANCELLED";
export type PageInfo = { hasNextPage: boolean; endCursor: string | null };
export type Connection<T> = { edges: { node: T }[]; pageInfo: PageInfo };

/**
 * The codes of the API's error values: the service's own (src/errors.ts) and those the contract
 * for cart holds adds (contract-holds-alerts-bulk.graphql), so messages.ts is exhaustive over both.
 */
export type ErrorCode = ServiceErrorCode | "RESERVATION_NOT_FOUND" | "RESERVATIONS_OFF";
/** The console's own: the service could not be reached, or answered with a GraphQL error instead of a value. */
export type ConsoleErrorCode = "NETWORK" | "INTERNAL";

/**
 * What went wrong, as the console shows it: an error value of the API (its `message` is the
 * service's English detail, for a title only), or the network failing. `text` is the console's
 * own Spanish, where it found the problem itself or knows better words (messages.ts).
 */
export type ApiError = { code: ErrorCode | ConsoleErrorCode; message: string; field?: string | null; text?: string };

export type Api = { client: Client; close(): void };

/**
 * A client for one signed-in session. `onAuthLost` hears of a refused token (revoked meanwhile,
 * say); `onLive` of the live connection coming and going. The token goes only in headers: never in a URL, never to the console.
 */
export function createApi(session: Session, events: { onAuthLost(): void; onLive(state: "live" | "reconnecting"): void }): Api {
  const socket = createSocket({
    url: `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql`,
    // the admin-only subscriptions (lowStockAlertsAdded) know the store's admin by it
    connectionParams: { authorization: `Bearer ${session.token}` },
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    on: {
      connected: () => events.onLive("live"),
      closed: () => events.onLive("reconnecting"),
    },
  });
  const client = new Client({
    url: "/graphql",
    preferGetMethod: false,
    requestPolicy: "cache-and-network",
    fetchOptions: () => ({ headers: { authorization: `Bearer ${session.token}` } }),
    exchanges: [
      mapExchange({ onError: (error) => void (isAuthError(error) && events.onAuthLost()) }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: socket.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });
  return { client, close: () => void socket.dispose() };
}

/** Checks a slug and token with one query, before they are kept: null when they are good. */
export async function checkSignIn(session: Session): Promise<"NO_STORE" | "BAD_TOKEN" | "OTHER_STORE" | "NETWORK" | null> {
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ query: SIGN_IN, variables: { slug: session.slug } }),
    });
    const body = (await response.json()) as { data?: { store: unknown } | null; errors?: { extensions?: { code?: string } }[] };
    const code = body.errors?.[0]?.extensions?.code;
    if (code === "UNAUTHENTICATED") return "BAD_TOKEN";
    if (code === "FORBIDDEN" || code === "NOT_FOUND") return "OTHER_STORE";
    if (body.errors?.length) return "NETWORK";
    return body.data?.store ? null : "NO_STORE";
  } catch {
    return "NETWORK";
  }
}

const isAuthError = (error: CombinedError) =>
  error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED" || e.extensions?.code === "FORBIDDEN");

/** The error of a finished operation: a top-level or network one, or the error value in `result`. */
export function errorOf(outcome: { error?: CombinedError }, result?: { __typename?: string } & Partial<ApiError>): ApiError | null {
  if (outcome.error) return { code: outcome.error.networkError ? "NETWORK" : "INTERNAL", message: outcome.error.graphQLErrors[0]?.message ?? "" };
  if (result && result.__typename !== undefined && "code" in result) return result as ApiError;
  return null;
}

const ERRORS = `... on OperationError { code message field }`;

// ---------- the store and its settings ----------

export const SIGN_IN = `query SignIn($slug: String!) { store(slug: $slug) { name inventorySettings { accountingSync } } }`;

const RUN = `id status trigger startedAt finishedAt itemsMatched itemsUpdated itemsUnmatched error unmatched { itemId variantId sku reason detail }`;
const WAREHOUSE = `id name isMain fulfilsOnlineOrders priority accountingId`;
const SETTINGS_FIELDS = `outOfStockBehavior accountingConnected accountingSync lowStockThreshold reservationMinutes webhookUrl mainWarehouse { ${WAREHOUSE} } warehouses { ${WAREHOUSE} }`;

export type SyncRun = {
  id: string; status: string; trigger: string; startedAt: string; finishedAt: string | null;
  itemsMatched: number; itemsUpdated: number; itemsUnmatched: number; error: string | null;
  unmatched: { itemId: string; variantId: string | null; sku: string | null; reason: string; detail: string }[];
};
export type Warehouse = { id: string; name: string; isMain: boolean; fulfilsOnlineOrders: boolean; priority: number; accountingId: string | null };
export type InventorySettings = {
  outOfStockBehavior: "MARK_SOLD_OUT" | "HIDE";
  accountingConnected: boolean;
  accountingSync: boolean;
  lowStockThreshold: number | null;
  /** how long a cart hold lasts; 0: the storefront orders without holds */
  reservationMinutes: number;
  webhookUrl: string | null;
  mainWarehouse: Warehouse | null;
  warehouses: Warehouse[];
};

/** The store's name and settings: the header, the order screen's "Facturar" and the settings screen. */
export const STORE = `query Store($slug: String!) { store(slug: $slug) { name inventorySettings { ${SETTINGS_FIELDS} } } }`;
export type StoreData = { store: { name: string; inventorySettings: InventorySettings } | null };

export const SYNC_RUNS = `query SyncRuns { syncRuns(first: 5) { ${RUN} } }`;
export type SyncRunsData = { syncRuns: SyncRun[] };

const SETTINGS_RESULT = `__typename ... on InventorySettings { ${SETTINGS_FIELDS} } ${ERRORS}`;
export const UPDATE_SETTINGS = `mutation UpdateSettings($input: UpdateInventorySettingsInput!) { updateInventorySettings(input: $input) { ${SETTINGS_RESULT} } }`;
export const CONNECT_ACCOUNTING = `mutation ConnectAccounting($input: ConnectAccountingInput!) { connectAccounting(input: $input) { ${SETTINGS_RESULT} } }`;
export const SYNC_NOW = `mutation SyncNow { syncInventoryNow { __typename ... on SyncRun { ${RUN} } ${ERRORS} } }`;

const WAREHOUSE_RESULT = `__typename ... on Warehouse { ${WAREHOUSE} } ${ERRORS}`;
export const CREATE_WAREHOUSE = `mutation CreateWarehouse($input: CreateWarehouseInput!) { createWarehouse(input: $input) { ${WAREHOUSE_RESULT} } }`;
export const UPDATE_WAREHOUSE = `mutation UpdateWarehouse($input: UpdateWarehouseInput!) { updateWarehouse(input: $input) { ${WAREHOUSE_RESULT} } }`;
export const DELETE_WAREHOUSE = `mutation DeleteWarehouse($id: ID!) { deleteWarehouse(id: $id) { ${WAREHOUSE_RESULT} } }`;

// ---------- items ----------

const COUNTS = `quantity committedQuantity reservedQuantity availableQuantity availability version`;
type Counts = {
  quantity: number | null; committedQuantity: number; reservedQuantity: number; availableQuantity: number | null; availability: Availability; version: number;
};
export type OptionValue = { name: string; value: string };
const VARIANT_ROW = `id sku options { name value } ${COUNTS} lowStock lowStockThreshold`;
export type VariantRow = Counts & { id: string; sku: string | null; options: OptionValue[]; lowStock: boolean; lowStockThreshold: number | null };
const ITEM_ROW = `id name sku type trackInventory sellWithoutStock ${COUNTS} lowStock options { name values } variants { ${VARIANT_ROW} }`;
export type ItemRow = Counts & {
  id: string; name: string; sku: string | null; type: "PRODUCT" | "SERVICE"; trackInventory: boolean; sellWithoutStock: boolean; lowStock: boolean;
  options: { name: string; values: string[] }[]; variants: VariantRow[];
};

export const ITEMS = `query Items($first: Int!, $after: String, $search: String) {
  items(first: $first, after: $after, search: $search) { edges { node { ${ITEM_ROW} } } pageInfo { hasNextPage endCursor } }
}`;
export type ItemsData = { items: Connection<ItemRow> };

const LEVEL = `warehouse { id name isMain fulfilsOnlineOrders } quantity committedQuantity reservedQuantity availableQuantity`;
export type StockLevel = {
  warehouse: Omit<Warehouse, "priority" | "accountingId">; quantity: number; committedQuantity: number; reservedQuantity: number; availableQuantity: number;
};
export const ITEM = `query Item($id: ID!) { item(id: $id) { ${ITEM_ROW} price variants { id price stockLevels { ${LEVEL} } } } }`;
export type ItemDetail = Omit<ItemRow, "variants"> & { price: string; variants: (VariantRow & { price: string; stockLevels: StockLevel[] })[] };
export type ItemData = { item: ItemDetail | null };

const MOVEMENT = `id delta quantityAfter reason orderId note createdAt variantId warehouseId transferId`;
export type Movement = {
  id: string; delta: number; quantityAfter: number; reason: string; orderId: string | null; note: string | null; createdAt: string;
  variantId: string; warehouseId: string; transferId: string | null;
};
export const MOVEMENTS = `query Movements($id: ID!, $first: Int!, $after: String) {
  item(id: $id) { id stockMovements(first: $first, after: $after) { edges { node { ${MOVEMENT} } } pageInfo { hasNextPage endCursor } } }
}`;
export type MovementsData = { item: { id: string; stockMovements: Connection<Movement> } | null };

const ITEM_RESULT = `__typename ... on Item { ${ITEM_ROW} } ${ERRORS}`;
export const CREATE_ITEM = `mutation CreateItem($input: CreateItemInput!) { createItem(input: $input) { ${ITEM_RESULT} } }`;
export const UPDATE_ITEM = `mutation UpdateItem($input: UpdateItemInput!) { updateItem(input: $input) { ${ITEM_RESULT} } }`;
export const SET_QUANTITY = `mutation SetQuantity($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { ${ITEM_RESULT} } }`;
export const ADJUST_QUANTITY = `mutation AdjustQuantity($input: AdjustItemQuantityInput!) { adjustItemQuantity(input: $input) { ${ITEM_RESULT} } }`;
export type ItemResult = ({ __typename: "Item" } & ItemRow) | ({ __typename: "OperationError" } & ApiError);

const SHORTAGES = `... on InsufficientStockError { code message shortages { itemId variantId requested available } }`;
export const TRANSFER_STOCK = `mutation TransferStock($input: TransferStockInput!) {
  transferStock(input: $input) { __typename ... on Variant { ${VARIANT_ROW} } ${SHORTAGES} ${ERRORS} }
}`;
export type TransferResult =
  | ({ __typename: "Variant" } & VariantRow)
  | ({ __typename: "InsufficientStockError" } & ApiError & { shortages: { requested: number; available: number }[] })
  | ({ __typename: "OperationError" } & ApiError);

export const UPDATE_VARIANT = `mutation UpdateVariant($input: UpdateVariantInput!) { updateVariant(input: $input) { __typename ... on Variant { ${VARIANT_ROW} } ${ERRORS} } }`;
export type VariantResult = ({ __typename: "Variant" } & VariantRow) | ({ __typename: "OperationError" } & ApiError);

// ---------- low stock ----------

/** "Stock bajo": the variants low now, lowest available first, with their item's name. */
export const LOW_STOCK_VARIANTS = `query LowStockVariants($first: Int!, $after: String) {
  lowStockVariants(first: $first, after: $after) { edges { node { ${VARIANT_ROW} item { id name version } } } pageInfo { hasNextPage endCursor } }
}`;
export type LowStockVariantsData = { lowStockVariants: Connection<VariantRow & { item: { id: string; name: string; version: number } }> };
export const LOW_STOCK_ALERTS = `query LowStockAlerts($first: Int!) {
  lowStockAlerts(first: $first) { edges { node { id availableQuantity threshold at item { id name } variant { id sku options { name value } } } } }
}`;
export type LowStockAlert = {
  id: string; availableQuantity: number; threshold: number; at: string;
  item: { id: string; name: string }; variant: { id: string; sku: string | null; options: OptionValue[] };
};
export type LowStockAlertsData = { lowStockAlerts: Connection<LowStockAlert> };
/** Alerts as they happen: the socket carries the admin token in its connectionParams. */
export const LOW_STOCK_ALERTS_ADDED = `subscription LowStockAlertsAdded($slug: String!) {
  lowStockAlertsAdded(store: $slug) { id availableQuantity threshold at item { id name } variant { id sku options { name value } } }
}`;

export type StockUpdate = { itemId: string; availability: Availability; availableQuantity: number | null; version: number };
export const STOCK_UPDATES = `subscription StockUpdates($slug: String!) { stockUpdates(store: $slug) { itemId availability availableQuantity version } }`;

// ---------- cart holds ----------

/** "Reservas": the store's holds in force, newest first, with what each keeps. */
const RESERVATION = `id status expiresAt createdAt lines { quantity item { id name } variant { id sku options { name value } } }`;
export type Reservation = {
  id: string; status: "HELD" | "CONVERTED" | "RELEASED" | "EXPIRED"; expiresAt: string; createdAt: string;
  lines: { quantity: number; item: { id: string; name: string }; variant: { id: string; sku: string | null; options: OptionValue[] } }[];
};
export const RESERVATIONS = `query Reservations($first: Int!, $after: String) {
  reservations(first: $first, after: $after, status: HELD) { edges { node { ${RESERVATION} } } pageInfo { hasNextPage endCursor } }
}`;
export type ReservationsData = { reservations: Connection<Reservation> };
export const RELEASE_RESERVATION = `mutation ReleaseReservation($id: ID!) {
  releaseReservationAsAdmin(id: $id) { __typename ... on Reservation { ${RESERVATION} } ${ERRORS} }
}`;
export type ReleaseData = { releaseReservationAsAdmin: ({ __typename: "Reservation" } & Reservation) | ({ __typename: "OperationError" } & ApiError) };

// ---------- orders ----------

export type OrderRow = { id: string; number: number; status: OrderStatus; total: string; createdAt: string; invoice: { number: string | null } | null };
export const ORDERS = `query Orders($first: Int!, $after: String, $status: OrderStatus) {
  orders(first: $first, after: $after, status: $status) { edges { node { id number status total createdAt invoice { number } } } pageInfo { hasNextPage endCursor } }
}`;
export type OrdersData = { orders: Connection<OrderRow> };

const ORDER_FIELDS = `id number status total createdAt updatedAt invoice { accountingId number issuedAt }
  lines { quantity unitPrice item { id name } variant { id sku options { name value } } allocations { quantity warehouse { id name } } }`;
export type OrderLine = {
  quantity: number; unitPrice: string; item: { id: string; name: string };
  variant: { id: string; sku: string | null; options: OptionValue[] };
  allocations: { quantity: number; warehouse: { id: string; name: string } }[];
};
export type OrderDetail = Omit<OrderRow, "invoice"> & {
  updatedAt: string;
  invoice: { accountingId: string; number: string | null; issuedAt: string } | null;
  lines: OrderLine[];
};
export const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
export type OrderData = { order: OrderDetail | null };

const ORDER_RESULT = `__typename ... on Order { ${ORDER_FIELDS} } ${ERRORS}`;
export const CHANGE_STATUS = `mutation ChangeStatus($input: ChangeOrderStatusInput!) { changeOrderStatus(input: $input) { ${ORDER_RESULT} } }`;
export const INVOICE_ORDER = `mutation InvoiceOrder($orderId: ID!) { invoiceOrder(orderId: $orderId) { ${ORDER_RESULT} } }`;

// ---------- the whole shop at once: Exportar / Importar ----------

/**
 * "Exportar": the inventory as the service writes it (GET /admin/inventory.csv), fetched with the
 * token in its header, never in a URL; the file's name as the service gives it. The saved file
 * starts with a byte order mark, so that Excel opens it as UTF-8 ("algodón", not "algodÃ³n");
 * the API's CSV stays plain RFC 4180 for programs, and Importar reads the file either way.
 */
export async function downloadInventory(session: Session): Promise<{ file: Blob; name: string } | ApiError> {
  try {
    const response = await fetch("/admin/inventory.csv", { headers: { authorization: `Bearer ${session.token}` } });
    if (!response.ok) {
      const text = response.status === 401 || response.status === 403
        ? "El token ya no es válido para esta tienda. Sal y entra de nuevo."
        : "No se pudo exportar el inventario. Inténtalo de nuevo.";
      return { code: "INTERNAL", message: await response.text(), text };
    }
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? "inventario.csv";
    return { file: new Blob(["\ufeff", await response.blob()], { type: "text/csv;charset=utf-8" }), name };
  } catch {
    return { code: "NETWORK", message: "" };
  }
}

/** SKUs one STOCK_LEVELS_BY_SKU asks for (the service takes up to 500). */
export const SKUS_PER_LOOKUP = 500;
export const STOCK_LEVELS_BY_SKU = `query StockLevelsBySku($skus: [String!]!) {
  stockLevelsBySku(skus: $skus) { sku itemId variantId warehouseId quantity product variant trackInventory sellWithoutStock }
}`;
export type StockLevelsBySkuData = { stockLevelsBySku: SheetLevel[] };

export const SET_QUANTITIES = `mutation SetQuantities($input: SetItemQuantitiesInput!) {
  setItemQuantities(input: $input) { __typename ... on BulkQuantitiesSet { changed } ... on BulkQuantitiesRefused { errors { index code message field } } ${ERRORS} }
}`;
export type SetQuantitiesData = { setItemQuantities: BulkAnswer };
