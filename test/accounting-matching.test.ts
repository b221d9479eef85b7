import { describe, expect, it } from "vitest";
import type { AccountingItem } from "../src/accounting/accounting-api.ts";
import { matchVariants } from "../src/accounting/matching.ts";

const accounting = (id: string, reference: string | null): AccountingItem => ({
  id,
  name: `Producto ${id}`,
  reference,
  inventory: { availableQuantity: 1, warehouses: [{ id: "1", availableQuantity: 1 }] },
});

describe("matching store variants to accounting items", () => {
  it("prefers the kept accounting id, else the SKU as reference", () => {
    const { matches, unmatched } = matchVariants(
      [
        { id: "a", sku: "OLD-SKU", accountingId: "10" },
        { id: "b", sku: "B-1", accountingId: null },
      ],
      [accounting("10", "SOMETHING-ELSE"), accounting("11", "B-1"), accounting("12", "OLD-SKU")],
    );
    expect(matches.map((m) => [m.variant.id, m.accountingItem.id])).toEqual([
      ["a", "10"],
      ["b", "11"],
    ]);
    expect(unmatched).toEqual([]);
  });

  it("leaves ambiguous and impossible matches unmatched, each with its reason", () => {
    const { matches, unmatched } = matchVariants(
      [
        { id: "kept", sku: null, accountingId: "1" },
        { id: "claims-kept", sku: "REF-1", accountingId: null },
        { id: "dup", sku: "DUP", accountingId: null },
        { id: "no-sku", sku: null, accountingId: null },
        { id: "gone", sku: null, accountingId: "99" },
        { id: "nowhere", sku: "NOPE", accountingId: null },
      ],
      [accounting("1", "REF-1"), accounting("2", "DUP"), accounting("3", "DUP")],
    );
    expect(matches.map((m) => m.variant.id)).toEqual(["kept"]);
    expect(Object.fromEntries(unmatched.map((u) => [u.variant.id, u.reason]))).toEqual({
      "claims-kept": "ALREADY_MATCHED",
      dup: "DUPLICATE_REFERENCE",
      "no-sku": "NO_SKU",
      gone: "NO_SKU",
      nowhere: "NO_ACCOUNTING_ITEM",
    });
    expect(unmatched.find((u) => u.variant.id === "gone")!.detail).toContain("99 no longer exists");
  });
});
