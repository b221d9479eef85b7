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

/** The id of the store an admin token belongs to, or null for any token that is not valid. */
export async function storeForAdminToken(pool: pg.Pool, token: string): Promise<string | null> {
  const parsed = parseAdminToken(token);
  if (!parsed) return null;
  const { rows } = await pool.query<{ admin_token_hash: Buffer }>(
    "SELECT admin_token_hash FROM stores WHERE id = $1",
    [parsed.storeId],
  );
  const stored = rows[0]?.admin_token_hash;
  return stored && sameHash(parsed.hash, stored) ? parsed.storeId : null;
}
