import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.ts";
import { createOrderRateLimiter } from "../src/orders/order-rate-limit.ts";
import { MAX_ACTIVE_TOKENS } from "../src/stores/storefront-tokens.ts";
import { gql, gqlData, newItem, newStore, PLACE_ORDER, startTestServer, stockOf, type TestServer, type TestStore } from "./support/harness.ts";

// Orders per minute: 2 for each client or shopper, 5 for each storefront token; the clock stays
// in the middle of one minute, so no window ends during a test.
const MID_MINUTE = Date.UTC(2026, 10, 28, 12, 0, 30);
let server: TestServer;
beforeAll(async () => {
  const orderRateLimiter = createOrderRateLimiter({ perMinute: 2, logger: createLogger("silent"), now: () => MID_MINUTE });
  server = await startTestServer({ orderRateLimiter, config: { storefrontTokenOrdersPerMinute: 5 } });
});
afterAll(async () => server.close());

const CREATE = `mutation($name: String!) { createStorefrontToken(name: $name) {
  __typename ... on CreatedStorefrontToken { token storefrontToken { id name lastFour createdAt revokedAt } } ... on OperationError { code field } } }`;
const LIST = `{ storefrontTokens { id name lastFour revokedAt } }`;
const REVOKE = `mutation($id: ID!) { revokeStorefrontToken(id: $id) { __typename ... on StorefrontToken { id revokedAt } ... on OperationError { code field } } }`;

async function newToken(store: TestStore, name = "Next.js shop") {
  const data = await gqlData(server.url, CREATE, { name }, store.token);
  return data.createStorefrontToken as { token: string; storefrontToken: { id: string; lastFour: string } };
}

/** placeOrder for one unit of `itemId` of `store`, with these headers; answers the HTTP status and body. */
async function order(store: TestStore, itemId: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query: PLACE_ORDER, variables: { store: store.slug, input: { lines: [{ itemId, quantity: 1 }] } } }),
  });
  return { status: response.status, body: (await response.json()) as { data?: { placeOrder: { __typename: string } } | null; errors?: { message: string; extensions: { code: string } }[] } };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const placed = (answer: Awaited<ReturnType<typeof order>>) => answer.body.data?.placeOrder.__typename === "Order";

describe("storefront access tokens", () => {
  it("are created by the store's admin, shown once (st_...), listed by name and last four characters, stored only as a hash", async () => {
    const store = await newStore(server.db);
    const created = await newToken(store, "Next.js shop");
    expect(created.token).toMatch(/^st_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(created.storefrontToken).toMatchObject({ name: "Next.js shop", lastFour: created.token.slice(-4), revokedAt: null });

    const listed = await gqlData(server.url, LIST, {}, store.token);
    expect(listed.storefrontTokens).toEqual([{ id: created.storefrontToken.id, name: "Next.js shop", lastFour: created.token.slice(-4), revokedAt: null }]);
    const { rows } = await server.db.pool.query("SELECT * FROM storefront_tokens WHERE store_id = $1", [store.id]);
    // st_<store>_<secret>: the secret, base64url, may itself hold underscores
    const secret = created.token.split("_").slice(2).join("_");
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0].secret_hash.toString("hex")).not.toContain(Buffer.from(secret).toString("hex"));
  });

  it("need a name, and a store has at most a few in use", async () => {
    const store = await newStore(server.db);
    expect((await gqlData(server.url, CREATE, { name: " " }, store.token)).createStorefrontToken).toMatchObject({ code: "INVALID_INPUT", field: "name" });
    for (let n = 0; n < MAX_ACTIVE_TOKENS; n++) await newToken(store, `server ${n}`);
    expect((await gqlData(server.url, CREATE, { name: "one more" }, store.token)).createStorefrontToken).toMatchObject({ code: "INVALID_INPUT", field: "name" });
  });

  it("grant nothing admin: admin fields and mutations answer FORBIDDEN", async () => {
    const store = await newStore(server.db);
    const { token } = await newToken(store);
    for (const query of [
      `{ items { edges { node { id } } } }`,
      `{ storefrontTokens { id } }`,
      `mutation { createItem(input: { name: "x", type: PRODUCT, price: "1" }) { __typename } }`,
      `mutation { createStorefrontToken(name: "another") { __typename } }`,
      `query($slug: String!) { store(slug: $slug) { inventorySettings { outOfStockBehavior } } }`,
    ]) {
      const answer = await gql(server.url, query, { slug: store.slug }, token);
      expect(answer.errors?.[0]?.extensions?.code, query).toBe("FORBIDDEN");
    }
    // the public storefront reads stay public
    expect((await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { name } }`, { slug: store.slug }, token)).store).toEqual({ name: "Ejemplar" });
  });

  it("are revoked by their store's admin only; a revoked token is UNAUTHENTICATED and its X-Buyer-IP no longer counts", async () => {
    const store = await newStore(server.db);
    const other = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 100 });
    const { token, storefrontToken } = await newToken(store);
    expect(placed(await order(store, bag.id, { ...bearer(token), "x-buyer-ip": "198.51.100.1" }))).toBe(true);

    expect((await gqlData(server.url, REVOKE, { id: storefrontToken.id }, other.token)).revokeStorefrontToken).toMatchObject({ code: "NOT_FOUND", field: "id" });
    const revoked = (await gqlData(server.url, REVOKE, { id: storefrontToken.id }, store.token)).revokeStorefrontToken;
    expect(revoked).toMatchObject({ __typename: "StorefrontToken", id: storefrontToken.id, revokedAt: expect.any(String) });
    expect((await gqlData(server.url, REVOKE, { id: storefrontToken.id }, store.token)).revokeStorefrontToken).toEqual(revoked);
    expect((await gqlData(server.url, LIST, {}, store.token)).storefrontTokens[0].revokedAt).toBe(revoked.revokedAt);

    const refused = await order(store, bag.id, { ...bearer(token), "x-buyer-ip": "198.51.100.2" });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const admin = await gql(server.url, `{ items { edges { cursor } } }`, {}, token);
    expect(admin.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 99 });
  });

  it("of another store: placeOrder is FORBIDDEN, takes nothing and gets no budget", async () => {
    const mine = await newStore(server.db);
    const theirs = await newStore(server.db);
    const bag = await newItem(server, theirs, { quantity: 10 });
    const { token } = await newToken(mine);
    for (const buyer of ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) {
      const answer = await order(theirs, bag.id, { ...bearer(token), "x-buyer-ip": buyer });
      expect(answer.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    expect(await stockOf(server.db, theirs.id, bag.id)).toMatchObject({ quantity: 10 });
  });
});

describe("placeOrder's limit with a storefront token", () => {
  it("counts per shopper (X-Buyer-IP), and all the token's shoppers under its larger budget", async () => {
    const store = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 100 });
    const { token } = await newToken(store);
    const as = (buyer: string) => order(store, bag.id, { ...bearer(token), "x-buyer-ip": buyer });

    expect(placed(await as("203.0.113.1"))).toBe(true);
    expect(placed(await as("203.0.113.1"))).toBe(true);
    const shopperOver = await as("203.0.113.1");
    expect(shopperOver.status).toBe(429);
    expect(shopperOver.body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/this shopper/), extensions: { code: "RATE_LIMITED" } });

    // other shoppers of the same server have limits of their own (IPv6 too), up to the token's 5 calls
    expect(placed(await as("2001:db8::1"))).toBe(true);
    expect(placed(await as("203.0.113.2"))).toBe(true);
    const tokenOver = await as("203.0.113.3");
    expect(tokenOver.status).toBe(429);
    expect(tokenOver.body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/this storefront token/), extensions: { code: "RATE_LIMITED" } });
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 96 });
  });

  it("without X-Buyer-IP counts the server itself as the shopper", async () => {
    const store = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 100 });
    const { token } = await newToken(store);
    expect(placed(await order(store, bag.id, bearer(token)))).toBe(true);
    expect(placed(await order(store, bag.id, bearer(token)))).toBe(true);
    expect((await order(store, bag.id, bearer(token))).status).toBe(429);
  });

  it("refuses a malformed X-Buyer-IP (BAD_USER_INPUT) instead of counting every shopper as the server", async () => {
    const store = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 5 });
    const { token } = await newToken(store);
    for (const buyer of ["not an address", "203.0.113.1, 203.0.113.2", "999.1.1.1"]) {
      const answer = await order(store, bag.id, { ...bearer(token), "x-buyer-ip": buyer });
      expect(answer.body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/X-Buyer-IP/), extensions: { code: "BAD_USER_INPUT" } });
    }
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 5 });
  });

  it("without a valid storefront token X-Buyer-IP is ignored: the client's own address counts", async () => {
    const store = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 100 });
    expect(placed(await order(store, bag.id, { "x-buyer-ip": "203.0.113.10" }))).toBe(true);
    expect(placed(await order(store, bag.id, { "x-buyer-ip": "203.0.113.11" }))).toBe(true);
    expect((await order(store, bag.id, { "x-buyer-ip": "203.0.113.12" })).status).toBe(429);
    // nor does an admin token make it count, even a malformed one
    expect((await order(store, bag.id, { ...bearer(store.token), "x-buyer-ip": "203.0.113.13" })).status).toBe(429);
    expect((await order(store, bag.id, { ...bearer(store.token), "x-buyer-ip": "garbage" })).status).toBe(429);
  });

  it("a made-up storefront token is UNAUTHENTICATED and orders nothing", async () => {
    const store = await newStore(server.db);
    const bag = await newItem(server, store, { quantity: 5 });
    const { token } = await newToken(store);
    const forged = `${token.slice(0, -4)}${token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const answer = await order(store, bag.id, { ...bearer(forged), "x-buyer-ip": "203.0.113.1" });
    expect(answer.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await stockOf(server.db, store.id, bag.id)).toMatchObject({ quantity: 5 });
  });
});
