import { describe, expect, it } from "vitest";
import type { StorefrontItem } from "../src/storefront/client/catalog.ts";
import { heldUnits, holdEndsAt, keepHeldRows, timeLeftLabel } from "../src/storefront/client/hold.ts";

/** A T-shirt in S and M, or an item sold as itself when `sizes` is empty. */
const item = (id: string, name: string, sizes: string[] = []): StorefrontItem => ({
  id,
  name,
  type: "PRODUCT",
  price: "10.00",
  availability: "IN_STOCK",
  availableQuantity: 4,
  version: 3,
  options: sizes.length ? [{ name: "Talla", values: sizes }] : [],
  variants: (sizes.length ? sizes : [""]).map((size) => ({
    id: `${id}-${size || "default"}`,
    options: size ? [{ name: "Talla", value: size }] : [],
    price: "10.00",
    availability: "IN_STOCK" as const,
    availableQuantity: 2,
    version: 3,
  })),
});

/** The storefront's own hold between "Realizar pedido" and "Confirmar pedido" (src/storefront/client/hold.ts). */
describe("storefront hold", () => {
  it("counts down in minutes and seconds, rounding up, never below 0:00", () => {
    expect(timeLeftLabel(10 * 60_000)).toBe("10:00");
    expect(timeLeftLabel(9 * 60_000 + 41_000)).toBe("9:41");
    expect(timeLeftLabel(4_001)).toBe("0:05");
    expect(timeLeftLabel(0)).toBe("0:00");
    expect(timeLeftLabel(-3_000)).toBe("0:00");
  });

  it("ends the hold its length after the answer came, by the page's clock, whatever the shopper's clock says", () => {
    // the service's times, an hour off from a shopper's clock
    const reservation = { createdAt: "2026-12-07T10:00:00.000Z", expiresAt: "2026-12-07T10:10:00.000Z" };
    const receivedAt = Date.parse("2026-12-07T11:00:02.000Z");
    expect(holdEndsAt(reservation, receivedAt)).toBe(receivedAt + 10 * 60_000);
    expect(holdEndsAt({ createdAt: reservation.expiresAt, expiresAt: reservation.createdAt }, receivedAt)).toBe(receivedAt);
  });

  it("adds up the units held per item, with the variants they are of", () => {
    const held = heldUnits([
      { itemId: "shirt", variantId: "shirt-S", quantity: 1 },
      { itemId: "shirt", variantId: "shirt-M", quantity: 2 },
      { itemId: "mug", quantity: 3 },
    ]);
    expect(held.get("shirt")).toEqual({ units: 3, variantIds: new Set(["shirt-S", "shirt-M"]) });
    expect(held.get("mug")).toEqual({ units: 3, variantIds: new Set() });
    expect(heldUnits(null).size).toBe(0);
  });

  it("keeps the held rows a store that hides what sells out took off the list, sold out, in the list's order", () => {
    const bag = item("bag", "Bolso de cuero");
    const mug = item("mug", "Taza de cerámica");
    const shirt = item("shirt", "Camiseta", ["S", "M"]);
    const held = heldUnits([
      { itemId: "mug", quantity: 2 },
      { itemId: "shirt", variantId: "shirt-S", quantity: 2 },
    ]);
    // the mug is hidden now, and the shirt's S
    const now = [bag, { ...shirt, version: 4, variants: shirt.variants.filter((variant) => variant.id !== "shirt-S") }];
    const rows = keepHeldRows(now, [mug, shirt], held);
    expect(rows.map((row) => row.name)).toEqual(["Bolso de cuero", "Camiseta", "Taza de cerámica"]);
    const [, shownShirt, shownMug] = rows;
    expect(shownMug).toMatchObject({ availability: "SOLD_OUT", availableQuantity: 0 });
    expect(shownShirt!.version).toBe(4);
    expect(shownShirt!.variants.map((variant) => [variant.id, variant.availability, variant.availableQuantity])).toEqual([
      ["shirt-S", "SOLD_OUT", 0],
      ["shirt-M", "IN_STOCK", 2],
    ]);
    // nothing held, or everything still shown: the list as it is
    expect(keepHeldRows(now, [], held)).toEqual(now);
    expect(keepHeldRows([bag, mug], [mug], held)).toEqual([bag, mug]);
  });
});
