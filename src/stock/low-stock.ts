import type pg from "pg";
import { Prisma, type Variant } from "../generated/prisma/client.ts";
import { columnsOf } from "../db/records.ts";
import { rules } from "../validation.ts";
import { sql, type Sql } from "../db/sql.ts";
import type { Tx } from "../db/transaction.ts";
import type { Availability } from "../generated/prisma/enums.ts";
import type { StockEvent } from "../realtime/stock-events.ts";

/**
 * Low stock (SPEC section 9): a merchant is told when a variant runs low, before it sells out.
 * The threshold in force is the variant's own, else the store's; a tracked variant is low while
 * its available units are at or below it (the SQL function is_low_stock(), the one place that
 * decides). Each variant keeps its low_stock flag with its stock, and a low-stock alert is recorded
 * where the flag turns on, in the transaction that turned it: by stock_change() for every change
 * of stock, and here for a change of the threshold. A variant's flag changes only under its
 * item's lock, so each crossing records one alert whatever runs at once; rising above the
 * threshold, or losing it, turns the flag off again (re-armed).
 */

/** A threshold as the merchant sets it: a count of units, 0 or more. */
export const LowStockThresholdRule = rules.initialQuantity;

/** What the statements here answer for each alert they recorded: the alert and its variant's stock now. */
type AlertRow = {
  id: string;
  itemId: string;
  variantId: string;
  availableQuantity: number;
  threshold: number;
  at: Date;
  variantAvailability: Availability;
  variantAvailableQuantity: number;
  itemAvailability: Availability;
  itemAvailableQuantity: number;
  itemVersion: number;
};

/**
 * Brings the low_stock flag of the store's variants (those of `itemIds`, or all) in line with
 * their thresholds as they are now, recording an alert for each variant that turns low, queued
 * for the merchant's subscribers after COMMIT. For a change of threshold (a variant's or the
 * store's): the caller holds the locks of the items concerned (the whole store's for the store's
 * threshold), the order every stock change takes them in.
 */
export async function refreshLowStock(tx: Tx, storeId: string, itemIds: readonly string[] | null): Promise<number> {
  const ofItems: Sql = itemIds ? sql`AND v.item_id = ANY(${itemIds}::uuid[])` : sql``;
  const { rows } = await tx.query<AlertRow>(
    sql`WITH target AS (
          -- (the available units: quantity - committed - reserved, as stock_change() computes them)
          SELECT v.id, v.quantity - v.committed_quantity - v.reserved_quantity AS available,
                 coalesce(v.low_stock_threshold, s.low_stock_threshold) AS threshold,
                 is_low_stock(i.type, i.track_inventory, v.quantity - v.committed_quantity - v.reserved_quantity,
                              v.low_stock_threshold, s.low_stock_threshold) AS low
            FROM variants v JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id JOIN stores s ON s.id = v.store_id
           WHERE v.store_id = ${storeId}::uuid ${ofItems}
        ), flipped AS (
          UPDATE variants v SET low_stock = t.low
            FROM target t
           WHERE v.store_id = ${storeId}::uuid AND v.id = t.id AND v.low_stock <> t.low
          RETURNING v.id, v.item_id, t.low, t.available, t.threshold, v.availability,
                    v.quantity - v.committed_quantity - v.reserved_quantity AS variant_available
        ), alerted AS (
          INSERT INTO low_stock_alerts (store_id, item_id, variant_id, available_quantity, threshold)
          SELECT ${storeId}::uuid, f.item_id, f.id, f.available, f.threshold FROM flipped f WHERE f.low
          RETURNING id, item_id, variant_id, available_quantity, threshold, created_at
        )
        SELECT a.id::text AS id, a.item_id AS "itemId", a.variant_id AS "variantId", a.available_quantity AS "availableQuantity",
               a.threshold, a.created_at AS at, f.availability AS "variantAvailability", f.variant_available AS "variantAvailableQuantity",
               i.availability AS "itemAvailability", i.quantity - i.committed_quantity - i.reserved_quantity AS "itemAvailableQuantity",
               i.version AS "itemVersion"
          FROM alerted a JOIN flipped f ON f.id = a.variant_id JOIN items i ON i.store_id = ${storeId}::uuid AND i.id = a.item_id
         ORDER BY a.id`,
  );
  for (const row of rows) tx.events.push(alertEvent(storeId, row));
  return rows.length;
}

/**
 * The event of an alert a change of threshold recorded: nothing of the stock changed, so it goes
 * to the merchant's low-stock subscribers only (alertOnly), with the variant's stock as it is.
 */
function alertEvent(storeId: string, row: AlertRow): StockEvent {
  const at = row.at.toISOString();
  return {
    storeId,
    itemId: row.itemId,
    variantId: row.variantId,
    availability: row.itemAvailability,
    availableQuantity: row.itemAvailableQuantity,
    version: row.itemVersion,
    variantAvailability: row.variantAvailability,
    variantAvailableQuantity: row.variantAvailableQuantity,
    availabilityChanged: false,
    at,
    lowStockAlert: { id: row.id, availableQuantity: row.availableQuantity, threshold: row.threshold, at },
    alertOnly: true,
  };
}

/**
 * A variant's own threshold (null: the store's again), under its item's lock; records the alert
 * when the variant already meets the new threshold.
 */
export async function setVariantLowStockThreshold(tx: Tx, storeId: string, itemId: string, variantId: string, threshold: number | null) {
  await tx.query(
    sql`UPDATE variants SET low_stock_threshold = ${threshold}::int, updated_at = now()
         WHERE store_id = ${storeId}::uuid AND id = ${variantId}::uuid`,
  );
  await refreshLowStock(tx, storeId, [itemId]);
}

/**
 * The store's threshold (null: none), under every item lock of the store (lockStoreItems); records
 * one alert per variant following it that already meets it, in this one transaction.
 */
export async function setStoreLowStockThreshold(tx: Tx, storeId: string, threshold: number | null) {
  const { rowCount } = await tx.query(
    sql`UPDATE stores SET low_stock_threshold = ${threshold}::int, updated_at = now()
         WHERE id = ${storeId}::uuid AND low_stock_threshold IS DISTINCT FROM ${threshold}::int`,
  );
  if (rowCount) await refreshLowStock(tx, storeId, null);
}

/** Where a variant stands in the low-stock list: lowest available first, then by item name and variant id. */
export type LowStockPlace = { available: number; name: string; id: string };

export type LowStockVariant = Variant & { place: LowStockPlace };

/**
 * A page of the store's low variants (`lowStockVariants`), in the list's order from `after` or
 * back from `before` (`inverted`: the page before `before`, nearest first), `limit` of them, each
 * with its place in the list for its cursor.
 */
export async function listLowStockVariants(
  pool: pg.Pool,
  storeId: string,
  page: { after?: LowStockPlace; before?: LowStockPlace; limit: number; inverted: boolean },
): Promise<LowStockVariant[]> {
  const place = sql`(v.quantity - v.committed_quantity - v.reserved_quantity, i.name, v.id)`;
  const key = (at: LowStockPlace) => sql`(${at.available}::int, ${at.name}::text, ${at.id}::uuid)`;
  const direction = page.inverted ? sql`DESC` : sql`ASC`;
  const { rows } = await pool.query<Variant & { placeAvailable: number; placeName: string }>(
    sql`SELECT ${columnsOf(Prisma.VariantScalarFieldEnum, "v")}, v.quantity - v.committed_quantity - v.reserved_quantity AS "placeAvailable",
               i.name AS "placeName"
          FROM variants v JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
         WHERE v.store_id = ${storeId}::uuid AND v.low_stock
           ${page.after ? sql`AND ${place} > ${key(page.after)}` : sql``}
           ${page.before ? sql`AND ${place} < ${key(page.before)}` : sql``}
         ORDER BY v.quantity - v.committed_quantity - v.reserved_quantity ${direction}, i.name ${direction}, v.id ${direction}
         LIMIT ${page.limit}`,
  );
  return rows.map(({ placeAvailable, placeName, ...variant }) => ({ ...variant, place: { available: placeAvailable, name: placeName, id: variant.id } }));
}
