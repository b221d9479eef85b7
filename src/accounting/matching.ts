import type { AccountingItem } from "./accounting-api.ts";

/**
 * Which accounting item each store variant is (SPEC sections 4 and 8): the one whose id the
 * variant keeps from an earlier sync; else the one whose `reference` is the variant's SKU. An
 * item without options is matched through its default variant, whose SKU and accounting id are
 * the item's. A match must be unambiguous, since a wrong one would overwrite a count with another
 * product's: a reference that two accounting items carry, or an accounting item already matched
 * to another variant, leaves the variant unmatched, with its reason for the merchant to fix.
 */

/** Why a store variant was left unmatched: declared once here, the GraphQL enum is derived from it. */
export const UnmatchedReason = {
  NO_SKU: "NO_SKU",
  NO_ACCOUNTING_ITEM: "NO_ACCOUNTING_ITEM",
  DUPLICATE_REFERENCE: "DUPLICATE_REFERENCE",
  ALREADY_MATCHED: "ALREADY_MATCHED",
  /** matched, but its accounting counts would break the stock limit rule: left as they were */
  PAST_LIMIT: "PAST_LIMIT",
} as const;
export type UnmatchedReason = (typeof UnmatchedReason)[keyof typeof UnmatchedReason];

/** What a sync run reports of each variant left unmatched (runs recorded before variants lack `variantId`). */
export type UnmatchedItem = { itemId: string; variantId?: string; sku: string | null; reason: UnmatchedReason; detail: string };

export type VariantToMatch = { id: string; sku: string | null; accountingId: string | null };

export type VariantMatch<V> = { variant: V; accountingItem: AccountingItem };

export type VariantMismatch<V> = { variant: V; reason: UnmatchedReason; detail: string };

export function matchVariants<V extends VariantToMatch>(
  variants: readonly V[],
  accountingItems: readonly AccountingItem[],
): { matches: VariantMatch<V>[]; unmatched: VariantMismatch<V>[] } {
  const byId = new Map(accountingItems.map((item) => [item.id, item]));
  const byReference = groupByReference(accountingItems);
  const matchedTo = new Map<string, string>();
  const matches: VariantMatch<V>[] = [];
  const unmatched: VariantMismatch<V>[] = [];

  for (const variant of variants) {
    const kept = variant.accountingId ? byId.get(variant.accountingId) : undefined;
    if (!kept) continue;
    matchedTo.set(kept.id, variant.id);
    matches.push({ variant, accountingItem: kept });
  }

  for (const variant of variants) {
    if (variant.accountingId && matchedTo.get(variant.accountingId) === variant.id) continue;
    const found = matchBySku(variant, byReference, matchedTo);
    if ("reason" in found) {
      unmatched.push({ variant, ...found });
    } else {
      matchedTo.set(found.id, variant.id);
      matches.push({ variant, accountingItem: found });
    }
  }
  return { matches, unmatched };
}

function matchBySku(
  variant: VariantToMatch,
  byReference: Map<string, AccountingItem[]>,
  matchedTo: Map<string, string>,
): AccountingItem | { reason: UnmatchedReason; detail: string } {
  const gone = variant.accountingId ? `its accounting item ${variant.accountingId} no longer exists and ` : "";
  const sku = variant.sku?.trim();
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
    return { reason: "ALREADY_MATCHED", detail: `accounting item ${candidate.id} is already matched to another store item or variant` };
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
