import type pg from "pg";

/**
 * Citus's rules for a schema distributed by store (docs/distribution.md), checked against
 * PostgreSQL's catalog, since Citus itself is not installed where the tests run. Every table is
 * store data, to be distributed by `store_id` and colocated with the others, except the
 * `reference` tables (replicated to every node) and the `local` ones (left on the coordinator).
 * Answers one sentence per breach:
 *
 * - a table of store data has a `store_id` column, NOT NULL, of type uuid (one type, so that all
 *   can be colocated; an INSERT without the distribution column is refused);
 * - every primary key, unique constraint, unique index and exclusion constraint of store data
 *   includes `store_id` (Citus enforces them per shard only);
 * - a foreign key of store data references store data with `store_id` matched to `store_id`, or a
 *   reference table; never a local table; and when it includes `store_id`, it neither sets it to
 *   NULL or its default on delete nor cascades, nulls or defaults it on update;
 * - a reference table references only reference tables;
 * - a column of store data that defaults to a sequence is bigint (workers draw from their own
 *   ranges of bigint sequences only);
 * - a SQL function whose body names a table of store data takes a uuid `store_id` (or
 *   `p_store_id`) argument and uses it: what `create_distributed_function(..., 'store_id')` needs
 *   to run the call on the store's node.
 */
export async function citusBreaches(
  client: pg.ClientBase,
  { schema, reference, local }: { schema: string; reference: readonly string[]; local: readonly string[] },
): Promise<string[]> {
  const breaches: string[] = [];
  const { rows: tables } = await client.query<{ oid: number; name: string }>(
    `SELECT c.oid, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
    [schema],
  );
  const kindOf = new Map(
    tables.map((table) => [table.oid, reference.includes(table.name) ? "reference" : local.includes(table.name) ? "local" : "store"]),
  );
  const nameOf = new Map(tables.map((table) => [table.oid, table.name]));
  for (const listed of [...reference, ...local]) {
    if (!tables.some((table) => table.name === listed)) breaches.push(`${listed} is listed as a reference or local table but does not exist`);
  }
  const storeTables = tables.filter((table) => kindOf.get(table.oid) === "store");

  // the distribution column
  const { rows: storeColumns } = await client.query<{ table: number; attnum: number; type: string; not_null: boolean }>(
    `SELECT a.attrelid::int AS table, a.attnum, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
       FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attname = 'store_id' AND NOT a.attisdropped`,
    [tables.map((table) => table.oid)],
  );
  const storeIdOf = new Map(storeColumns.map((column) => [column.table, column.attnum]));
  for (const table of storeTables) {
    const column = storeColumns.find((c) => c.table === table.oid);
    if (!column) breaches.push(`${table.name} has no store_id column`);
    else if (column.type !== "uuid") breaches.push(`${table.name}.store_id is ${column.type}, not uuid`);
    else if (!column.not_null) breaches.push(`${table.name}.store_id may be NULL`);
  }

  // keys: unique indexes (primary keys and unique constraints have one) and exclusion constraints
  const { rows: keys } = await client.query<{ table: number; name: string; columns: number[]; kind: string }>(
    `SELECT i.indrelid::int AS table, c.relname AS name, i.indkey::int2[]::int[] AS columns,
            CASE WHEN i.indisprimary THEN 'primary key' WHEN i.indisunique THEN 'unique key' ELSE 'exclusion constraint' END AS kind
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = ANY($1::oid[])
        AND (i.indisunique OR EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype = 'x'))
      ORDER BY c.relname`,
    [storeTables.map((table) => table.oid)],
  );
  for (const key of keys) {
    const storeId = storeIdOf.get(key.table);
    if (storeId === undefined || !key.columns.includes(storeId)) {
      breaches.push(`${nameOf.get(key.table)}: ${key.kind} ${key.name} does not include store_id`);
    }
  }

  // foreign keys
  const { rows: foreignKeys } = await client.query<{
    name: string; from: number; to: number; from_columns: number[]; to_columns: number[]; on_delete: string; on_update: string;
  }>(
    `SELECT conname AS name, conrelid::int AS from, confrelid::int AS to, conkey::int[] AS from_columns,
            confkey::int[] AS to_columns, confdeltype AS on_delete, confupdtype AS on_update
       FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::oid[]) ORDER BY conname`,
    [tables.map((table) => table.oid)],
  );
  const ACTIONS: Record<string, string> = { c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };
  for (const fk of foreignKeys) {
    const from = kindOf.get(fk.from);
    const to = kindOf.get(fk.to) ?? "local"; // a table of another schema stays where it is
    const names = `${nameOf.get(fk.from)} -> ${nameOf.get(fk.to) ?? "another schema"} (${fk.name})`;
    if (from === "local") {
      if (to === "store") breaches.push(`${names}: a local table references store data`);
      continue;
    }
    if (from === "reference") {
      if (to !== "reference") breaches.push(`${names}: a reference table references ${to === "store" ? "store data" : "a local table"}`);
      continue;
    }
    if (to === "local") breaches.push(`${names}: store data references a local table`);
    if (to === "store") {
      const at = fk.from_columns.indexOf(storeIdOf.get(fk.from) ?? -1);
      if (at < 0 || fk.to_columns[at] !== storeIdOf.get(fk.to)) breaches.push(`${names}: does not match store_id to store_id`);
    }
    if (fk.from_columns.includes(storeIdOf.get(fk.from) ?? -1)) {
      if (fk.on_delete === "n" || fk.on_delete === "d") breaches.push(`${names}: ON DELETE ${ACTIONS[fk.on_delete]} on a key with store_id`);
      if (ACTIONS[fk.on_update]) breaches.push(`${names}: ON UPDATE ${ACTIONS[fk.on_update]} on a key with store_id`);
    }
  }

  // columns that draw from a sequence
  const { rows: sequenced } = await client.query<{ table: number; column: string; type: string }>(
    `SELECT d.adrelid::int AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = ANY($1::oid[]) AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'
      ORDER BY a.attname`,
    [storeTables.map((table) => table.oid)],
  );
  for (const column of sequenced) {
    if (column.type !== "bigint") breaches.push(`${nameOf.get(column.table)}.${column.column} draws from a sequence but is ${column.type}, not bigint`);
  }

  // SQL functions (those of extensions aside)
  const { rows: functions } = await client.query<{ signature: string; source: string; args: { name: string | null; type: string }[] }>(
    `SELECT p.oid::regprocedure::text AS signature, p.prosrc AS source,
            coalesce((SELECT json_agg(json_build_object('name', a.name, 'type', format_type(a.type, NULL)) ORDER BY a.n)
                        FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargnames,
                                    coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])))
                             WITH ORDINALITY AS a(type, name, mode, n)
                       WHERE a.mode IN ('i', 'b', 'v')), '[]'::json) AS args
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      ORDER BY 1`,
    [schema],
  );
  for (const fn of functions) {
    const body = withoutComments(fn.source);
    const touched = storeTables.filter((table) => mentions(body, table.name)).map((table) => table.name);
    if (touched.length === 0) continue;
    const storeArg = fn.args.find((arg) => arg.name && /^(p_)?store_id$/.test(arg.name) && arg.type === "uuid");
    if (!storeArg) breaches.push(`${fn.signature} uses store data (${touched.join(", ")}) without a store_id argument`);
    else if (!mentions(body, storeArg.name!)) breaches.push(`${fn.signature} takes ${storeArg.name} but never uses it`);
  }
  return breaches;
}

/** SQL without its -- and block comments (string literals are left as they are: a table name in one counts). */
function withoutComments(source: string) {
  return source.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/--[^\n]*/g, " ");
}

/** Whether `sql` names `identifier`, bare or quoted, as a whole word. */
function mentions(sql: string, identifier: string) {
  return new RegExp(`(^|[^\\w$])"?${identifier}"?(?![\\w$])`, "i").test(sql);
}
