import { randomBytes } from "node:crypto";

/**
 * Secrets that name their store: `<kind>_<store id, 32 hex digits>_<256 random bits, base64url>`
 * (admin tokens `sk_`, accounting notification URLs `whk_`). The store id lets a presented secret
 * be checked against one row, in constant time; the random part is what proves it.
 */
export function newStoreSecret(kind: string, storeId: string): { text: string; random: string } {
  const random = randomBytes(32).toString("base64url");
  return { text: `${kind}_${storeId.replaceAll("-", "")}_${random}`, random };
}

/** The store a presented secret of `kind` names, and its random part; null when it is none. */
export function parseStoreSecret(kind: string, text: string): { storeId: string; random: string } | null {
  const match = new RegExp(`^${kind}_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$`).exec(text);
  if (!match) return null;
  const hex = match[1]!;
  const storeId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { storeId, random: match[2]! };
}
