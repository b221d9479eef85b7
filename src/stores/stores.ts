import { randomUUID } from "node:crypto";
import { z } from "zod";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";
import { MAIN_WAREHOUSE } from "../stock/warehouses.ts";
import { OperationError, invalidInput } from "../errors.ts";
import { check, rules } from "../validation.ts";
import { newAdminToken, parseAdminToken, sameHash } from "./admin-tokens.ts";

const NewStore = z.object({ slug: rules.slug, name: rules.name });

/** Creates a store and returns its admin token; the token is shown this once and never stored. */
export async function createStore(prisma: PrismaClient, input: { slug: string; name: string }) {
  const valid = check(NewStore, input);
  if (valid instanceof OperationError) return valid;
  const id = randomUUID();
  const { token, hash } = newAdminToken(id);
  try {
    // with its main warehouse ("bodega principal"), which fulfils its online orders
    await prisma.store.create({
      data: { id, slug: valid.slug, name: valid.name, adminTokenHash: hash, warehouses: { create: { ...MAIN_WAREHOUSE } } },
      select: { id: true },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
      return invalidInput(`a store with slug "${valid.slug}" already exists`, "slug");
    }
    throw error;
  }
  return { id, slug: valid.slug, name: valid.name, adminToken: token };
}

// Slugs never change and stores are not deleted, so a slug's store id is kept for a while: every
// order and every live-update subscription of a storefront names its store by slug, and asking
// the database each time was a round trip per order and per subscriber (bench/README.md). A slug
// not found is not kept, so a store is found as soon as it is created.
const STORE_ID_TTL_MS = 60_000;
const MAX_CACHED_STORES = 10_000;
const storeIdsBySlug = new WeakMap<PrismaClient, Map<string, { id: string; until: number }>>();

/** The id of the store with this slug (already trimmed and lowercased), or null when none has it. */
export async function storeIdForSlug(prisma: PrismaClient, slug: string): Promise<string | null> {
  let cache = storeIdsBySlug.get(prisma);
  if (!cache) storeIdsBySlug.set(prisma, (cache = new Map()));
  const now = Date.now();
  const cached = cache.get(slug);
  if (cached && cached.until > now) return cached.id;
  const store = await prisma.store.findUnique({ where: { slug }, select: { id: true } });
  const id = store?.id ?? null;
  if (id) {
    if (cache.size >= MAX_CACHED_STORES) cache.clear();
    cache.set(slug, { id, until: now + STORE_ID_TTL_MS });
  }
  return id;
}

// Every admin request checks its token against the store's stored hash. The hash (never the
// token) is kept for a few seconds per process, and every request still compares with it in
// constant time; only stores that exist are kept, so unknown ids cannot fill the cache.
const TOKEN_HASH_TTL_MS = 10_000;
const tokenHashes = new WeakMap<PrismaClient, Map<string, { hash: Uint8Array; until: number }>>();

/** The id of the store an admin token belongs to, or null for any token that is not valid. */
export async function storeForAdminToken(prisma: PrismaClient, token: string): Promise<string | null> {
  const parsed = parseAdminToken(token);
  if (!parsed) return null;
  const stored = await storedTokenHash(prisma, parsed.storeId);
  return stored && sameHash(parsed.hash, stored) ? parsed.storeId : null;
}

async function storedTokenHash(prisma: PrismaClient, storeId: string): Promise<Uint8Array | null> {
  let cache = tokenHashes.get(prisma);
  if (!cache) tokenHashes.set(prisma, (cache = new Map()));
  const now = Date.now();
  const cached = cache.get(storeId);
  if (cached && cached.until > now) return cached.hash;
  const store = await prisma.store.findUnique({ where: { id: storeId }, select: { adminTokenHash: true } });
  const hash = store?.adminTokenHash ?? null;
  if (hash) {
    if (cache.size >= MAX_CACHED_STORES) cache.clear();
    cache.set(storeId, { hash, until: now + TOKEN_HASH_TTL_MS });
  }
  return hash;
}
