import { getIntrospectionQuery } from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadConfig, type RequestLimits } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { createOrderRateLimiter } from "../src/orders/order-rate-limit.ts";
import {
  gql,
  gqlData,
  newItem,
  newStore,
  PLACE_ORDER,
  startTestServer,
  stockOf,
  unbalancedLedgers,
  type TestServer,
  type TestStore,
} from "./support/harness.ts";

/** Tight limits, so that small requests can break each of them. */
const TIGHT: RequestLimits = { maxDepth: 3, maxAliases: 2, maxTokens: 120, maxCost: 60, maxDirectives: 2, maxBodyBytes: 2_048 };

let tight: TestServer;
let open: TestServer;
let store: TestStore;
let item: { id: string };
beforeAll(async () => {
  [tight, open] = await Promise.all([startTestServer({ config: { limits: TIGHT } }), startTestServer()]);
  store = await newStore(tight.db);
  item = await newItem(open, store, { quantity: 10 });
});
afterAll(async () => Promise.all([tight.close(), open.close()]));

/** Whatever a refused request asked, nothing changed and both servers still answer. */
afterEach(async () => {
  expect(await stockOf(tight.db, store.id, item.id)).toMatchObject({ quantity: 10, committedQuantity: 0 });
  const { rows } = await tight.db.pool.query("SELECT count(*)::int AS n FROM orders WHERE store_id = $1", [store.id]);
  expect(rows[0].n).toBe(0);
  expect(await unbalancedLedgers(tight.db, store.id)).toEqual([]);
  for (const server of [tight, open]) expect((await fetch(`${server.url}/health`)).status).toBe(200);
});

/** POSTs a raw body to /graphql and returns the status, headers and parsed answer. */
async function post(server: { url: string }, body: string | ReadableStream, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    ...(typeof body === "string" ? {} : { duplex: "half" }),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text.startsWith("{") ? JSON.parse(text) : null };
}

const json = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
const orderOf = (quantity: number) => ({ store: store.slug, input: { lines: [{ itemId: item.id, quantity }] } });

describe("query limits refuse a request before anything runs", () => {
  it("deeper than GRAPHQL_MAX_DEPTH: a validation error (BAD_USER_INPUT), the order is not placed", async () => {
    const deep = `mutation($store: String!, $input: PlaceOrderInput!) {
      placeOrder(store: $store, input: $input) { ... on Order { lines { item { id } } } } }`;
    // HTTP 400 for a client that accepts the GraphQL-over-HTTP media type; 200 with plain JSON, as the spec says
    const answer = await post(tight, json(deep, orderOf(1)), { accept: "application/graphql-response+json" });
    expect(answer.status).toBe(400);
    expect(answer.json.errors[0]).toMatchObject({ message: expect.stringMatching(/depth limit of 3/), extensions: { code: "BAD_USER_INPUT" } });
    expect(answer.json.data).toBeUndefined();
    const shallow = await post(tight, json(`{ store(slug: "x") { name } }`));
    expect(shallow.json).toEqual({ data: { store: null } });
  });

  it("more aliases than GRAPHQL_MAX_ALIASES: three orders in one request place none", async () => {
    const aliased = `mutation($store: String!, $input: PlaceOrderInput!) {
      a: placeOrder(store: $store, input: $input) { __typename }
      b: placeOrder(store: $store, input: $input) { __typename }
      c: placeOrder(store: $store, input: $input) { __typename } }`;
    const answer = await post(tight, json(aliased, orderOf(1)));
    expect(answer.json.data).toBeUndefined();
    expect(answer.json.errors[0]).toMatchObject({ message: expect.stringMatching(/Aliases limit of 2/), extensions: { code: "BAD_USER_INPUT" } });
  });

  it("more tokens than GRAPHQL_MAX_TOKENS: refused while parsing", async () => {
    const fields = Array.from({ length: 150 }, () => "name").join(" ");
    const answer = await post(tight, json(`{ store(slug: "x") { ${fields} } }`));
    expect(answer.json.data).toBeUndefined();
    expect(answer.json.errors[0].message).toMatch(/Token limit of 120/);
  });

  it("a cost over GRAPHQL_MAX_COST (a list counts the objects it may hold: a page of 100 counts 100)", async () => {
    const answer = await post(tight, json(`{ syncRuns(first: 100) { id } }`));
    expect(answer.json.data).toBeUndefined();
    expect(answer.json.errors[0]).toMatchObject({ message: expect.stringMatching(/Cost limit of 60/), extensions: { code: "BAD_USER_INPUT" } });
  });

  it("more directives than GRAPHQL_MAX_DIRECTIVES", async () => {
    const answer = await post(tight, json(`{ store(slug: "x") @include(if: true) { name @include(if: true) slug @skip(if: false) } }`));
    expect(answer.json.data).toBeUndefined();
    expect(answer.json.errors[0].message).toMatch(/Directives limit of 2/);
  });

  it("the same limits hold over WebSocket (graphql-ws)", async () => {
    const client = createClient({ url: `${tight.url.replace(/^http/, "ws")}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const deep = `mutation($store: String!, $input: PlaceOrderInput!) {
        placeOrder(store: $store, input: $input) { ... on Order { lines { item { id } } } } }`;
      const errors = await new Promise<unknown>((resolve) => {
        client.subscribe({ query: deep, variables: orderOf(1) }, { next: () => {}, error: resolve, complete: () => resolve(null) });
      });
      expect(JSON.stringify(errors)).toMatch(/depth limit of 3/);
    } finally {
      await client.dispose();
    }
  });

  it("the default limits admit what the storefront and the admin tools ask", async () => {
    const page = await gqlData(
      open.url,
      `query($slug: String!) { store(slug: $slug) { items(first: 100) { edges { node {
         id sku name type price trackInventory sellWithoutStock quantity committedQuantity availableQuantity availability version
       } } pageInfo { hasNextPage endCursor } } } }`,
      { slug: store.slug },
    );
    expect(page.store.items.edges).toHaveLength(1);
    const movements = await gqlData(
      open.url,
      `query($id: ID!) { item(id: $id) { stockMovements(first: 100) { edges { node { id delta quantityAfter reason orderId note createdAt } } } } }`,
      { id: item.id },
      store.token,
    );
    expect(movements.item.stockMovements.edges).toHaveLength(1);
  });
});

describe("request bodies larger than MAX_BODY_BYTES", () => {
  const padded = (bytes: number) => json(PLACE_ORDER, { ...orderOf(1), padding: "x".repeat(bytes) });

  it("are answered 413 from their Content-Length, before being read or parsed", async () => {
    const answer = await post(tight, padded(3_000));
    expect(answer.status).toBe(413);
    expect(answer.json.errors[0]).toMatchObject({ message: "The request body is larger than 2048 bytes", extensions: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("are answered 413 when a chunked body without Content-Length grows past the limit", async () => {
    const body = new TextEncoder().encode(padded(5_000));
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < body.length; at += 512) controller.enqueue(body.slice(at, at + 512));
        controller.close();
      },
    });
    const answer = await post(tight, chunks);
    expect(answer.status).toBe(413);
  });

  it("a body within the limit is served as usual", async () => {
    const answer = await post(tight, json(`query($slug: String!) { store(slug: $slug) { name } }`, { slug: store.slug, padding: "x".repeat(1_500) }));
    expect(answer.json).toEqual({ data: { store: { name: "Ejemplar" } } });
  });
});

describe("CSRF prevention", () => {
  it("refuses a form-like (CORS-simple) POST, which a page of another site could send", async () => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const answer = await post(open, json(PLACE_ORDER, orderOf(1)), { "content-type": contentType });
      expect(answer.status).toBe(403);
      expect(answer.text).toMatch(/CSRF/);
    }
  });

  it("refuses a GET without a GraphQL client header, and serves one that has it", async () => {
    const query = encodeURIComponent(`{ store(slug: "${store.slug}") { name } }`);
    expect((await fetch(`${open.url}/graphql?query=${query}`)).status).toBe(403);
    const withHeader = await fetch(`${open.url}/graphql?query=${query}`, { headers: { "x-graphql-client": "storefront" } });
    expect(await withHeader.json()).toEqual({ data: { store: { name: "Ejemplar" } } });
  });
});

describe("introspection and GraphiQL", () => {
  it("are off by default in production, and can be forced either way", () => {
    expect(loadConfig({ NODE_ENV: "production" })).toMatchObject({ graphiql: false, introspection: false });
    expect(loadConfig({ NODE_ENV: "production", INTROSPECTION: "true", GRAPHIQL: "true" })).toMatchObject({ graphiql: true, introspection: true });
    expect(loadConfig({})).toMatchObject({ graphiql: true, introspection: true });
  });

  it("with introspection off, __schema and __type are refused and field suggestions hidden; __typename works", async () => {
    const closed = await startTestServer({ config: { introspection: false, graphiql: false } });
    try {
      const schema = await gql(closed.url, `{ __schema { types { name } } }`);
      expect(schema.errors?.[0]?.message).toMatch(/introspection/i);
      const type = await gql(closed.url, `{ __type(name: "Item") { name } }`);
      expect(type.errors?.[0]?.message).toMatch(/introspection/i);
      const typo = await gql(closed.url, `{ stor(slug: "x") { name } }`);
      expect(typo.errors?.[0]?.message).toMatch(/Cannot query field "stor"/);
      expect(typo.errors?.[0]?.message).not.toMatch(/store/);
      expect(await gqlData(closed.url, `{ __typename }`)).toEqual({ __typename: "Query" });
      const page = await fetch(`${closed.url}/graphql`, { headers: { accept: "text/html" } });
      expect(await page.text()).not.toMatch(/graphiql/i);
    } finally {
      await closed.close();
    }
  });

  it("with introspection on (development), GraphiQL's full schema query fits the default limits", async () => {
    const schema = await gqlData(open.url, getIntrospectionQuery());
    expect(schema.__schema.queryType.name).toBe("Query");
  });
});

describe("unexpected errors are masked", () => {
  it("a real database error answers 'Unexpected error.' without stack, SQL or driver text, and changes nothing", async () => {
    const trigger = `limits_test_boom_${store.id.replaceAll("-", "")}`;
    await tight.db.pool.query(
      `CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'boom: SELECT secret FROM internal_table'; END $$`,
    );
    await tight.db.pool.query(
      `CREATE TRIGGER ${trigger} BEFORE UPDATE ON items FOR EACH ROW WHEN (NEW.store_id = '${store.id}') EXECUTE FUNCTION ${trigger}()`,
    );
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = "development"; // yoga would add the original error in development mode
    try {
      const answer = await post(open, json(`mutation($id: ID!) { setItemQuantity(input: { itemId: $id, quantity: 3 }) { __typename } }`, { id: item.id }), {
        authorization: `Bearer ${store.token}`,
      });
      expect(answer.json.errors).toEqual([
        expect.objectContaining({ message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }),
      ]);
      expect(answer.text).not.toMatch(/boom|SELECT|internal_table|plpgsql|stack|\.ts:\d+|originalError/i);
    } finally {
      process.env.NODE_ENV = nodeEnv;
      await tight.db.pool.query(`DROP TRIGGER ${trigger} ON items`);
      await tight.db.pool.query(`DROP FUNCTION ${trigger}()`);
    }
  });
});

describe("the public placeOrder is rate limited per client and store", () => {
  // a fixed clock, half a minute before the window ends: no window ends in the middle of a test
  const MID_MINUTE = Date.UTC(2026, 10, 28, 12, 0, 30);
  // Its own store and item: the orders it places are meant to happen.
  let limited: TestServer;
  let shop: TestStore;
  let other: TestStore;
  let bag: { id: string };
  beforeAll(async () => {
    const orderRateLimiter = createOrderRateLimiter({ perMinute: 3, logger: createLogger("silent"), now: () => MID_MINUTE });
    limited = await startTestServer({ orderRateLimiter, config: { trustProxy: 1 } });
    [shop, other] = [await newStore(limited.db), await newStore(limited.db)];
    bag = await newItem(limited, shop, { quantity: 100 });
  });
  afterAll(async () => limited.close());

  const order = (client: string, inStore = shop, itemId = bag.id) =>
    post(limited, json(PLACE_ORDER, { store: inStore.slug, input: { lines: [{ itemId, quantity: 1 }] } }), { "x-forwarded-for": client });

  it("the call over the limit is RATE_LIMITED with HTTP 429 and Retry-After, and takes no stock", async () => {
    for (let n = 0; n < 3; n++) expect((await order("203.0.113.7")).json.data.placeOrder.__typename).toBe("Order");
    const refused = await order("203.0.113.7");
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBe(30);
    expect(refused.json.errors[0]).toMatchObject({
      message: expect.stringMatching(/Too many orders/),
      extensions: { code: "RATE_LIMITED", retryAfterSeconds: retryAfter },
    });
    expect(refused.json.data).toBeNull();
    expect(await stockOf(limited.db, shop.id, bag.id)).toMatchObject({ quantity: 97 });
    expect(await unbalancedLedgers(limited.db, shop.id)).toEqual([]);

    // another client, and the same client in another store, have limits of their own
    expect((await order("203.0.113.8")).json.data.placeOrder.__typename).toBe("Order");
    const elsewhere = await order("203.0.113.7", other, "00000000-0000-4000-8000-000000000000");
    expect(elsewhere.json.data.placeOrder).toMatchObject({ code: "NOT_FOUND" });
  });

  it("behind the trusted proxy the client is the address it appended; what the client wrote before it is not believed", async () => {
    for (let n = 0; n < 3; n++) expect((await order(`10.0.0.${n}, 198.51.100.1`)).status).toBe(200);
    expect((await order("10.0.0.99, 198.51.100.1")).status).toBe(429);
  });

  it("without a trusted proxy X-Forwarded-For is ignored: the peer address counts", async () => {
    const orderRateLimiter = createOrderRateLimiter({ perMinute: 1, logger: createLogger("silent"), now: () => MID_MINUTE });
    const direct = await startTestServer({ orderRateLimiter });
    try {
      const from = (client: string) =>
        post(direct, json(PLACE_ORDER, { store: shop.slug, input: { lines: [{ itemId: bag.id, quantity: 1 }] } }), { "x-forwarded-for": client });
      expect((await from("192.0.2.1")).status).toBe(200);
      expect((await from("192.0.2.2")).status).toBe(429);
    } finally {
      await direct.close();
    }
  });
});
