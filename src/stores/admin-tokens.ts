import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Admin tokens: `sk_<store id>_<secret>`, the secret 256 random bits. Only sha256(secret) is
 * stored; a presented token is checked against the hash of the store it names, in constant time.
 * (A fast hash is right here: the secret is random, not a password that could be guessed.)
 */
const TOKEN = /^sk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export function newAdminToken(storeId: string): { token: string; hash: Buffer<ArrayBuffer> } {
  const secret = randomBytes(32).toString("base64url");
  return { token: `sk_${storeId.replaceAll("-", "")}_${secret}`, hash: hashSecret(secret) };
}

/** The store id a token names and the hash of its secret, or null when it is no token of ours. */
export function parseAdminToken(token: string): { storeId: string; hash: Buffer } | null {
  const match = TOKEN.exec(token);
  if (!match) return null;
  const hex = match[1]!;
  const storeId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { storeId, hash: hashSecret(match[2]!) };
}

export function sameHash(presented: Uint8Array, stored: Uint8Array): boolean {
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

const hashSecret = (secret: string) => createHash("sha256").update(secret).digest();
