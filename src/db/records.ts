import { raw, type Sql } from "./sql.ts";

/**
 * The select list that reads a table's rows in the shape of its Prisma model, for the few raw
 * statements (stock changes, the checkout) that return records: the field names come from
 * Prisma's generated `<Model>ScalarFieldEnum`, each read from its column (the schema maps every
 * field to its snake_case column; test/schema.test.ts holds schema and database together), and
 * the pool gives DECIMAL as Prisma's Decimal (src/db/pool.ts). So a raw row and a Prisma row are
 * one type, `Order` or `Item`, with no copy of it kept by hand.
 *
 *   tx.query<Order>(sql`SELECT ${columnsOf(Prisma.OrderScalarFieldEnum)} FROM orders WHERE ...`)
 */
export function columnsOf(fields: Record<string, string>, table?: string): Sql {
  const prefix = table ? `${table}.` : "";
  return raw(Object.values(fields).map((field) => `${prefix}${columnName(field)} AS "${field}"`).join(", "));
}

export const columnName = (field: string) => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/**
 * The keys of a record type as a list, checked both ways by the compiler: every key of T and no
 * other. For the tests that hold what a SQL function answers to the type that reads it.
 *
 *   keysOf<StockShortage>()({ itemId: true, variantId: true, requested: true, available: true })
 */
export const keysOf =
  <T>() =>
  <const K extends Record<keyof T, true>>(keys: K & Record<Exclude<keyof K, keyof T>, never>): string[] =>
    Object.keys(keys).sort();
