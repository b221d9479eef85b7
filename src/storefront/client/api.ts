/**
 * The storefront's calls to the service: public GraphQL queries, placeOrder and the cart holds
 * (reserveStock, releaseReservation) over HTTP, and live StockUpdates over WebSocket (graphql-ws
 * protocol), all at the same origin's /graphql.
 */
import { createClient, type Client } from "graphql-ws/client";
import type { StockUpdate, StorefrontItem, StorefrontVariant } from "./catalog.ts";

const ITEM_FIELDS =
  "id name type price availability availableQuantity version options { name values } " +
  "variants { id options { name value } price availability availableQuantity }";

/** An item as the API answers it: its variants' states are as of the item's `version`. */
type ItemRead = Omit<StorefrontItem, "variants"> & { variants: Omit<StorefrontVariant, "version">[] };

function fromRead(item: ItemRead): StorefrontItem {
  return { ...item, variants: item.variants.map((variant) => ({ ...variant, version: item.version })) };
}

/** Items are read a page at a time; a store with more than this many pages is cut short. */
const PAGE_SIZE = 100;
const MAX_PAGES = 50;

type GraphQLResponse<T> = { data?: T; errors?: { message: string }[] };

/** `keepalive`: the request outlives the page (a release sent as the shopper leaves). */
async function graphql<T>(query: string, variables: Record<string, unknown>, options: { keepalive?: boolean } = {}): Promise<T> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query, variables }),
    keepalive: options.keepalive,
  });
  const body = (await response.json()) as GraphQLResponse<T>;
  if (body.errors?.length || !body.data) {
    throw new Error(body.errors?.map((error) => error.message).join("; ") ?? `HTTP ${response.status}`);
  }
  return body.data;
}

/** Every item the public may see (never HIDDEN ones), following the pages of `store.items`. */
export async function readVisibleItems(slug: string): Promise<StorefrontItem[]> {
  const items: StorefrontItem[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data: { store: { items: { edges: { node: ItemRead }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } | null } =
      await graphql(
        `query StorefrontItems($slug: String!, $first: Int!, $after: String) {
          store(slug: $slug) { items(first: $first, after: $after) { edges { node { ${ITEM_FIELDS} } } pageInfo { hasNextPage endCursor } } }
        }`,
        { slug, first: PAGE_SIZE, after },
      );
    if (!data.store) throw new Error(`store ${slug} not found`);
    items.push(...data.store.items.edges.map((edge) => fromRead(edge.node)));
    if (!data.store.items.pageInfo.hasNextPage) break;
    after = data.store.items.pageInfo.endCursor;
  }
  return items;
}

/** One item as the public sees it now; null when it is HIDDEN (or gone). */
export async function readItem(slug: string, itemId: string): Promise<StorefrontItem | null> {
  const data = await graphql<{ store: { item: ItemRead | null } | null }>(
    `query StorefrontItem($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { ${ITEM_FIELDS} } } }`,
    { slug, id: itemId },
  );
  const item = data.store?.item;
  return item ? fromRead(item) : null;
}

export type PlaceOrderResult =
  | { __typename: "Order"; id: string; number: number; total: string; status: string }
  | {
      __typename: "InsufficientStockError";
      code: string;
      message: string;
      shortages: { itemId: string; variantId: string | null; requested: number; available: number }[];
    }
  | { __typename: "OperationError"; code: string; message: string; field: string | null };

/** One line of an order: the variant picked, for an item sold in variants. */
export type OrderLine = { itemId: string; variantId?: string; quantity: number };

/** What opens a cart hold: its id and the token only its shopper got. */
export type ReservationRef = { id: string; token: string };

/** `reservation`: the order takes the units the shopper's hold keeps, and ends the hold. */
export async function placeOrder(
  slug: string,
  input: { lines: OrderLine[]; customerName?: string; idempotencyKey: string; reservation?: ReservationRef },
): Promise<PlaceOrderResult> {
  const data = await graphql<{ placeOrder: PlaceOrderResult }>(
    `mutation StorefrontCheckout($slug: String!, $input: PlaceOrderInput!) {
      placeOrder(store: $slug, input: $input) {
        __typename
        ... on Order { id number total status }
        ... on InsufficientStockError { code message shortages { itemId variantId requested available } }
        ... on OperationError { code message field }
      }
    }`,
    { slug, input },
  );
  return data.placeOrder;
}

export type HoldStatus = "HELD" | "CONVERTED" | "RELEASED" | "EXPIRED";

export type ReserveStockResult =
  | {
      __typename: "ReservationGrant";
      token: string;
      reservation: { id: string; status: HoldStatus; expiresAt: string; createdAt: string };
    }
  | Exclude<PlaceOrderResult, { __typename: "Order" }>;

/** Holds the cart's units for this shopper (SPEC section 9): all the lines or none. */
export async function reserveStock(slug: string, input: { lines: OrderLine[]; idempotencyKey: string }): Promise<ReserveStockResult> {
  const data = await graphql<{ reserveStock: ReserveStockResult }>(
    `mutation StorefrontHold($slug: String!, $input: ReserveStockInput!) {
      reserveStock(store: $slug, input: $input) {
        __typename
        ... on ReservationGrant { token reservation { id status expiresAt createdAt } }
        ... on InsufficientStockError { code message shortages { itemId variantId requested available } }
        ... on OperationError { code message field }
      }
    }`,
    { slug, input },
  );
  return data.reserveStock;
}

/**
 * Gives the hold's units back (idempotent: an ended hold is answered as it is) and answers its
 * items as they are after it, so the page shows them back before their live update arrives;
 * null when the hold is not found. `keepalive` as the page goes away: nobody reads that answer,
 * and the hold's expiry covers a release lost on the way.
 */
export async function releaseReservation(ref: ReservationRef, options: { keepalive?: boolean } = {}): Promise<StorefrontItem[] | null> {
  const data = await graphql<{ releaseReservation: { __typename: string; lines?: { item: ItemRead }[] } }>(
    `mutation StorefrontRelease($input: ReservationRefInput!) {
      releaseReservation(input: $input) { __typename ... on Reservation { lines { item { ${ITEM_FIELDS} } } } }
    }`,
    { input: ref },
    options,
  );
  return data.releaseReservation.lines?.map((line) => fromRead(line.item)) ?? null;
}

/** The hold's status now (the merchant may have released it); null when it is not found. */
export async function readReservationStatus(ref: ReservationRef): Promise<HoldStatus | null> {
  const data = await graphql<{ reservation: { status: HoldStatus } | null }>(
    `query StorefrontHoldStatus($id: ID!, $token: String!) { reservation(id: $id, token: $token) { status } }`,
    { id: ref.id, token: ref.token },
  );
  return data.reservation?.status ?? null;
}

export type LiveEvents = {
  onUpdate(update: StockUpdate): void;
  /** The socket is (again) connected; `wasRetry`: it had been lost, so updates may have been missed. */
  onConnected(wasRetry: boolean): void;
  onDisconnected(): void;
};

/**
 * Subscribes to every StockUpdate of the store (not only the shown items: a HIDDEN item that
 * comes back must be seen too). The client reconnects for as long as the page is open.
 */
export function subscribeToStock(slug: string, events: LiveEvents): Client {
  const client = createClient({
    url: `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql`,
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    on: {
      connected: (_socket, _payload, wasRetry) => events.onConnected(wasRetry),
      closed: () => events.onDisconnected(),
    },
  });
  client.subscribe<{ stockUpdates: StockUpdate }>(
    {
      query: `subscription StorefrontStock($slug: String!) {
        stockUpdates(store: $slug) { itemId availability availableQuantity version variantId variantAvailability variantAvailableQuantity }
      }`,
      variables: { slug },
    },
    {
      next: (message) => {
        if (message.data) events.onUpdate(message.data.stockUpdates);
      },
      error: (error) => console.error("stock updates", error),
      complete: () => {},
    },
  );
  return client;
}
