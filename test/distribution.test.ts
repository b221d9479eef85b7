import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { citusBreaches } from "./support/citus-rules.ts";
import { databaseUrl } from "./support/harness.ts";

/**
 * The schema Citus can distribute by store (SPEC section 7, docs/distribution.md). Citus cannot
 * be installed here, so its rules are checked on the migrated test database's catalog at every
 * run instead (test/support/citus-rules.ts): a new table, key, foreign key or SQL function that a
 * distributed deployment would refuse fails here first.
 */

/** Replicated to every node: the stores themselves (a slug is unique over all stores, which only a reference table can enforce). */
const REFERENCE_TABLES = ["stores"];
/** Left on the coordinator: Prisma's bookkeeping of the migrations applied. */
const LOCAL_TABLES = ["_prisma_migrations"];

let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
});
afterAll(() => client?.end());

describe("a schema Citus can distribute by store_id", () => {
  it("every table of store data, key, foreign key and SQL function keeps Citus's rules", async () => {
    expect(await citusBreaches(client, { schema: "public", reference: REFERENCE_TABLES, local: LOCAL_TABLES })).toEqual([]);
  });

  it("every table but the listed ones is store data: the check looked at all of them", async () => {
    const { rows } = await client.query<{ name: string; store_id: boolean }>(
      `SELECT c.relname AS name, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'store_id') AS store_id
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
    );
    const storeData = rows.filter((row) => ![...REFERENCE_TABLES, ...LOCAL_TABLES].includes(row.name));
    expect(storeData.map((row) => row.name)).toEqual(expect.arrayContaining(["items", "variants", "stock_levels", "stock_movements", "orders", "leases"]));
    expect(storeData.every((row) => row.store_id)).toBe(true);
  });

  it("reports each kind of breach (a schema of its own, made to break every rule once)", async () => {
    const schema = `citus_rules_${randomBytes(4).toString("hex")}`;
    await client.query(`CREATE SCHEMA ${schema}`);
    try {
      await client.query(BREAKING_SCHEMA.replaceAll("s.", `${schema}.`));
      const breaches = await citusBreaches(client, { schema, reference: ["stores", "banners", "gone"], local: ["notes"] });
      expect(breaches.sort()).toEqual(
        [
          "gone is listed as a reference or local table but does not exist",
          "no_store has no store_id column",
          "text_store.store_id is text, not uuid",
          "nullable_store.store_id may be NULL",
          "global_codes: unique key global_codes_code_key does not include store_id",
          "global_codes: primary key global_codes_pkey does not include store_id",
          "swapped -> goods (swapped_goods_fkey): does not match store_id to store_id",
          "to_notes -> notes (to_notes_note_fkey): store data references a local table",
          "cascading -> goods (cascading_goods_fkey): ON UPDATE CASCADE on a key with store_id",
          "nulling -> goods (nulling_goods_fkey): ON DELETE SET NULL on a key with store_id",
          "banners -> goods (banners_goods_fkey): a reference table references store data",
          "counters.id draws from a sequence but is integer, not bigint",
          `${schema}.leaky(uuid) uses store data (goods) without a store_id argument`,
          `${schema}.ignores_its_store(uuid) takes p_store_id but never uses it`,
        ].sort(),
      );
    } finally {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});

/** One breach of each rule beside tables that keep them (`s.` is the scratch schema). */
const BREAKING_SCHEMA = `
  CREATE TABLE s.stores (id uuid PRIMARY KEY, slug text UNIQUE);
  CREATE TABLE s.notes (id uuid PRIMARY KEY);
  CREATE TABLE s.goods (store_id uuid NOT NULL REFERENCES s.stores (id) ON DELETE CASCADE, id uuid NOT NULL, PRIMARY KEY (store_id, id),
                        UNIQUE (id, store_id));
  CREATE TABLE s.no_store (id uuid);
  CREATE TABLE s.text_store (store_id text NOT NULL);
  CREATE TABLE s.nullable_store (store_id uuid);
  CREATE TABLE s.global_codes (store_id uuid NOT NULL, code text UNIQUE, id uuid PRIMARY KEY);
  CREATE TABLE s.swapped (store_id uuid NOT NULL, goods_id uuid NOT NULL,
                          CONSTRAINT swapped_goods_fkey FOREIGN KEY (store_id, goods_id) REFERENCES s.goods (id, store_id));
  CREATE TABLE s.to_notes (store_id uuid NOT NULL, note uuid REFERENCES s.notes (id));
  CREATE TABLE s.cascading (store_id uuid NOT NULL, goods_id uuid NOT NULL,
                            CONSTRAINT cascading_goods_fkey FOREIGN KEY (store_id, goods_id) REFERENCES s.goods ON UPDATE CASCADE);
  CREATE TABLE s.nulling (store_id uuid NOT NULL, goods_id uuid,
                          CONSTRAINT nulling_goods_fkey FOREIGN KEY (store_id, goods_id) REFERENCES s.goods ON DELETE SET NULL (goods_id));
  CREATE TABLE s.kept (store_id uuid NOT NULL, goods_id uuid NOT NULL, id bigserial, PRIMARY KEY (store_id, id),
                       FOREIGN KEY (store_id, goods_id) REFERENCES s.goods ON DELETE CASCADE,
                       FOREIGN KEY (store_id) REFERENCES s.stores (id) ON DELETE CASCADE);
  CREATE TABLE s.banners (id uuid PRIMARY KEY, store_id uuid, goods_id uuid,
                          CONSTRAINT banners_goods_fkey FOREIGN KEY (store_id, goods_id) REFERENCES s.goods);
  CREATE TABLE s.counters (store_id uuid NOT NULL, id serial, PRIMARY KEY (store_id, id));
  CREATE FUNCTION s.leaky(p_id uuid) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM s.goods WHERE id = p_id $$;
  CREATE FUNCTION s.ignores_its_store(p_store_id uuid) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM s.goods $$;
  CREATE FUNCTION s.keeps_to_its_store(p_store_id uuid) RETURNS bigint LANGUAGE plpgsql AS $$
    BEGIN
      -- a comment that names s.notes and kept is no use of them
      RETURN (SELECT count(*) FROM s."goods" WHERE store_id = p_store_id);
    END $$;
  CREATE FUNCTION s.pure(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x + 1 $$;
`;
