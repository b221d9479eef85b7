import { GraphQLError } from "graphql";
import { isRecordId } from "../validation.ts";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}

/**
 * The `maxSize` of every connection: pages hold 1 to 100 nodes. Asking for more (or for none) is
 * refused with BAD_USER_INPUT instead of being cut to the maximum, so a client learns its mistake
 * rather than missing rows. (Malformed cursors are Pothos' own errors: ./masked-errors.ts.)
 */
export function pageSize(args: { first?: number | null; last?: number | null }): number {
  for (const [name, size] of Object.entries({ first: args.first, last: args.last })) {
    if (size != null && (size < 1 || size > MAX_PAGE_SIZE)) throw badUserInput(`${name} must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return MAX_PAGE_SIZE;
}

/**
 * A prisma connection's cursor names a record by its whole key, store id included (`storeId_id`,
 * `storeId_number`). One that names another store's record, or a key that cannot exist, is not a
 * cursor of this list: BAD_USER_INPUT (another store's record must not even position a page).
 */
export function checkCursorInStore(query: { cursor?: object }, storeId: string): void {
  if (!query.cursor) return;
  const [key] = Object.values(query.cursor) as Record<string, unknown>[];
  const fits =
    key?.storeId === storeId &&
    Object.entries(key).every(([part, value]) =>
      part === "storeId" ? true : part === "id" ? typeof value === "string" && isRecordId(value) : Number.isSafeInteger(value),
    );
  if (!fits) throw badUserInput("after is not a cursor of this list");
}
