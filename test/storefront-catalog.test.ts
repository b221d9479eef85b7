import { describe, expect, it } from "vitest";
import { Catalog, type StorefrontItem } from "../src/storefront/client/catalog.ts";

const item = (id: string, overrides: Partial<StorefrontItem> = {}): StorefrontItem => ({
  id,
  name: `Item ${id}`,
  type: "PRODUCT",
  price: "10.00",
  availability: "IN_STOCK",
  availableQuantity: 5,
  version: 1,
  ...overrides,
});

const update = (itemId: string, version: number, availability: StorefrontItem["availability"] = "IN_STOCK", availableQuantity: number | null = 1) => ({
  itemId,
  version,
  availability,
  availableQuantity,
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
