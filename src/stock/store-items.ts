import { Prisma, type Item } from "../generated/prisma/client.ts";
import { columnsOf } from "../db/records.ts";
import { empty, sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";

/**
 * Locks every item of the store in id order (the order every stock change takes them), before a
 * change of the store row that stock statements read (store-stock-settings.ts): taking items
 * first, then the store, is the order the checkout takes them, so the two never deadlock and no
 * order slips in under the old setting.
 */
export async function lockStoreItems(tx: Tx, storeId: string): Promise<void> {
  await tx.query(sql`SELECT 1 FROM items WHERE store_id = ${storeId}::uuid ORDER BY id FOR UPDATE`);
}

/**
 * Locks the store's items in id order for the rest of the transaction, as lockStoreItems does,
 * and reads them: all of them, or only those linked to `accountingIds`. For work
 * that sets many counts at once from what another system said (an accounting sync, a
 * notification), which must decide on items that cannot change until it commits.
 */
export async function lockStoreItemRecords(
  tx: Tx,
  storeId: string,
  only: { accountingIds?: readonly string[] } = {},
): Promise<Item[]> {
  const linkedTo = only.accountingIds ? sql`AND accounting_id = ANY(${only.accountingIds}::text[])` : empty;
  const { rows } = await tx.query<Item>(
    sql`SELECT ${columnsOf(Prisma.ItemScalarFieldEnum)} FROM items
         WHERE store_id = ${storeId}::uuid ${linkedTo}
         ORDER BY id FOR UPDATE`,
  );
  return rows;
}

/**
 * Keeps the accounting id each item was matched to, so later syncs, notifications and invoices
 * find it by id. Part of the sync's transaction: a sync that fails leaves the links untouched too.
 */
export async function linkItemsToAccounting(
  tx: Tx,
  storeId: string,
  links: readonly { itemId: string; accountingId: string }[],
): Promise<void> {
  if (links.length === 0) return;
  await tx.query(
    sql`UPDATE items i SET accounting_id = l.accounting_id, updated_at = now()
          FROM unnest(${links.map((link) => link.itemId)}::uuid[], ${links.map((link) => link.accountingId)}::text[])
               AS l(item_id, accounting_id)
         WHERE i.store_id = ${storeId}::uuid AND i.id = l.item_id AND i.accounting_id IS DISTINCT FROM l.accounting_id`,
  );
}

/** Each item's default variant (the one of an item without options), by item id. */
export async function defaultVariantsOf(tx: Tx, storeId: string, itemIds: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ itemId: string; id: string }>(
    sql`SELECT item_id AS "itemId", id FROM variants
         WHERE store_id = ${storeId}::uuid AND item_id = ANY(${itemIds}::uuid[]) AND is_default`,
  );
  return new Map(rows.map((row) => [row.itemId, row.id]));
}
