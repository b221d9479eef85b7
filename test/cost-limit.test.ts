import { complexityFromQuery } from "@pothos/plugin-complexity";
import { getNamedType, getNullableType, isLeafType, isListType, isObjectType, type GraphQLField } from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ITEM, ITEMS, ORDER } from "../src/admin/client/api.ts";
import { defaultConfig } from "../src/config.ts";
import { FLAT_LIST, objectCost } from "../src/graphql/cost.ts";
import { schema } from "../src/graphql/schema.ts";
import { insertStoreAtMaxima } from "./support/bulk-items.ts";
import { gql, newStore, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";

/**
 * GRAPHQL_MAX_COST where it meets the other limits: a store at the documented maxima (50
 * warehouses, items of 100 variants, a stock level of each in every warehouse), and the largest
 * queries the cost limit lets through. Each answers with its data, never a 500; one step past
 * is refused before anything runs.
 */
const MAX_COST = defaultConfig().limits.maxCost;
const ITEMS_AT_MAXIMA = 10;

let server: TestServer;
let store: TestStore;
let warehouseIds: Set<string>;
beforeAll(async () => {
  server = await startTestServer();
  store = await newStore(server.db);
  await insertStoreAtMaxima(server.db.pool, store.id, { items: ITEMS_AT_MAXIMA, variantsPerItem: 100, warehouses: 50 });
  const { rows } = await server.db.pool.query<{ id: string }>("SELECT id FROM warehouses WHERE store_id = $1", [store.id]);
  warehouseIds = new Set(rows.map((row) => row.id));
  expect(warehouseIds.size).toBe(50);
});
afterAll(() => server.close());

const costOf = (query: string, variables: Record<string, unknown> = {}) => complexityFromQuery(query, { schema, variables }).complexity;

/** The largest page size of `query(first)` whose cost is within the limit. */
function largestPage(query: (first: number) => string) {
  let first = 1;
  while (first < 100 && costOf(query(first + 1)) <= MAX_COST) first++;
  expect(costOf(query(first))).toBeLessThanOrEqual(MAX_COST);
  expect(costOf(query(first + 1))).toBeGreaterThan(MAX_COST);
  return first;
}

/** One step past the limit: a validation error, BAD_USER_INPUT, and no data at all. */
async function expectRefused(query: string) {
  const answer = await gql(server.url, query, {}, store.token);
  expect(answer.data).toBeUndefined();
  expect(answer.errors).toEqual([
    expect.objectContaining({ message: expect.stringMatching(`Cost limit of ${MAX_COST} exceeded`), extensions: { code: "BAD_USER_INPUT" } }),
  ]);
}

describe("every list of the schema counts as many objects as it may hold", () => {
  const lists = Object.values(schema.getTypeMap())
    .filter((type) => isObjectType(type) && !type.name.startsWith("__"))
    .flatMap((type) => Object.values((type as { getFields(): Record<string, GraphQLField<unknown, unknown>> }).getFields()).map((field) => ({ type, field })))
    .filter(({ field }) => isListType(getNullableType(field.type)) && !isLeafType(getNamedType(field.type)));

  it("declares its documented maximum (or is a page, or a flat list of plain values)", () => {
    expect(lists.length).toBeGreaterThan(10);
    const undeclared = lists.filter(({ field }) => field.extensions.complexity === objectCost).map(({ type, field }) => `${type.name}.${field.name}`);
    expect(undeclared).toEqual([]);
  });

  it("a flat list holds plain values only: nothing under it reads more", () => {
    for (const { field } of lists.filter(({ field }) => field.extensions.complexity === FLAT_LIST)) {
      const fields = Object.values((getNamedType(field.type) as { getFields(): Record<string, GraphQLField<unknown, unknown>> }).getFields());
      expect(fields.every((inner) => isLeafType(getNamedType(inner.type)))).toBe(true);
    }
  });

  it("a list left undeclared would have no bound: it counts past any limit", () => {
    expect(objectCost({}, {}, lists[0]!.field)).toEqual({ field: Infinity, multiplier: Infinity });
  });
});

describe("the largest queries the cost limit lets through, on a store at the maxima", () => {
  it("every level of every variant with its warehouse (issue 19's query): answers, one more item is refused", async () => {
    const query = (first: number) => `{ items(first: ${first}) { edges { node { variants { stockLevels { quantity warehouse { id } } } } } } }`;
    const first = largestPage(query);
    expect(first).toBeGreaterThanOrEqual(3);
    const answer = await gql(server.url, query(first), {}, store.token);
    expect(answer.errors).toBeUndefined();
    const items = answer.data.items.edges;
    expect(items).toHaveLength(first);
    for (const { node } of items) {
      expect(node.variants).toHaveLength(100);
      for (const variant of node.variants) {
        expect(variant.stockLevels).toHaveLength(50);
        expect(new Set(variant.stockLevels.map((level: { warehouse: { id: string } }) => level.warehouse.id))).toEqual(warehouseIds);
      }
    }
    await expectRefused(query(first + 1));
  });

  it("the most stock levels one query may read: answers, one more item is refused", async () => {
    const query = (first: number) => `{ items(first: ${first}) { edges { node { id variants { id stockLevels { quantity } } } } } }`;
    const first = largestPage(query);
    expect(first).toBeLessThan(ITEMS_AT_MAXIMA);
    const answer = await gql(server.url, query(first), {}, store.token);
    expect(answer.errors).toBeUndefined();
    const levels = answer.data.items.edges.flatMap((edge: any) => edge.node.variants.flatMap((variant: any) => variant.stockLevels));
    expect(levels).toHaveLength(first * 100 * 50);
    await expectRefused(query(first + 1));
  });

  it("a page size in a variable counts like a literal one", async () => {
    const query = `query($first: Int!) { items(first: $first) { edges { node { variants { stockLevels { quantity } } } } } }`;
    // the same document, admitted first: what it cost then does not stand for the next request's variables
    const small = await gql(server.url, query, { first: 1 }, store.token);
    expect(small.errors).toBeUndefined();
    expect(small.data.items.edges).toHaveLength(1);
    const answer = await gql(server.url, query, { first: 100 }, store.token);
    expect(answer.data).toBeUndefined();
    expect(answer.errors?.[0]).toMatchObject({ message: expect.stringMatching(/Cost limit/), extensions: { code: "BAD_USER_INPUT" } });
  });

  it("holds over WebSocket too (graphql-ws)", async () => {
    const client = createClient({ url: `${server.url.replace(/^http/, "ws")}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${store.token}` } });
    try {
      const answer = await new Promise<unknown>((resolve) => {
        const results: unknown[] = [];
        client.subscribe(
          { query: `{ items(first: 100) { edges { node { variants { stockLevels { quantity } } } } } }` },
          { next: (result) => results.push(result), error: resolve, complete: () => resolve(results) },
        );
      });
      expect(JSON.stringify(answer)).toMatch(new RegExp(`Cost limit of ${MAX_COST} exceeded.*BAD_USER_INPUT`));
      expect(JSON.stringify(answer)).not.toMatch(/"data"/);
    } finally {
      await client.dispose();
    }
  });

  it("the console's own screens at the maxima fit: the products page, an item of 100 variants in 50 warehouses", async () => {
    const [item] = (await gql(server.url, `{ items(first: 1) { edges { node { id } } } }`, {}, store.token)).data.items.edges;
    const detail = await gql(server.url, ITEM, { id: item.node.id }, store.token);
    expect(detail.errors).toBeUndefined();
    expect(detail.data.item.variants).toHaveLength(100);
    expect(detail.data.item.variants[0].stockLevels).toHaveLength(50);
    const page = await gql(server.url, ITEMS, { first: 20 }, store.token);
    expect(page.errors).toBeUndefined();
    expect(page.data.items.edges).toHaveLength(ITEMS_AT_MAXIMA);
    // an order of 100 lines, each from up to 50 warehouses, and the storefront's page of 100 items of 100 variants
    expect(costOf(ORDER, { id: item.node.id })).toBeLessThanOrEqual(MAX_COST);
    const storefrontPage = `{ store(slug: "x") { items(first: 100) { edges { node { id name price availability availableQuantity version
      options { name values } variants { id options { name value } price availability availableQuantity } } } pageInfo { hasNextPage endCursor } } } }`;
    expect(costOf(storefrontPage)).toBeLessThanOrEqual(MAX_COST);
  });
});
