import type { Database } from "../../src/db/pool.ts";
import { gqlData, type GraphQLResponse, type TestStore } from "./harness.ts";

/** Helpers for cart-hold tests (SPEC section 9): the public mutations as a storefront sends them, and what the database holds. */

type Server = { url: string };
export type Line = { itemId: string; variantId?: string; quantity: number };
export type Ref = { id: string; token: string };

export const RESERVATION_FIELDS = `id status expiresAt orderId createdAt lines { quantity item { id } variant { id } }`;
const RESERVE = `mutation($store: String!, $input: ReserveStockInput!) {
  reserveStock(store: $store, input: $input) {
    __typename
    ... on ReservationGrant { token reservation { ${RESERVATION_FIELDS} } }
    ... on InsufficientStockError { code message shortages { itemId variantId requested available } }
    ... on OperationError { code message field }
  }
}`;
const RESULT = `__typename ... on Reservation { ${RESERVATION_FIELDS} } ... on OperationError { code message field }`;
const RELEASE = `mutation($input: ReservationRefInput!) { releaseReservation(input: $input) { ${RESULT} } }`;
const RELEASE_AS_ADMIN = `mutation($id: ID!) { releaseReservationAsAdmin(id: $id) { ${RESULT} } }`;
export const PLACE_WITH_HOLD = `mutation($store: String!, $input: PlaceOrderInput!) {
  placeOrder(store: $store, input: $input) {
    __typename
    ... on Order { id number status lines { quantity item { id } variant { id } } }
    ... on InsufficientStockError { code shortages { itemId variantId requested available } }
    ... on OperationError { code message field }
  }
}`;

/** POSTs one operation with extra headers (a client's address behind the trusted proxy, a token). */
export async function post<T = any>(server: Server, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** reserveStock as a storefront sends it; answers the result union's value. */
export async function reserve(server: Server, store: TestStore, lines: Line[], extra: { idempotencyKey?: string } = {}, headers: Record<string, string> = {}) {
  const result = await post(server, RESERVE, { store: store.slug, input: { lines, ...extra } }, headers);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data.reserveStock;
}

/** reserveStock that must succeed: the grant's hold and the ref that opens it. */
export async function hold(server: Server, store: TestStore, lines: Line[], extra: { idempotencyKey?: string } = {}, headers: Record<string, string> = {}) {
  const grant = await reserve(server, store, lines, extra, headers);
  if (grant.__typename !== "ReservationGrant") throw new Error(`reserveStock refused: ${JSON.stringify(grant)}`);
  return { ...grant.reservation, ref: { id: grant.reservation.id, token: grant.token } as Ref };
}

export async function release(server: Server, ref: Ref) {
  return (await gqlData(server.url, RELEASE, { input: ref })).releaseReservation;
}

export async function releaseAsAdmin(server: Server, store: TestStore, id: string) {
  return (await gqlData(server.url, RELEASE_AS_ADMIN, { id }, store.token)).releaseReservationAsAdmin;
}

/** placeOrder with `reservation` (or without, when null). */
export async function placeWithHold(server: Server, store: TestStore, lines: Line[], reservation: Ref | null, extra: Record<string, unknown> = {}) {
  return (await gqlData(server.url, PLACE_WITH_HOLD, { store: store.slug, input: { lines, reservation, ...extra } })).placeOrder;
}

/** The store's reservationMinutes, set through the admin API. */
export async function setReservationMinutes(server: Server, store: TestStore, reservationMinutes: number) {
  const data = await gqlData(
    server.url,
    `mutation($input: UpdateInventorySettingsInput!) {
      updateInventorySettings(input: $input) { __typename ... on InventorySettings { reservationMinutes } ... on OperationError { code message field } }
    }`,
    { input: { reservationMinutes } },
    store.token,
  );
  return data.updateInventorySettings;
}

/** An item's stored counts, held units included. */
export async function countsOf(db: Database, storeId: string, itemId: string) {
  const { rows } = await db.pool.query(
    `SELECT quantity, committed_quantity AS "committedQuantity", reserved_quantity AS "reservedQuantity",
            quantity - committed_quantity - reserved_quantity AS available, availability, version
       FROM items WHERE store_id = $1 AND id = $2`,
    [storeId, itemId],
  );
  return rows[0] as { quantity: number; committedQuantity: number; reservedQuantity: number; available: number; availability: string; version: number };
}

/** A hold's stored status and order. */
export async function statusOf(db: Database, storeId: string, id: string) {
  const { rows } = await db.pool.query(`SELECT status, order_id AS "orderId", ended_at AS "endedAt" FROM reservations WHERE store_id = $1 AND id = $2`, [
    storeId,
    id,
  ]);
  return rows[0] as { status: string; orderId: string | null; endedAt: Date | null } | undefined;
}

/**
 * Moves a hold's expiresAt into the past, as if its minutes had run out: what expiry does then is
 * the test's subject, not the wait (test/reservations-expiry.test.ts waits a real minute).
 */
export async function runOut(db: Database, storeId: string, id: string) {
  await db.pool.query(`UPDATE reservations SET expires_at = now() - interval '1 second' WHERE store_id = $1 AND id = $2`, [storeId, id]);
}

/** The stock movements of an item (a hold writes none). */
export async function movementCount(db: Database, storeId: string, itemId: string) {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM stock_movements WHERE store_id = $1 AND item_id = $2`, [storeId, itemId]);
  return rows[0].n as number;
}

const CREATE_SHIRT = `mutation($input: CreateItemInput!) {
  createItem(input: $input) { __typename ... on Item { id variants { id options { value } } } ... on OperationError { code message } }
}`;

/** "Camiseta" in sizes S and M with these quantities; answers it with its variants' ids by size. */
export async function newShirt(server: Server, store: TestStore, quantities: { S: number; M: number }) {
  const created = await gqlData(
    server.url,
    CREATE_SHIRT,
    {
      input: {
        name: "Camiseta", type: "PRODUCT", price: "45000", options: [{ name: "Talla", values: ["S", "M"] }],
        variants: (["S", "M"] as const).map((size) => ({ options: [{ name: "Talla", value: size }], quantity: quantities[size] })),
      },
    },
    store.token,
  );
  if (created.createItem.__typename !== "Item") throw new Error(`createItem: ${JSON.stringify(created.createItem)}`);
  const shirt = created.createItem as { id: string; variants: { id: string; options: { value: string }[] }[] };
  const size = (name: "S" | "M") => shirt.variants.find((variant) => variant.options[0]!.value === name)!.id;
  return { ...shirt, small: size("S"), medium: size("M") };
}
