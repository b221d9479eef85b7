import type { AccountingItem } from "./accounting-api.ts";

/**
 * Which accounting item each store item is (SPEC section 4): the one whose id the store item keeps
 * from an earlier sync; else the one whose `reference` is the store item's SKU. A match must be
 * unambiguous, since a wrong one would overwrite a count with another product's: a reference that
 * two accounting items carry, or an accounting item already matched to another store item, leaves
 * the store item unmatched, with its reason for the merchant to fix.
 */

/** Why a store item was left unmatched: declared once here, the GraphQL enum is derived from it. */
export const UnmatchedReason = {
  NO_SKU: "NO_SKU",
  NO_ACCOUNTING_ITEM: "NO_ACCOUNTING_ITEM",
  DUPLICATE_REFERENCE: "DUPLICATE_REFERENCE",
  ALREADY_MATCHED: "ALREADY_MATCHED",
} as const;
export type UnmatchedReason = (typeof UnmatchedReason)[keyof typeof UnmatchedReason];

export type UnmatchedItem = { itemId: string; sku: string | null; reason: UnmatchedReason; detail: string };

export type StoreItemToMatch = { id: string; sku: string | null; accountingId: string | null };

export type ItemMatch = { itemId: string; accountingItem: AccountingItem };

export function matchItems(
  storeItems: readonly StoreItemToMatch[],
  accountingItems: readonly AccountingItem[],
): { matches: ItemMatch[]; unmatched: UnmatchedItem[] } {
  const byId = new Map(accountingItems.map((item) => [item.id, item]));
  const byReference = groupByReference(accountingItems);
  const matchedTo = new Map<string, string>();
  const matches: ItemMatch[] = [];
  const unmatched: UnmatchedItem[] = [];

  for (const item of storeItems) {
    const kept = item.accountingId ? byId.get(item.accountingId) : undefined;
    if (!kept) continue;
    matchedTo.set(kept.id, item.id);
    matches.push({ itemId: item.id, accountingItem: kept });
  }

  for (const item of storeItems) {
    if (item.accountingId && matchedTo.get(item.accountingId) === item.id) continue;
    const found = matchBySku(item, byReference, matchedTo);
    if ("reason" in found) {
      unmatched.push({ itemId: item.id, sku: item.sku, ...found });
    } else {
      matchedTo.set(found.id, item.id);
      matches.push({ itemId: item.id, accountingItem: found });
    }
  }
  return { matches, unmatched };
}

function matchBySku(
  item: StoreItemToMatch,
  byReference: Map<string, AccountingItem[]>,
  matchedTo: Map<string, string>,
): AccountingItem | { reason: UnmatchedReason; detail: string } {
  const gone = item.accountingId ? `its accounting item ${item.accountingId} no longer exists and ` : "";
  const sku = item.sku?.trim();
  if (!sku) return { reason: "NO_SKU", detail: `${gone}it has no SKU to find it by reference` };
  const candidates = byReference.get(sku) ?? [];
  if (candidates.length === 0) {
    return { reason: "NO_ACCOUNTING_ITEM", detail: `${gone}no accounting item has reference "${sku}"` };
  }
  if (candidates.length > 1) {
    const ids = candidates.map((candidate) => candidate.id).join(", ");
    return { reason: "DUPLICATE_REFERENCE", detail: `${candidates.length} accounting items (${ids}) have reference "${sku}"` };
  }
  const candidate = candidates[0]!;
  if (matchedTo.has(candidate.id)) {
    return { reason: "ALREADY_MATCHED", detail: `accounting item ${candidate.id} is already matched to another store item` };
  }
  return candidate;
}

function groupByReference(items: readonly AccountingItem[]) {
  const groups = new Map<string, AccountingItem[]>();
  for (const item of items) {
    const reference = item.reference?.trim();
    if (reference) groups.set(reference, [...(groups.get(reference) ?? []), item]);
  }
  return groups;
}
