import { createHash, timingSafeEqual } from "node:crypto";
import { newStoreSecret, parseStoreSecret } from "./store-secrets.ts";

/**
 * Admin tokens: `sk_<store id>_<secret>`, the secret 256 random bits. Only sha256(secret) is
 * stored; a presented token is checked against the hash of the store it names, in constant time.
 * (A fast hash is right here: the secret is random, not a password that could be guessed.)
 */
const KIND = "sk";

export function newAdminToken(storeId: string): { token: string; hash: Buffer<ArrayBuffer> } {
  const { text, random } = newStoreSecret(KIND, storeId);
  return { token: text, hash: hashSecret(random) };
}

/** The store id a token names and the hash of its secret, or null when it is no token of ours. */
export function parseAdminToken(token: string): { storeId: string; hash: Buffer } | null {
  const parsed = parseStoreSecret(KIND, token);
  return parsed && { storeId: parsed.storeId, hash: hashSecret(parsed.random) };
}

export function sameHash(presented: Uint8Array, stored: Uint8Array): boolean {
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** What is stored of a token: sha256 of its random part (storefront tokens too: ./storefront-tokens.ts). */
export const hashSecret = (secret: string) => createHash("sha256").update(secret).digest();
