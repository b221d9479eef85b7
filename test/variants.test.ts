import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeStatus, gql, gqlData, newItem, startTestServer, storesWithBalancedLedgers, type TestServer } from "./support/harness.ts";
import { liveClient, subscribe } from "./support/live.ts";
import {
  combination,
  countStock,
  createItem,
  mainWarehouseOf,
  orderVariants,
  publicItem,
  readItem,
  readVariant,
  rowCounts,
  tshirt,
  VARIANT_FIELDS,
  variantOf,
} from "./support/variants.ts";

let server: TestServer;
beforeAll(async () => (server = await startTestServer({ poolSize: 20 })));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const SIZES = { name: "Talla", values: ["S", "M", "L"] };
const COLOURS = { name: "Color", values: ["Negro", "Café"] };

const ADD_VARIANT = `mutation($input: AddVariantInput!) {
  addVariant(input: $input) { __typename ... on Variant { ${VARIANT_FIELDS} } ... on OperationError { code message field } }
}`;
const UPDATE_VARIANT = `mutation($input: UpdateVariantInput!) {
  updateVariant(input: $input) { __typename ... on Variant { ${VARIANT_FIELDS} } ... on OperationError { code message field } }
}`;
const UPDATE_ITEM = `mutation($input: UpdateItemInput!) {
  updateItem(input: $input) { __typename ... on Item { id sku } ... on OperationError { code message field } }
}`;

describe("creating an item with options", () => {
  it("sells the listed combinations, each with its SKU, price (its own or the item's) and count in the main warehouse", async () => {
    const s = await store();
    const item = await createItem(server, s, {
      price: "20.00",
      options: [SIZES, COLOURS],
      variants: [
        { options: combination({ Talla: "S", Color: "Negro" }), sku: "CAM-S-N", quantity: 3 },
        // the merchant's spelling of a value need not match in case: the item's is kept
        { options: combination({ color: "café", talla: "l" }), sku: "CAM-L-C", price: "24.50", quantity: 0 },
      ],
    });
    expect(item).toMatchObject({
      __typename: "Item",
      sku: null,
      options: [SIZES, COLOURS],
      quantity: 3,
      availableQuantity: 3,
      availability: "IN_STOCK",
      variants: [
        { sku: "CAM-S-N", options: combination({ Talla: "S", Color: "Negro" }), price: "20.00", quantity: 3, availability: "IN_STOCK" },
        { sku: "CAM-L-C", options: combination({ Talla: "L", Color: "Café" }), price: "24.50", quantity: 0, availability: "SOLD_OUT" },
      ],
    });
    const main = await mainWarehouseOf(server, s);
    const variant = await readVariant(server, s, item.variants[0].id);
    expect(variant.stockLevels).toEqual([
      { warehouse: { id: main, name: "Principal", isMain: true }, quantity: 3, committedQuantity: 0, availableQuantity: 3 },
    ]);
    const movements = await gqlData(
      server.url,
      `query($id: ID!) { item(id: $id) { stockMovements { edges { node { reason delta quantityAfter variantId warehouseId transferId } } } } }`,
      { id: item.id },
      s.token,
    );
    expect(movements.item.stockMovements.edges.map((edge: any) => edge.node)).toEqual(
      expect.arrayContaining([
        { reason: "INITIAL_COUNT", delta: 3, quantityAfter: 3, variantId: item.variants[0].id, warehouseId: main, transferId: null },
      ]),
    );
  });

  it("an item without options has exactly one variant, its default, carrying the item's SKU, price and stock", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 4, sku: "BOLSO-1", price: "99.90" });
    const item = await readItem(server, s, bag.id);
    expect(item.options).toEqual([]);
    expect(item.variants).toEqual([
      expect.objectContaining({ sku: "BOLSO-1", options: [], price: "99.90", quantity: 4, availableQuantity: 4, availability: "IN_STOCK" }),
    ]);
  });

  it("a variant of an untracked item or a service has no quantity", async () => {
    const s = await store();
    const service = await createItem(server, s, {
      type: "SERVICE",
      name: "Bordado",
      options: [{ name: "Tamaño", values: ["Chico", "Grande"] }],
      variants: [{ options: combination({ Tamaño: "Chico" }) }, { options: combination({ Tamaño: "Grande" }), price: "35.00" }],
    });
    expect(service.variants).toEqual([
      expect.objectContaining({ quantity: null, availableQuantity: null, committedQuantity: 0, availability: "IN_STOCK", price: "20.00" }),
      expect.objectContaining({ quantity: null, availableQuantity: null, committedQuantity: 0, availability: "IN_STOCK", price: "35.00" }),
    ]);
    expect(service).toMatchObject({ quantity: null, availability: "IN_STOCK" });
  });

  const tshirtInput = (variants: unknown[], extra: Record<string, unknown> = {}) => ({ options: [SIZES, COLOURS], variants, ...extra });
  const S_NEGRO = { options: combination({ Talla: "S", Color: "Negro" }) };

  it.for([
    {
      rule: "a value that is not one of the option's",
      input: tshirtInput([{ options: combination({ Talla: "XL", Color: "Negro" }) }]),
      field: "variants.0.options",
    },
    {
      rule: "an option the item does not have",
      input: tshirtInput([{ options: combination({ Talla: "S", Material: "Algodón" }) }]),
      field: "variants.0.options",
    },
    {
      rule: "an extra option beside the item's",
      input: tshirtInput([{ options: combination({ Talla: "S", Color: "Negro", Material: "Algodón" }) }]),
      field: "variants.0.options",
    },
    { rule: "a missing option", input: tshirtInput([{ options: combination({ Talla: "S" }) }]), field: "variants.0.options" },
    {
      rule: "one option given twice",
      input: tshirtInput([{ options: [...combination({ Talla: "S" }), ...combination({ Talla: "M" })] }]),
      field: "variants.0.options",
    },
    { rule: "a combination listed twice", input: tshirtInput([S_NEGRO, { options: combination({ Color: "negro", Talla: "s" }) }]), field: "variants.1.options" },
    { rule: "options without variants", input: tshirtInput([]), field: "variants" },
    { rule: "options and no variants at all", input: { options: [SIZES] }, field: "variants" },
    { rule: "a quantity of the item when it has options", input: tshirtInput([S_NEGRO], { quantity: 5 }), field: "quantity" },
    { rule: "a SKU of the item when it has options", input: tshirtInput([S_NEGRO], { sku: "CAM" }), field: "sku" },
    { rule: "variants without options", input: { variants: [{ options: [], quantity: 1 }] }, field: "variants" },
    { rule: "an option without values", input: { options: [{ name: "Talla", values: [] }], variants: [S_NEGRO] }, field: "options.0.values" },
    { rule: "a value listed twice in an option", input: { options: [{ name: "Talla", values: ["S", "s "] }], variants: [S_NEGRO] }, field: "options.0.values" },
    { rule: "two options of one name", input: { options: [SIZES, { name: "talla", values: ["XL"] }], variants: [S_NEGRO] }, field: "options" },
    { rule: "a negative first count of a variant", input: tshirtInput([{ ...S_NEGRO, quantity: -1 }]), field: "variants.0.quantity" },
  ])("refuses $rule (INVALID_INPUT at $field) and creates nothing", async ({ input, field }) => {
    const s = await store();
    const before = await rowCounts(server.db, s.id);
    expect(await createItem(server, s, input)).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
  });
});

describe("limits", () => {
  const values = (count: number, prefix = "v") => Array.from({ length: count }, (_, index) => `${prefix}${index}`);

  it("at most 3 options, 50 values each, 100 variants per item: INVALID_INPUT at the field, nothing created", async () => {
    const s = await store();
    const before = await rowCounts(server.db, s.id);
    const fourOptions = ["A", "B", "C", "D"].map((name) => ({ name, values: ["1"] }));
    expect(
      await createItem(server, s, {
        options: fourOptions,
        variants: [{ options: fourOptions.map((option) => ({ name: option.name, value: "1" })) }],
      }),
    ).toMatchObject({ code: "INVALID_INPUT", field: "options" });
    expect(
      await createItem(server, s, { options: [{ name: "Talla", values: values(51) }], variants: [{ options: combination({ Talla: "v0" }) }] }),
    ).toMatchObject({ code: "INVALID_INPUT", field: "options.0.values" });
    const grid = [
      { name: "A", values: values(11, "a") },
      { name: "B", values: values(10, "b") },
    ];
    const combinations = grid[0]!.values.flatMap((a) => grid[1]!.values.map((b) => ({ options: combination({ A: a, B: b }) })));
    expect(await createItem(server, s, { options: grid, variants: combinations.slice(0, 101) })).toMatchObject({
      code: "INVALID_INPUT",
      field: "variants",
    });
    expect(await rowCounts(server.db, s.id)).toEqual(before);

    // exactly the limits are fine; the 101st variant is refused when added later too
    const full = await createItem(server, s, { options: grid, variants: combinations.slice(0, 100) });
    expect(full.__typename).toBe("Item");
    expect(full.variants).toHaveLength(100);
    const atLimit = await rowCounts(server.db, s.id);
    const added = await gqlData(server.url, ADD_VARIANT, { input: { itemId: full.id, variant: combinations[100] } }, s.token);
    expect(added.addVariant).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "itemId" });
    expect(await rowCounts(server.db, s.id)).toEqual(atLimit);
    const fifty = await createItem(server, s, {
      options: [{ name: "A", values: values(50) }, { name: "B", values: ["x"] }, { name: "C", values: ["y"] }],
      variants: [{ options: combination({ A: "v49", B: "x", C: "y" }) }],
    });
    expect(fifty.__typename).toBe("Item");
  });
});

describe("adding and changing variants", () => {
  it("addVariant sells a new combination with its own count; a combination the item has or does not know is INVALID_INPUT", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1 });
    const added = await gqlData(
      server.url,
      ADD_VARIANT,
      { input: { itemId: shirt.id, variant: { options: combination({ Talla: "M", Color: "Café" }), sku: "NEW-M-C", price: "25.00", quantity: 6 } } },
      s.token,
    );
    expect(added.addVariant).toMatchObject({ __typename: "Variant", itemId: shirt.id, sku: "NEW-M-C", price: "25.00", quantity: 6 });
    expect(await readItem(server, s, shirt.id)).toMatchObject({ quantity: 7 });

    const before = await rowCounts(server.db, s.id);
    for (const [variant, field] of [
      [{ options: combination({ Talla: "S", Color: "Negro" }) }, "variant.options"],
      [{ options: combination({ Talla: "XL", Color: "Negro" }) }, "variant.options"],
      [{ options: combination({ Talla: "L" }) }, "variant.options"],
      [{ options: combination({ Talla: "L", Color: "Negro" }), quantity: -2 }, "variant.quantity"],
    ] as const) {
      const refused = await gqlData(server.url, ADD_VARIANT, { input: { itemId: shirt.id, variant } }, s.token);
      expect(refused.addVariant).toMatchObject({ code: "INVALID_INPUT", field });
    }
    const plain = await newItem(server, s, { quantity: 1 });
    const refused = await gqlData(
      server.url,
      ADD_VARIANT,
      { input: { itemId: plain.id, variant: { options: combination({ Talla: "S" }) } } },
      s.token,
    );
    expect(refused.addVariant).toMatchObject({ code: "INVALID_INPUT", field: "itemId" });
    expect(await rowCounts(server.db, s.id)).toEqual({ ...before, items: before.items! + 1, variants: before.variants! + 1, levels: before.levels! + 1, movements: before.movements! + 1, units: before.units! + 1 });
  });

  it("updateVariant changes its SKU and its own price; the default variant's SKU is its item's", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1, "M/Negro": 1 });
    const variant = variantOf(shirt, "S/Negro");
    const updated = await gqlData(server.url, UPDATE_VARIANT, { input: { id: variant.id, sku: "NUEVO", price: "30.00" } }, s.token);
    expect(updated.updateVariant).toMatchObject({ __typename: "Variant", sku: "NUEVO", price: "30.00" });
    // giving a variant the SKU it already has is no clash
    const again = await gqlData(server.url, UPDATE_VARIANT, { input: { id: variant.id, sku: "NUEVO" } }, s.token);
    expect(again.updateVariant).toMatchObject({ __typename: "Variant", sku: "NUEVO" });
    const cleared = await gqlData(server.url, UPDATE_VARIANT, { input: { id: variant.id, sku: "" } }, s.token);
    expect(cleared.updateVariant).toMatchObject({ __typename: "Variant", sku: null });

    const bag = await newItem(server, s, { sku: "BOLSO" });
    const [defaultVariant] = (await readItem(server, s, bag.id)).variants;
    const renamed = await gqlData(server.url, UPDATE_VARIANT, { input: { id: defaultVariant.id, sku: "BOLSO-2" } }, s.token);
    expect(renamed.updateVariant).toMatchObject({ sku: "BOLSO-2" });
    expect((await readItem(server, s, bag.id)).sku).toBe("BOLSO-2");
    const missing = await gqlData(server.url, UPDATE_VARIANT, { input: { id: "00000000-0000-4000-8000-000000000000", price: "1.00" } }, s.token);
    expect(missing.updateVariant).toMatchObject({ code: "NOT_FOUND", field: "id" });
  });
});

describe("another store's variants", () => {
  it("are NOT_FOUND to addVariant, updateVariant, counts, transfers and orders, and change nothing", async () => {
    const s = await store();
    const theirs = await store();
    const shirt = await tshirt(server, theirs, { "S/Negro": 2 });
    const variant = variantOf(shirt, "S/Negro");
    const main = await mainWarehouseOf(server, s);
    const before = await rowCounts(server.db, theirs.id);
    const added = await gqlData(server.url, ADD_VARIANT, { input: { itemId: shirt.id, variant: { options: combination({ Talla: "M", Color: "Negro" }) } } }, s.token);
    expect(added.addVariant).toMatchObject({ code: "NOT_FOUND", field: "itemId" });
    const updated = await gqlData(server.url, UPDATE_VARIANT, { input: { id: variant.id, price: "1.00" } }, s.token);
    expect(updated.updateVariant).toMatchObject({ code: "NOT_FOUND", field: "id" });
    expect(await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: variant.id, quantity: 9 })).toMatchObject({ code: "NOT_FOUND", field: "itemId" });
    const moved = await gqlData(
      server.url,
      `mutation($input: TransferStockInput!) { transferStock(input: $input) { __typename ... on OperationError { code field } } }`,
      { input: { variantId: variant.id, fromWarehouseId: main, toWarehouseId: await mainWarehouseOf(server, theirs), quantity: 1 } },
      s.token,
    );
    expect(moved.transferStock).toMatchObject({ code: "NOT_FOUND", field: "variantId" });
    expect(await orderVariants(server, s, [{ itemId: shirt.id, variantId: variant.id, quantity: 1 }])).toMatchObject({ code: "NOT_FOUND" });
    expect(await rowCounts(server.db, theirs.id)).toEqual(before);
  });
});

describe("SKUs are unique in the store among items and variants", () => {
  it("whichever way a taken SKU comes back, it is INVALID_INPUT at its field and changes nothing", async () => {
    const s = await store();
    await newItem(server, s, { sku: "BOLSO" });
    const shirt = await tshirt(server, s, { "S/Negro": 1, "M/Negro": 1 });
    const taken = variantOf(shirt, "M/Negro").sku!;
    const before = await rowCounts(server.db, s.id);

    const asVariant = await createItem(server, s, { options: [SIZES], variants: [{ options: combination({ Talla: "S" }), sku: "BOLSO" }] });
    expect(asVariant).toMatchObject({ code: "INVALID_INPUT", field: "variants.0.sku" });
    expect(await createItem(server, s, { sku: taken })).toMatchObject({ code: "INVALID_INPUT", field: "sku" });
    const twice = await createItem(server, s, {
      options: [SIZES],
      variants: [
        { options: combination({ Talla: "S" }), sku: "DOBLE" },
        { options: combination({ Talla: "M" }), sku: "DOBLE" },
      ],
    });
    expect(twice).toMatchObject({ code: "INVALID_INPUT", field: "variants.1.sku" });
    const added = await gqlData(
      server.url,
      ADD_VARIANT,
      { input: { itemId: shirt.id, variant: { options: combination({ Talla: "L", Color: "Café" }), sku: "BOLSO" } } },
      s.token,
    );
    expect(added.addVariant).toMatchObject({ code: "INVALID_INPUT", field: "variant.sku" });
    const updated = await gqlData(server.url, UPDATE_VARIANT, { input: { id: variantOf(shirt, "S/Negro").id, sku: taken } }, s.token);
    expect(updated.updateVariant).toMatchObject({ code: "INVALID_INPUT", field: "sku" });
    const plain = await newItem(server, s, { sku: "OTRO" });
    const renamed = await gqlData(server.url, UPDATE_ITEM, { input: { id: plain.id, sku: taken } }, s.token);
    expect(renamed.updateItem).toMatchObject({ code: "INVALID_INPUT", field: "sku" });

    expect(await rowCounts(server.db, s.id)).toEqual({ ...before, items: before.items! + 1, variants: before.variants! + 1, levels: before.levels! + 1, movements: before.movements! + 1 });
    const { rows } = await server.db.pool.query(`SELECT sku FROM variants WHERE store_id = $1 AND sku IS NOT NULL ORDER BY sku`, [s.id]);
    expect(rows.map((row) => row.sku)).toEqual(["BOLSO", "OTRO", ...shirt.variants.map((v) => v.sku)].sort());
  });

  it("racing requests for one SKU, as items and as variants: one wins, the others are INVALID_INPUT", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1 });
    const requests = [
      ...Array.from({ length: 4 }, () => createItem(server, s, { sku: "CARRERA" })),
      ...Array.from({ length: 4 }, (_, index) =>
        createItem(server, s, { options: [SIZES], variants: [{ options: combination({ Talla: SIZES.values[index % 3]! }), sku: "CARRERA" }] }),
      ),
      ...["M/Negro", "L/Negro", "M/Café", "L/Café"].map((key) => {
        const [size, colour] = key.split("/");
        return gqlData(
          server.url,
          ADD_VARIANT,
          { input: { itemId: shirt.id, variant: { options: combination({ Talla: size!, Color: colour! }), sku: "CARRERA" } } },
          s.token,
        ).then((data) => data.addVariant);
      }),
    ];
    const answers = await Promise.all(requests);
    const won = answers.filter((answer) => answer.__typename !== "OperationError");
    expect(won).toHaveLength(1);
    for (const answer of answers.filter((answer) => answer.__typename === "OperationError")) {
      expect(answer).toMatchObject({ code: "INVALID_INPUT", field: expect.stringMatching(/sku$/) });
    }
    const { rows } = await server.db.pool.query(`SELECT count(*)::int AS n FROM variants WHERE store_id = $1 AND sku = 'CARRERA'`, [s.id]);
    expect(rows[0].n).toBe(1);
  });
});

describe("what the public sees", () => {
  it("leaves out HIDDEN variants; the item is HIDDEN, and gone, only when all its variants are", async () => {
    const s = await store();
    await gqlData(server.url, `mutation { updateInventorySettings(input: { outOfStockBehavior: HIDE }) { __typename } }`, {}, s.token);
    const shirt = await tshirt(server, s, { "S/Negro": 0, "M/Negro": 2 });
    const m = variantOf(shirt, "M/Negro");
    expect(await publicItem(server, s, shirt.id)).toMatchObject({ availability: "IN_STOCK", quantity: 2, variants: [{ id: m.id, availability: "IN_STOCK" }] });
    expect((await readItem(server, s, shirt.id)).variants.map((v: any) => v.availability)).toEqual(["HIDDEN", "IN_STOCK"]);

    expect((await orderVariants(server, s, [{ itemId: shirt.id, variantId: m.id, quantity: 2 }])).__typename).toBe("Order");
    expect(await publicItem(server, s, shirt.id)).toBeNull();
    const list = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { items { edges { node { id } } } } }`, { slug: s.slug });
    expect(list.store.items.edges).toEqual([]);
    expect(await readItem(server, s, shirt.id)).toMatchObject({ availability: "HIDDEN", quantity: 0 });
  });

  it("an item's availability is the best of its variants' and its quantity their sum", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 0, "M/Negro": 0 });
    expect(await publicItem(server, s, shirt.id)).toMatchObject({ availability: "SOLD_OUT", quantity: 0 });
    const m = variantOf(shirt, "M/Negro");
    await countStock(server, s, "setItemQuantity", { itemId: shirt.id, variantId: m.id, quantity: 4 });
    expect(await publicItem(server, s, shirt.id)).toMatchObject({
      availability: "IN_STOCK",
      quantity: 4,
      availableQuantity: 4,
      variants: [{ availability: "SOLD_OUT" }, { availability: "IN_STOCK", quantity: 4 }],
    });
    await gqlData(server.url, UPDATE_ITEM, { input: { id: shirt.id, sellWithoutStock: true } }, s.token);
    expect((await publicItem(server, s, shirt.id)).variants.map((v: any) => v.availability)).toEqual(["BACKORDER", "IN_STOCK"]);
  });

  it("a search by a variant's SKU finds its item; the public's, only by the variants it lists", async () => {
    const s = await store();
    await gqlData(server.url, `mutation { updateInventorySettings(input: { outOfStockBehavior: HIDE }) { __typename } }`, {}, s.token);
    const shirt = await tshirt(server, s, { "S/Negro": 0, "M/Negro": 2 });
    await newItem(server, s, { name: "Bolso" });
    const search = async (term: string, token?: string) =>
      (
        await gqlData(server.url, `query($slug: String!, $term: String) { store(slug: $slug) { items(search: $term) { edges { node { id } } } } }`, {
          slug: s.slug,
          term,
        }, token)
      ).store.items.edges.map((edge: any) => edge.node.id);
    const visible = variantOf(shirt, "M/Negro").sku!;
    const hidden = variantOf(shirt, "S/Negro").sku!;
    expect(await search(visible.toLowerCase())).toEqual([shirt.id]);
    expect(await search(hidden)).toEqual([]);
    expect(await search(hidden, s.token)).toEqual([shirt.id]);
  });

  it("stock levels and Query.variant are the admin's only", async () => {
    const s = await store();
    const other = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1 });
    const publicLevels = await gql(
      server.url,
      `query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { variants { stockLevels { quantity } } } } }`,
      { slug: s.slug, id: shirt.id },
    );
    expect(publicLevels.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const otherLevels = await gql(
      server.url,
      `query($slug: String!, $id: ID!) { store(slug: $slug) { item(id: $id) { variants { stockLevels { quantity } } } } }`,
      { slug: s.slug, id: shirt.id },
      other.token,
    );
    expect(otherLevels.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const variantQuery = `query($id: ID!) { variant(id: $id) { id } }`;
    expect((await gql(server.url, variantQuery, { id: shirt.variants[0]!.id })).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await gqlData(server.url, variantQuery, { id: shirt.variants[0]!.id }, other.token)).toEqual({ variant: null });
    expect(await gqlData(server.url, variantQuery, { id: "not-an-id" }, s.token)).toEqual({ variant: null });
  });

  it("the catalog's variants and their levels come without a query per item (no N+1)", async () => {
    const s = await store();
    // a page of 4: what the cost limit lets through of items of up to 100 variants, each in up to 50 warehouses
    const read = () =>
      gqlData(
        server.url,
        `query { items(first: 4) { edges { node { id variants { id price quantity stockLevels { warehouse { name } quantity } } } } } }`,
        {},
        s.token,
      );
    await tshirt(server, s, { "S/Negro": 0, "M/Café": 1 }, { name: "Camiseta 0" });
    const withOne = await countStatements(server, read);
    for (let index = 1; index < 4; index++) await tshirt(server, s, { "S/Negro": index, "M/Café": 1 }, { name: `Camiseta ${index}` });
    const withFour = await countStatements(server, read);
    expect(withFour).toBe(withOne);
    expect((await read()).items.edges).toHaveLength(4);
  });
});

describe("orders of variants", () => {
  it("name the variant of an item with options; without it INVALID_INPUT; another item's variant is NOT_FOUND", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 3, "M/Negro": 3 });
    const other = await tshirt(server, s, { "L/Café": 3 }, { name: "Otra" });
    const before = await rowCounts(server.db, s.id);
    expect(await orderVariants(server, s, [{ itemId: shirt.id, quantity: 1 }])).toMatchObject({
      code: "INVALID_INPUT",
      field: "lines.0.variantId",
    });
    expect(await orderVariants(server, s, [{ itemId: shirt.id, variantId: other.variants[0]!.id, quantity: 1 }])).toMatchObject({
      code: "NOT_FOUND",
      field: "lines.0.variantId",
    });
    expect(await rowCounts(server.db, s.id)).toEqual(before);

    const s1 = variantOf(shirt, "S/Negro");
    const m1 = variantOf(shirt, "M/Negro");
    await gqlData(server.url, UPDATE_VARIANT, { input: { id: m1.id, price: "26.00" } }, s.token);
    const order = await orderVariants(server, s, [
      { itemId: shirt.id, variantId: s1.id, quantity: 1 },
      { itemId: shirt.id, variantId: m1.id, quantity: 2 },
      { itemId: shirt.id, variantId: s1.id, quantity: 1 },
    ]);
    expect(order).toMatchObject({ __typename: "Order", total: "92.00" });
    expect(order.lines).toEqual([
      { quantity: 2, unitPrice: "20.00", item: { id: shirt.id }, variant: { id: s1.id, sku: s1.sku } },
      { quantity: 2, unitPrice: "26.00", item: { id: shirt.id }, variant: { id: m1.id, sku: m1.sku } },
    ]);
    expect(await readItem(server, s, shirt.id)).toMatchObject({ quantity: 2, variants: [{ quantity: 1 }, { quantity: 1 }] });
  });

  it("a shortage names the variant, and nothing is taken", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1, "M/Negro": 5 });
    const s1 = variantOf(shirt, "S/Negro");
    const m1 = variantOf(shirt, "M/Negro");
    const before = await rowCounts(server.db, s.id);
    const refused = await orderVariants(server, s, [
      { itemId: shirt.id, variantId: s1.id, quantity: 2 },
      { itemId: shirt.id, variantId: m1.id, quantity: 2 },
    ]);
    expect(refused).toMatchObject({
      __typename: "InsufficientStockError",
      shortages: [{ itemId: shirt.id, variantId: s1.id, requested: 2, available: 1 }],
    });
    expect(await rowCounts(server.db, s.id)).toEqual(before);
  });

  it("an item without options is ordered by the item alone, its default variant named on the line", async () => {
    const s = await store();
    const bag = await newItem(server, s, { quantity: 2 });
    const order = await orderVariants(server, s, [{ itemId: bag.id, quantity: 2 }]);
    const [variant] = (await readItem(server, s, bag.id)).variants;
    expect(order.lines).toEqual([expect.objectContaining({ quantity: 2, variant: { id: variant.id, sku: null } })]);
    const refused = await orderVariants(server, s, [{ itemId: bag.id, quantity: 1 }]);
    expect(refused.shortages).toEqual([{ itemId: bag.id, variantId: variant.id, requested: 1, available: 0 }]);
    expect((await changeStatus(server, s, order.id, "CANCELLED")).status).toBe("CANCELLED");
    expect(await readItem(server, s, bag.id)).toMatchObject({ quantity: 2, variants: [{ quantity: 2 }] });
  });
});

describe("live updates of variants", () => {
  it("one StockUpdate per changed variant: the item's aggregate, and the variant's own availability", async () => {
    const s = await store();
    const shirt = await tshirt(server, s, { "S/Negro": 1, "M/Negro": 2 });
    const s1 = variantOf(shirt, "S/Negro");
    const m1 = variantOf(shirt, "M/Negro");
    const client = liveClient(server.url);
    try {
      const live = subscribe(
        client,
        `subscription($store: String!, $ids: [ID!]) {
          stockUpdates(store: $store, itemIds: $ids) { itemId availability availableQuantity version variantId variantAvailability variantAvailableQuantity at }
        }`,
        { store: s.slug, ids: [shirt.id] },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const order = await orderVariants(server, s, [
        { itemId: shirt.id, variantId: s1.id, quantity: 1 },
        { itemId: shirt.id, variantId: m1.id, quantity: 1 },
      ]);
      expect(order.__typename).toBe("Order");
      await live.until((updates) => updates.length >= 2, "two updates");
      const updates = live.updates as unknown as Record<string, unknown>[];
      expect(updates).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ itemId: shirt.id, variantId: s1.id, variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0, availability: "IN_STOCK", availableQuantity: 1 }),
          expect.objectContaining({ itemId: shirt.id, variantId: m1.id, variantAvailability: "IN_STOCK", variantAvailableQuantity: 1, availability: "IN_STOCK", availableQuantity: 1 }),
        ]),
      );
      live.close();
    } finally {
      await client.dispose();
    }
  });
});

/**
 * How many SQL statements `work` makes the server run outside transactions (Prisma's reads go
 * through pool.query), leaving out the cart holds' expiry sweep, which runs on its own timer.
 */
async function countStatements(testServer: TestServer, work: () => Promise<unknown>) {
  const pool = testServer.db.pool as unknown as { query: (...args: unknown[]) => unknown };
  const original = pool.query;
  let statements = 0;
  pool.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === "string" ? first : (first?.text ?? "");
    if (!/FROM reservations WHERE status = 'HELD' AND expires_at <= now\(\)/.test(text)) statements++;
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    pool.query = original;
  }
  return statements;
}
