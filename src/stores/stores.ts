import { randomUUID } from "node:crypto";
import { z } from "zod";
import type pg from "pg";
import { OperationError, invalidInput } from "../errors.ts";
import { check, rules } from "../validation.ts";
import { newAdminToken, parseAdminToken, sameHash } from "./admin-tokens.ts";

const NewStore = z.object({ slug: rules.slug, name: rules.name });

/** Creates a store and returns its admin token; the token is shown this once and never stored. */
export async function createStore(pool: pg.Pool, input: { slug: string; name: string }) {
  const valid = check(NewStore, input);
  if (valid instanceof OperationError) return valid;
  const id = randomUUID();
  const { token, hash } = newAdminToken(id);
  const { rowCount } = await pool.query(
    `INSERT INTO stores (id, slug, name, admin_token_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING`,
    [id, valid.slug, valid.name, hash],
  );
  if (rowCount === 0) return invalidInput(`a store with slug "${valid.slug}" already exists`, "slug");
  return { id, slug: valid.slug, name: valid.name, adminToken: token };
}

// Slugs never change and stores are not deleted, so a slug's store id is kept for a while: every
// order and every live-update subscription of a storefront names its store by slug, and asking
// the database each time was a round trip per order and per subscriber (bench/README.md). A slug
// not found is not kept, so a store is found as soon as it is created.
const STORE_ID_TTL_MS = 60_000;
const MAX_CACHED_STORES = 10_000;
const storeIdsBySlug = new WeakMap<pg.Pool, Map<string, { id: string; until: number }>>();

/** The id of the store with this slug (already trimmed and lowercased), or null when none has it. */
export async function storeIdForSlug(pool: pg.Pool, slug: string): Promise<string | null> {
  let cache = storeIdsBySlug.get(pool);
  if (!cache) storeIdsBySlug.set(pool, (cache = new Map()));
  const now = Date.now();
  const cached = cache.get(slug);
  if (cached && cached.until > now) return cached.id;
  const { rows } = await pool.query<{ id: string }>("SELECT id FROM stores WHERE slug = $1", [slug]);
  const id = rows[0]?.id ?? null;
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
const tokenHashes = new WeakMap<pg.Pool, Map<string, { hash: Buffer; until: number }>>();

/** The id of the store an admin token belongs to, or null for any token that is not valid. */
export async function storeForAdminToken(pool: pg.Pool, token: string): Promise<string | null> {
  const parsed = parseAdminToken(token);
  if (!parsed) return null;
  const stored = await storedTokenHash(pool, parsed.storeId);
  return stored && sameHash(parsed.hash, stored) ? parsed.storeId : null;
}

async function storedTokenHash(pool: pg.Pool, storeId: string): Promise<Buffer | null> {
  let cache = tokenHashes.get(pool);
  if (!cache) tokenHashes.set(pool, (cache = new Map()));
  const now = Date.now();
  const cached = cache.get(storeId);
  if (cached && cached.until > now) return cached.hash;
  const { rows } = await pool.query<{ admin_token_hash: Buffer }>("SELECT admin_token_hash FROM stores WHERE id = $1", [storeId]);
  const hash = rows[0]?.admin_token_hash ?? null;
  if (hash) {
    if (cache.size >= MAX_CACHED_STORES) cache.clear();
    cache.set(storeId, { hash, until: now + TOKEN_HASH_TTL_MS });
  }
  return hash;
}
