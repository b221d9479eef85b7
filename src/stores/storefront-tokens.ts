import { z } from "zod";
import type { PrismaClient, StorefrontToken } from "../generated/prisma/client.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, rules } from "../validation.ts";
import { hashSecret, sameHash } from "./admin-tokens.ts";
import { newStoreSecret, parseStoreSecret } from "./store-secrets.ts";

/**
 * Storefront access tokens, `st_<store id>_<secret>`: a store's own server (a Next.js, Remix or
 * PHP shop) calling placeOrder for its shoppers. They grant no admin access; with one, the order
 * limit counts per shopper (X-Buyer-IP) and the token has a budget of its own
 * (src/graphql/order-rate.ts). As with admin tokens, only sha256 of the secret is stored and the
 * token is shown once, when it is created.
 */
const KIND = "st";

/** Tokens a store may have in use at once: a few per storefront server is plenty. */
export const MAX_ACTIVE_TOKENS = 25;

const NewToken = z.object({ name: rules.name });

/** Creates a token named `name` (to tell it apart in the list); answers the token itself this once. */
export async function createStorefrontToken(
  prisma: PrismaClient,
  storeId: string,
  name: string,
): Promise<{ token: string; storefrontToken: StorefrontToken } | OperationError> {
  const valid = check(NewToken, { name });
  if (valid instanceof OperationError) return valid;
  const active = await prisma.storefrontToken.count({ where: { storeId, revokedAt: null } });
  if (active >= MAX_ACTIVE_TOKENS) {
    return invalidInput(`a store may have ${MAX_ACTIVE_TOKENS} storefront tokens in use; revoke one first`, "name");
  }
  const { text, random } = newStoreSecret(KIND, storeId);
  const storefrontToken = await prisma.storefrontToken.create({
    data: { storeId, name: valid.name, secretHash: hashSecret(random), lastFour: text.slice(-4) },
  });
  return { token: text, storefrontToken };
}

/** The store's tokens, newest first, revoked ones too (never their secrets, which are not kept). */
export function listStorefrontTokens(prisma: PrismaClient, storeId: string) {
  return prisma.storefrontToken.findMany({ where: { storeId }, orderBy: [{ createdAt: "desc" }, { id: "asc" }] });
}

/** Revokes a token: it is refused from the next request on. Revoking it again changes nothing. */
export async function revokeStorefrontToken(prisma: PrismaClient, storeId: string, id: string) {
  if (!isRecordId(id)) return notFound("Storefront token", "id");
  await prisma.storefrontToken.updateMany({ where: { storeId, id, revokedAt: null }, data: { revokedAt: new Date() } });
  return (await prisma.storefrontToken.findUnique({ where: { storeId_id: { storeId, id } } })) ?? notFound("Storefront token", "id");
}

/**
 * The store and id of a presented storefront token, or null for any token that is not one in use.
 * It is compared, in constant time, with each token of the store it names that is not revoked.
 */
export async function storefrontTokenFor(prisma: PrismaClient, token: string): Promise<{ id: string; storeId: string } | null> {
  const parsed = parseStoreSecret(KIND, token);
  if (!parsed) return null;
  const presented = hashSecret(parsed.random);
  const inUse = await prisma.storefrontToken.findMany({
    where: { storeId: parsed.storeId, revokedAt: null },
    select: { id: true, secretHash: true },
  });
  const match = inUse.find((candidate) => sameHash(presented, candidate.secretHash));
  return match ? { id: match.id, storeId: parsed.storeId } : null;
}
