import type { Item } from "../generated/prisma/client.ts";
import type { Availability, ItemType, StockMovementReason } from "../generated/prisma/enums.ts";
import type { Tx } from "../db/transaction.ts";
import { sql, type Sql } from "../db/sql.ts";
import type { StockEvent } from "../realtime/stock-events.ts";
import { MAX_ABS_QUANTITY } from "../validation.ts";
import { availabilitySql, tracksInventory } from "./availability.ts";

/**
 * The one place where stock changes. Every function here runs inside the caller's transaction,
 * changes items with single guarded statements (rows locked in id order, so concurrent multi-item
 * changes cannot deadlock), writes the stock movement of every quantity change in that same
 * statement, bumps `version`, stores the recomputed availability, and queues a StockEvent that
 * `inTransaction` publishes after COMMIT.
 */

export type StockChange = {
  itemId: string;
  /** the new absolute count; otherwise `addQuantity` is added */
  setQuantity?: number;
  addQuantity?: number;
  addCommitted?: number;
  /**
   * units an order takes: deducted from the quantity, or added to the committed quantity while
   * the store's inventory is managed by accounting (decided in the statement, under the locks)
   */
  take?: number;
  /** compare-and-set: the change applies only while the quantity still equals this */
  expectedQuantity?: number;
};

export type StockGuard = {
  /** refuse changes leaving availableQuantity below zero, unless the item sells without stock */
  keepAvailableNonNegative: boolean;
  /** refuse while the store's inventory is managed by its accounting system */
  refuseWhenSynced: boolean;
  /**
   * change only items that track inventory now; giving back what an order took applies even
   * when tracking was switched off since, so the kept count stays exact
   */
  onlyTracked?: boolean;
};

/** What releases or returns units an order holds: no guard, whatever the item's settings now. */
export const RETURNING_UNITS: StockGuard = { keepAvailableNonNegative: false, refuseWhenSynced: false, onlyTracked: false };

export type MovementInfo = { reason: StockMovementReason; orderId?: string | null; note?: string | null };

export type StockedItem = {
  id: string;
  quantity: number;
  committedQuantity: number;
  availability: Availability;
  version: number;
};

/** What every statement here returns per changed item. */
type ChangedRow = StockedItem & {
  type: ItemType;
  trackInventory: boolean;
  /** null when unknown, which counts as "availability changed" */
  availabilityBefore: Availability | null;
};

const CHANGED_COLUMNS = sql`i.id, i.type, i.track_inventory AS "trackInventory", i.quantity,
  i.committed_quantity AS "committedQuantity", i.availability, i.version`;

const quantityAfter = sql`coalesce(c.set_quantity, i.quantity + c.add_quantity - CASE WHEN s.accounting_sync THEN 0 ELSE c.take END)`;
const committedAfter = sql`(i.committed_quantity + c.add_committed + CASE WHEN s.accounting_sync THEN c.take ELSE 0 END)`;

/**
 * Applies `changes` to tracked products of the store. Returns the changed items; an item that is
 * missing, untracked, or refused by `guard` or by its expectedQuantity is left out and untouched,
 * so a caller that needs all-or-nothing compares the count and rolls back.
 */
export async function changeStock(
  tx: Tx,
  storeId: string,
  changes: readonly StockChange[],
  guard: StockGuard,
  movement: MovementInfo,
): Promise<StockedItem[]> {
  if (changes.length === 0) return [];
  const { rows } = await tx.query<ChangedRow>(
    sql`WITH ${stockChangeCtes(storeId, changes, guard, movement)} SELECT * FROM changed`,
  );
  return rows.map((row) => queueEvent(tx, storeId, row));
}

/**
 * changeStock, and in the same SQL statement `following`: more CTEs written after the stock
 * change's, which may read the changed items as `changed`, and whose CTE named `result` gives the
 * answer. One round trip less while the items are locked (the checkout takes the stock and writes
 * the order this way). Returns the changed items and the first row of `result`; when there is no
 * such row the changed items are not reported, and the caller rolls back.
 */
export async function changeStockThen<R extends object>(
  tx: Tx,
  storeId: string,
  changes: readonly StockChange[],
  guard: StockGuard,
  movement: MovementInfo,
  following: Sql,
): Promise<{ items: StockedItem[]; result: R | undefined }> {
  const { rows } = await tx.query<R & { changedItems: ChangedRow[] }>(
    sql`WITH ${stockChangeCtes(storeId, changes, guard, movement)}, ${following}
        SELECT r.*, (SELECT coalesce(json_agg(changed), '[]'::json) FROM changed) AS "changedItems" FROM result r`,
  );
  if (!rows[0]) return { items: [], result: undefined };
  const { changedItems, ...result } = rows[0];
  return { items: changedItems.map((row) => queueEvent(tx, storeId, row)), result: result as R };
}

/**
 * The stock change as CTEs: `c` the changes, `locked` the store's items among them locked in id
 * order, `changed` the items updated (with `guard` and expectedQuantity), `moved` their movements.
 */
function stockChangeCtes(storeId: string, changes: readonly StockChange[], guard: StockGuard, movement: MovementInfo): Sql {
  const column = <K extends keyof StockChange>(key: K, otherwise: number | null) => changes.map((change) => change[key] ?? otherwise);
  return sql`c AS (
       SELECT * FROM unnest(${column("itemId", null)}::uuid[], ${column("setQuantity", null)}::int[],
                            ${column("addQuantity", 0)}::int[], ${column("addCommitted", 0)}::int[],
                            ${column("expectedQuantity", null)}::int[], ${column("take", 0)}::int[])
         AS c(item_id, set_quantity, add_quantity, add_committed, expected_quantity, take)
     ), locked AS (
       SELECT i.id, i.availability AS availability_before, i.quantity AS quantity_before
         FROM items i WHERE i.store_id = ${storeId}::uuid AND i.id IN (SELECT item_id FROM c)
        ORDER BY i.id FOR UPDATE
     ), changed AS (
       UPDATE items i SET
         quantity = ${quantityAfter},
         committed_quantity = ${committedAfter},
         availability = ${availabilitySql({ quantity: quantityAfter, committed: committedAfter })},
         version = i.version + 1,
         updated_at = now()
       FROM locked l, c, stores s
       WHERE i.store_id = ${storeId}::uuid AND i.id = l.id AND c.item_id = l.id AND s.id = i.store_id
         AND i.type = 'PRODUCT' AND (NOT ${guard.onlyTracked ?? true} OR i.track_inventory)
         AND (NOT ${guard.refuseWhenSynced} OR NOT s.accounting_sync)
         AND (c.expected_quantity IS NULL OR i.quantity = c.expected_quantity)
         AND (NOT ${guard.keepAvailableNonNegative} OR i.sell_without_stock OR ${quantityAfter} - ${committedAfter} >= 0)
         AND abs(${quantityAfter}::bigint) <= ${MAX_ABS_QUANTITY}
       RETURNING ${CHANGED_COLUMNS}, l.availability_before AS "availabilityBefore", l.quantity_before,
                 (c.set_quantity IS NOT NULL OR c.add_quantity <> 0 OR (c.take <> 0 AND NOT s.accounting_sync)) AS moves_quantity
     ), moved AS (
       INSERT INTO stock_movements (store_id, item_id, delta, quantity_after, reason, order_id, note)
       SELECT ${storeId}::uuid, id, quantity - quantity_before, quantity, ${movement.reason}::"StockMovementReason",
              ${movement.orderId ?? null}::uuid, ${movement.note ?? null}
         FROM changed WHERE moves_quantity
     )`;
}

/**
 * Changes whether an item tracks inventory or sells without stock, recomputing its availability
 * and telling subscribers. Returns null when no such item exists in the store.
 */
export async function changeStockSettings(
  tx: Tx,
  storeId: string,
  itemId: string,
  settings: { trackInventory?: boolean; sellWithoutStock?: boolean },
): Promise<StockedItem | null> {
  const trackInventory = sql`(coalesce(${settings.trackInventory ?? null}::boolean, i.track_inventory) AND i.type = 'PRODUCT')`;
  const sellWithoutStock = sql`coalesce(${settings.sellWithoutStock ?? null}::boolean, i.sell_without_stock)`;
  const { rows } = await tx.query<ChangedRow>(
    sql`WITH locked AS (
          SELECT id, availability AS availability_before FROM items
           WHERE store_id = ${storeId}::uuid AND id = ${itemId}::uuid FOR UPDATE
        )
        UPDATE items i SET
          track_inventory = ${trackInventory},
          sell_without_stock = ${sellWithoutStock},
          availability = ${availabilitySql({ sellWithoutStock, trackInventory })},
          version = i.version + 1,
          updated_at = now()
        FROM locked l, stores s
        WHERE i.store_id = ${storeId}::uuid AND i.id = l.id AND s.id = i.store_id
        RETURNING ${CHANGED_COLUMNS}, l.availability_before AS "availabilityBefore"`,
  );
  return rows[0] ? queueEvent(tx, storeId, rows[0]) : null;
}

/**
 * Recomputes the availability of every item of the store, after its out-of-stock behaviour
 * changed. Only items whose availability moves are touched and announced. The caller holds the
 * store's item locks already (taken in id order), so this is one plain update: no
 * self-join for the planner to get wrong on a large store whose statistics are not gathered yet.
 */
export async function recomputeStoreAvailability(tx: Tx, storeId: string): Promise<StockedItem[]> {
  const { rows } = await tx.query<ChangedRow>(
    sql`UPDATE items i SET availability = ${availabilitySql()}, version = i.version + 1, updated_at = now()
          FROM stores s
         WHERE i.store_id = ${storeId}::uuid AND s.id = i.store_id AND i.availability IS DISTINCT FROM ${availabilitySql()}
        -- every row updated here changed availability
        RETURNING ${CHANGED_COLUMNS}, NULL AS "availabilityBefore"`,
  );
  return rows.map((row) => queueEvent(tx, storeId, row));
}

export type LockedItem = Pick<Item, "id" | "type" | "trackInventory" | "sellWithoutStock" | "availability" | "price"> & {
  /** availableQuantity: quantity - committedQuantity */
  available: number;
};

/**
 * Locks the store's items among `itemIds` in id order for the rest of the transaction and reads
 * what an order needs to decide on them. Ids of no item of the store are left out.
 */
export async function lockItems(tx: Tx, storeId: string, itemIds: readonly string[]): Promise<LockedItem[]> {
  const { rows } = await tx.query<LockedItem>(
    sql`SELECT i.id, i.type, i.track_inventory AS "trackInventory", i.sell_without_stock AS "sellWithoutStock",
               i.availability, i.price, i.quantity - i.committed_quantity AS available
          FROM items i
         WHERE i.store_id = ${storeId}::uuid AND i.id = ANY(${itemIds}::uuid[])
         ORDER BY i.id FOR UPDATE`,
  );
  return rows;
}

function queueEvent(tx: Tx, storeId: string, row: ChangedRow): StockedItem {
  const event: StockEvent = {
    storeId,
    itemId: row.id,
    availability: row.availability,
    availableQuantity: tracksInventory(row) ? row.quantity - row.committedQuantity : null,
    version: row.version,
    availabilityChanged: row.availability !== row.availabilityBefore,
    at: new Date().toISOString(),
  };
  tx.events.push(event);
  return {
    id: row.id,
    quantity: row.quantity,
    committedQuantity: row.committedQuantity,
    availability: row.availability,
    version: row.version,
  };
}
