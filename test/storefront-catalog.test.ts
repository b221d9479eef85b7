import { describe, expect, it } from "vitest";
import { Catalog, type StockUpdate, type StorefrontItem, type StorefrontVariant } from "../src/storefront/client/catalog.ts";

/** An item sold as itself: its one variant, the default, mirrors it. */
const item = (id: string, overrides: Partial<StorefrontItem> = {}): StorefrontItem => {
  const base = { availability: "IN_STOCK" as const, availableQuantity: 5, version: 1, ...overrides };
  return {
    id,
    name: `Item ${id}`,
    type: "PRODUCT",
    price: "10.00",
    options: [],
    variants: [{ id: `${id}-default`, options: [], price: "10.00", availability: base.availability, availableQuantity: base.availableQuantity, version: base.version }],
    ...base,
  };
};

const update = (itemId: string, version: number, availability: StorefrontItem["availability"] = "IN_STOCK", availableQuantity: number | null = 1): StockUpdate => ({
  itemId,
  version,
  availability,
  availableQuantity,
  variantId: `${itemId}-default`,
  variantAvailability: availability,
  variantAvailableQuantity: availableQuantity,
});

/** The storefront's item list kept current from reads and live updates (src/storefront/client/catalog.ts). */
describe("storefront catalog", () => {
  it("lists items by name", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("b", { name: "Taza" }), item("a", { name: "Bolso de cuero" })], catalog.mark());
    expect(catalog.items().map((i) => i.name)).toEqual(["Bolso de cuero", "Taza"]);
  });

  it("drops an update older than or as old as what it shows", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("a", { version: 5 })], catalog.mark());
    expect(catalog.applyUpdate(update("a", 4, "SOLD_OUT", 0))).toEqual({ kind: "ignored" });
    expect(catalog.applyUpdate(update("a", 5, "SOLD_OUT", 0))).toEqual({ kind: "ignored" });
    expect(catalog.get("a")?.availability).toBe("IN_STOCK");
  });

  it("applies the next version in place, and asks for a re-read when versions jump", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("a", { version: 5 })], catalog.mark());
    const next = catalog.applyUpdate(update("a", 6, "SOLD_OUT", 0));
    expect(next).toMatchObject({ kind: "changed", missedSome: false, item: { availability: "SOLD_OUT", availableQuantity: 0, version: 6 } });
    expect(catalog.applyUpdate(update("a", 9, "IN_STOCK", 3))).toMatchObject({ kind: "changed", missedSome: true });
    expect(catalog.get("a")).toMatchObject({ name: "Item a", availableQuantity: 3, version: 9 });
  });

  it("removes an item that becomes HIDDEN and ignores its stale updates afterwards", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("a", { version: 2 })], catalog.mark());
    expect(catalog.applyUpdate(update("a", 3, "HIDDEN", 0))).toEqual({ kind: "removed", itemId: "a" });
    expect(catalog.items()).toEqual([]);
    expect(catalog.applyUpdate(update("a", 3, "IN_STOCK", 4))).toEqual({ kind: "ignored" });
  });

  it("asks to read an item that comes back from HIDDEN, and shows the read", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("a", { version: 2 })], catalog.mark());
    catalog.applyUpdate(update("a", 3, "HIDDEN", 0));
    expect(catalog.applyUpdate(update("a", 4, "IN_STOCK", 2))).toEqual({ kind: "fetch", itemId: "a" });
    expect(catalog.put("a", item("a", { version: 4, availableQuantity: 2 }), catalog.mark())).toBe(true);
    expect(catalog.get("a")).toMatchObject({ availability: "IN_STOCK", availableQuantity: 2 });
  });

  it("keeps an update that arrived while a full read was on its way", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("a", { version: 1 })], catalog.mark());
    const requestedAt = catalog.mark();
    catalog.applyUpdate(update("a", 2, "SOLD_OUT", 0));
    catalog.replaceAll([item("a", { version: 1 })], requestedAt);
    expect(catalog.get("a")).toMatchObject({ availability: "SOLD_OUT", version: 2 });
  });

  it("takes an item out when a later full read no longer lists it, unless it changed since the read was asked for", () => {
    const catalog = new Catalog();
    catalog.replaceAll([item("a"), item("b")], catalog.mark());
    const requestedAt = catalog.mark();
    catalog.applyUpdate(update("b", 2, "IN_STOCK", 9));
    catalog.replaceAll([], requestedAt);
    expect(catalog.items().map((i) => i.id)).toEqual(["b"]);
  });

  it("a read that finds the item hidden does not undo a newer update that showed it", () => {
    const catalog = new Catalog();
    const requestedAt = catalog.mark();
    expect(catalog.applyUpdate(update("a", 7, "IN_STOCK", 1))).toEqual({ kind: "fetch", itemId: "a" });
    catalog.put("a", item("a", { version: 7 }), catalog.mark());
    expect(catalog.put("a", null, requestedAt)).toBe(false);
    expect(catalog.get("a")).toBeDefined();
  });
});

const SIZES = ["S", "M", "L"];

/** A T-shirt in sizes S, M and L, 3 of each, read at `version`. */
const shirt = (version: number, sizes = SIZES, overrides: Partial<StorefrontVariant> = {}): StorefrontItem => ({
  id: "shirt",
  name: "Camiseta",
  type: "PRODUCT",
  price: "45000.00",
  availability: "IN_STOCK",
  availableQuantity: 3 * sizes.length,
  version,
  options: [{ name: "Talla", values: SIZES }],
  variants: sizes.map((size) => ({
    id: `shirt-${size}`,
    options: [{ name: "Talla", value: size }],
    price: "45000.00",
    availability: "IN_STOCK",
    availableQuantity: 3,
    version,
    ...overrides,
  })),
});

const sizeUpdate = (
  size: string,
  version: number,
  variant: Pick<StockUpdate, "variantAvailability" | "variantAvailableQuantity">,
  item: Partial<Pick<StockUpdate, "availability" | "availableQuantity">> = {},
): StockUpdate => ({ itemId: "shirt", version, availability: "IN_STOCK", availableQuantity: 6, variantId: `shirt-${size}`, ...variant, ...item });

const sizes = (catalog: Catalog) => catalog.get("shirt")?.variants.map((variant) => `${variant.options[0]!.value}:${variant.availability}:${variant.availableQuantity}`);

describe("storefront catalog, an item sold in variants", () => {
  it("applies each variant's update to that variant, and the item's fields with a newer version only", () => {
    const catalog = new Catalog();
    catalog.replaceAll([shirt(4)], catalog.mark());
    expect(catalog.applyUpdate(sizeUpdate("M", 5, { variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 }))).toMatchObject({
      kind: "changed",
      missedSome: false,
    });
    expect(sizes(catalog)).toEqual(["S:IN_STOCK:3", "M:SOLD_OUT:0", "L:IN_STOCK:3"]);
    expect(catalog.get("shirt")).toMatchObject({ availability: "IN_STOCK", availableQuantity: 6, version: 5 });
  });

  it("takes the updates of several variants changed together, which share the item's version", () => {
    const catalog = new Catalog();
    catalog.replaceAll([shirt(4)], catalog.mark());
    const soldOut = { availability: "SOLD_OUT", availableQuantity: 0 } as const;
    catalog.applyUpdate(sizeUpdate("M", 5, { variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 }, { availableQuantity: 6 }));
    expect(catalog.applyUpdate(sizeUpdate("S", 6, { variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 }, soldOut))).toMatchObject({ kind: "changed" });
    expect(catalog.applyUpdate(sizeUpdate("L", 6, { variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 }, soldOut))).toMatchObject({
      kind: "changed",
      missedSome: false,
    });
    expect(sizes(catalog)).toEqual(["S:SOLD_OUT:0", "M:SOLD_OUT:0", "L:SOLD_OUT:0"]);
    expect(catalog.get("shirt")).toMatchObject({ availability: "SOLD_OUT", version: 6 });
    // the same update again, or an older one of a variant, changes nothing
    expect(catalog.applyUpdate(sizeUpdate("L", 6, { variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 }, soldOut))).toEqual({ kind: "ignored" });
    expect(catalog.applyUpdate(sizeUpdate("M", 5, { variantAvailability: "IN_STOCK", variantAvailableQuantity: 2 }))).toEqual({ kind: "ignored" });
  });

  it("drops a variant that becomes HIDDEN, and reads the item again when a variant it never read shows", () => {
    const catalog = new Catalog();
    catalog.replaceAll([shirt(4, ["S", "L"])], catalog.mark());
    catalog.applyUpdate(sizeUpdate("L", 5, { variantAvailability: "HIDDEN", variantAvailableQuantity: 0 }));
    expect(sizes(catalog)).toEqual(["S:IN_STOCK:3"]);
    // M was hidden when the list was read: an older update of it is stale, a newer one means "read it"
    expect(catalog.applyUpdate(sizeUpdate("M", 4, { variantAvailability: "IN_STOCK", variantAvailableQuantity: 1 }))).toEqual({ kind: "ignored" });
    expect(catalog.applyUpdate(sizeUpdate("M", 6, { variantAvailability: "IN_STOCK", variantAvailableQuantity: 1 }))).toMatchObject({
      kind: "changed",
      unknownVariant: true,
    });
    catalog.put("shirt", shirt(6, ["S", "M"]), catalog.mark());
    expect(sizes(catalog)).toEqual(["S:IN_STOCK:3", "M:IN_STOCK:3"]);
  });

  it("keeps a variant's update that arrived while a read older than it was on its way, and learns the variants the read knew", () => {
    const catalog = new Catalog();
    catalog.replaceAll([shirt(4, ["S"])], catalog.mark());
    const requestedAt = catalog.mark();
    catalog.applyUpdate(sizeUpdate("S", 6, { variantAvailability: "SOLD_OUT", variantAvailableQuantity: 0 }, { availableQuantity: 3 }));
    catalog.put("shirt", shirt(5, ["S", "L"]), requestedAt);
    expect(sizes(catalog)).toEqual(["S:SOLD_OUT:0", "L:IN_STOCK:3"]);
    expect(catalog.get("shirt")).toMatchObject({ availableQuantity: 3, version: 6 });
  });

  it("takes the item off the page only when the item itself becomes HIDDEN", () => {
    const catalog = new Catalog();
    catalog.replaceAll([shirt(4)], catalog.mark());
    catalog.applyUpdate(sizeUpdate("S", 5, { variantAvailability: "HIDDEN", variantAvailableQuantity: 0 }));
    expect(catalog.items()).toHaveLength(1);
    expect(catalog.applyUpdate(sizeUpdate("M", 6, { variantAvailability: "HIDDEN", variantAvailableQuantity: 0 }, { availability: "HIDDEN" }))).toEqual({
      kind: "removed",
      itemId: "shirt",
    });
  });
});
