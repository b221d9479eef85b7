import { sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";
import { changeStock, type RefusalReason, type StockResult } from "./stock-ledger.ts";
import { lockStoreItems } from "./store-items.ts";

/**
 * Stock as another system counts it (SPEC section 8, "Accounting"): the variants that can be
 * linked to that system's items, the warehouses it knows, and absolute counts written onto the
 * stock levels. Plain data in and out: this module knows nothing of the accounting connector.
 */

/** A variant as matched to an external item: its SKU, the external id it keeps, and whether its item tracks inventory. */
export type VariantToLink = {
  id: string;
  itemId: string;
  itemName: string;
  isDefault: boolean;
  sku: string | null;
  accountingId: string | null;
  /** "Talla M / Color Negro"; '' for the default variant */
  label: string;
  tracked: boolean;
};

/**
 * Locks items in id order for the rest of the transaction (the order every stock change takes
 * them) and reads their variants: every item of the store, or only the items with a variant
 * linked to one of `accountingIds` (and then only those variants). For work that sets many
 * counts at once from what another system said, which must decide on variants whose links and
 * counts cannot change until it commits.
 */
export async function lockVariantsToLink(
  tx: Tx,
  storeId: string,
  only: { accountingIds?: readonly string[] } = {},
): Promise<VariantToLink[]> {
  const linked = only.accountingIds;
  if (linked) {
    await tx.query(
      sql`SELECT 1 FROM items WHERE store_id = ${storeId}::uuid
            AND id IN (SELECT item_id FROM variants WHERE store_id = ${storeId}::uuid AND accounting_id = ANY(${linked}::text[]))
          ORDER BY id FOR UPDATE`,
    );
  } else {
    await lockStoreItems(tx, storeId);
  }
  const { rows } = await tx.query<VariantToLink>(
    sql`SELECT v.id, v.item_id AS "itemId", i.name AS "itemName", v.is_default AS "isDefault", v.sku,
               v.accounting_id AS "accountingId",
               coalesce((SELECT string_agg(o->>'name' || ' ' || (o->>'value'), ' / ' ORDER BY n)
                           FROM jsonb_array_elements(v.options) WITH ORDINALITY AS x(o, n)), '') AS label,
               (i.type = 'PRODUCT' AND i.track_inventory) AS tracked
          FROM variants v JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
         WHERE v.store_id = ${storeId}::uuid
           ${linked ? sql`AND v.accounting_id = ANY(${linked}::text[])` : sql``}
         ORDER BY v.item_id, v.position`,
  );
  return rows;
}

/**
 * Keeps the external id each variant was matched to, so later syncs, notifications and invoices
 * find it by id; the item of a default variant keeps it too (items.accounting_id: an item without
 * options is its default variant). In the caller's transaction, with the items locked.
 */
export async function linkVariantsToAccounting(
  tx: Tx,
  storeId: string,
  links: readonly { variantId: string; accountingId: string }[],
): Promise<void> {
  if (links.length === 0) return;
  await tx.query(
    sql`WITH l AS (
          SELECT * FROM unnest(${links.map((link) => link.variantId)}::uuid[], ${links.map((link) => link.accountingId)}::text[])
            AS l(variant_id, accounting_id)
        ), linked AS (
          UPDATE variants v SET accounting_id = l.accounting_id, updated_at = now() FROM l
           WHERE v.store_id = ${storeId}::uuid AND v.id = l.variant_id AND v.accounting_id IS DISTINCT FROM l.accounting_id
        )
        UPDATE items i SET accounting_id = l.accounting_id, updated_at = now()
          FROM l JOIN variants v ON v.store_id = ${storeId}::uuid AND v.id = l.variant_id AND v.is_default
         WHERE i.store_id = ${storeId}::uuid AND i.id = v.item_id AND i.accounting_id IS DISTINCT FROM l.accounting_id`,
  );
}

/** A warehouse of the store that the accounting system knows (its accounting id), or the main one. */
export type WarehouseToCount = { id: string; accountingId: string | null; isMain: boolean };

/** The store's warehouses that carry an accounting id, and its main warehouse (which may not yet). */
export async function warehousesToCount(tx: Tx, storeId: string): Promise<WarehouseToCount[]> {
  const { rows } = await tx.query<WarehouseToCount>(
    sql`SELECT id, accounting_id AS "accountingId", is_main AS "isMain" FROM warehouses
         WHERE store_id = ${storeId}::uuid AND (accounting_id IS NOT NULL OR is_main)
         ORDER BY priority, id`,
  );
  return rows;
}

export type LevelCount = { variantId: string; warehouseId: string; quantity: number };

/** A variant whose counts were left as they were: they would break the limit rule (the variant's sums, or its item's). */
export type CountsNotApplied = { variantId: string; reason: RefusalReason };

/**
 * Sets stock levels to the absolute counts another system gave (so a repeated or late reading
 * cannot add up twice): one ACCOUNTING_SYNC movement per level whose count differs, none for the
 * others. Levels of items that do not track inventory are left alone, and so are all the levels
 * of a variant (or an item) whose counts would take its sums past the limit rule: those are
 * `notApplied`, for the run to report. The caller's transaction holds the items' locks
 * (lockVariantsToLink), so the counts compared are the counts changed.
 */
export async function setLevelsFromAccounting(
  tx: Tx,
  storeId: string,
  counts: readonly LevelCount[],
  note: string,
): Promise<StockResult & { notApplied: CountsNotApplied[] }> {
  if (counts.length === 0) return { levels: 0, variants: [], refused: [], notApplied: [] };
  const { rows } = await tx.query<LevelCount>(
    sql`SELECT c.variant_id AS "variantId", c.warehouse_id AS "warehouseId", c.quantity
          FROM unnest(${counts.map((c) => c.variantId)}::uuid[], ${counts.map((c) => c.warehouseId)}::uuid[],
                      ${counts.map((c) => c.quantity)}::int[]) AS c(variant_id, warehouse_id, quantity)
          JOIN stock_levels l ON l.store_id = ${storeId}::uuid AND l.variant_id = c.variant_id AND l.warehouse_id = c.warehouse_id
         WHERE l.quantity <> c.quantity`,
  );
  const changed = await changeStock(
    tx,
    storeId,
    rows.map((row) => ({ variantId: row.variantId, warehouseId: row.warehouseId, setQuantity: row.quantity })),
    { keepAvailableNonNegative: false, refuseWhenSynced: false },
    { reason: "ACCOUNTING_SYNC", note },
  );
  const notApplied = new Map<string, RefusalReason>();
  for (const { change, reason } of changed.refused) {
    if (reason.endsWith("_LIMIT") && !notApplied.has(rows[change]!.variantId)) notApplied.set(rows[change]!.variantId, reason);
  }
  return { ...changed, notApplied: [...notApplied].map(([variantId, reason]) => ({ variantId, reason })) };
}
