import type { Tx } from "../db/transaction.ts";
import type { StockEvent } from "../realtime/stock-events.ts";
import { MAX_ABS_QUANTITY } from "../validation.ts";
import { availabilitySql, type Availability } from "./availability.ts";

/**
 * The one place where stock changes. Every function here runs inside the caller's transaction,
 * changes items with single guarded statements (rows locked in id order, so concurrent multi-item
 * changes cannot deadlock), writes the stock movement of every quantity change in that same
 * statement, bumps `version`, stores the recomputed availability, and queues a StockEvent that
 * `inTransaction` publishes after COMMIT.
 */

export type StockMovementReason =
  | "INITIAL_COUNT"
  | "MANUAL_SET"
  | "MANUAL_ADJUSTMENT"
  | "ORDER_PLACED"
  | "ORDER_CANCELLED"
  | "ORDER_INVOICED"
  | "ACCOUNTING_SYNC"
  | "SYNC_DISABLED";


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

export type MovementInfo = { reason: StockMovementReason; orderId?: string | null; note?: string | null };

export type StockedItem = {
  id: string;
  quantity: number;
  committedQuantity: number;
  availability: Availability;
  version: number;
};

type ChangedRow = {
  id: string;
  type: "PRODUCT" | "SERVICE";
  track_inventory: boolean;
  quantity: number;
  committed_quantity: number;
  availability: Availability;
  availability_before: Availability;
  version: number;
};

const quantityAfter = "coalesce(c.set_quantity, i.quantity + c.add_quantity - CASE WHEN s.accounting_sync THEN 0 ELSE c.take END)";
const committedAfter = "(i.committed_quantity + c.add_committed + CASE WHEN s.accounting_sync THEN c.take ELSE 0 END)";

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
  const statement = stockChangeStatement(storeId, changes, guard, movement);
  const { rows } = await tx.query<ChangedRow>(`WITH ${statement.ctes} SELECT * FROM changed`, statement.params);
  return rows.map((row) => queueEvent(tx, storeId, row));
}

/** What follows a stock change in the same statement (see changeStockThen). */
export type FollowingStatement = {
  /** more CTEs after the stock change's; they may read `changed`, and number their parameters from FOLLOWING_PARAMS_START */
  ctes: string;
  /** the CTE whose first row is the result */
  result: string;
  params: unknown[];
};

/** The first parameter number free for a FollowingStatement ($1 is the store id there too). */
export const FOLLOWING_PARAMS_START = 14;

/**
 * changeStock, and in the same SQL statement `following`, which can read the changed items as
 * `changed`: one round trip less while the items are locked (the checkout takes the stock and
 * writes the order this way). Returns the changed items and the first row of `following.result`;
 * when there is no such row the changed items are not reported, and the caller rolls back.
 */
export async function changeStockThen<R extends object>(
  tx: Tx,
  storeId: string,
  changes: readonly StockChange[],
  guard: StockGuard,
  movement: MovementInfo,
  following: FollowingStatement,
): Promise<{ items: StockedItem[]; result: R | undefined }> {
  const statement = stockChangeStatement(storeId, changes, guard, movement);
  const { rows } = await tx.query<R & { changedItems: ChangedRow[] }>(
    `WITH ${statement.ctes}, ${following.ctes}
     SELECT r.*, (SELECT coalesce(json_agg(changed), '[]'::json) FROM changed) AS "changedItems" FROM ${following.result} r`,
    [...statement.params, ...following.params],
  );
  if (!rows[0]) return { items: [], result: undefined };
  const { changedItems, ...result } = rows[0];
  return { items: changedItems.map((row) => queueEvent(tx, storeId, row)), result: result as unknown as R };
}

/**
 * The stock change as CTEs: `c` the changes, `locked` the store's items among them locked in id
 * order, `changed` the items updated (with `guard` and expectedQuantity), `moved` their movements.
 */
function stockChangeStatement(storeId: string, changes: readonly StockChange[], guard: StockGuard, movement: MovementInfo) {
  const ctes = `c AS (
       SELECT * FROM unnest($2::uuid[], $3::int[], $4::int[], $5::int[], $6::int[], $13::int[])
         AS c(item_id, set_quantity, add_quantity, add_committed, expected_quantity, take)
     ), locked AS (
       SELECT i.id, i.availability AS availability_before, i.quantity AS quantity_before
         FROM items i WHERE i.store_id = $1 AND i.id IN (SELECT item_id FROM c)
        ORDER BY i.id FOR UPDATE
     ), changed AS (
       UPDATE items i SET
         quantity = ${quantityAfter},
         committed_quantity = ${committedAfter},
         availability = ${availabilitySql(quantityAfter, committedAfter)},
         version = i.version + 1,
         updated_at = now()
       FROM locked l, c, stores s
       WHERE i.store_id = $1 AND i.id = l.id AND c.item_id = l.id AND s.id = $1
         AND i.type = 'PRODUCT' AND (NOT $12 OR i.track_inventory)
         AND (NOT $7 OR NOT s.accounting_sync)
         AND (c.expected_quantity IS NULL OR i.quantity = c.expected_quantity)
         AND (NOT $8 OR i.sell_without_stock OR ${quantityAfter} - ${committedAfter} >= 0)
         AND abs(${quantityAfter}::bigint) <= ${MAX_ABS_QUANTITY}
       RETURNING i.id, i.type, i.track_inventory, i.quantity, i.committed_quantity, i.availability, i.version,
                 l.availability_before, l.quantity_before, (c.set_quantity IS NOT NULL OR c.add_quantity <> 0 OR (c.take <> 0 AND NOT s.accounting_sync)) AS moves_quantity
     ), moved AS (
       INSERT INTO stock_movements (store_id, item_id, delta, quantity_after, reason, order_id, note)
       SELECT $1, id, quantity - quantity_before, quantity, $9::"StockMovementReason", $10::uuid, $11
         FROM changed WHERE moves_quantity
     )`;
  const params = [
    storeId,
    changes.map((change) => change.itemId),
    changes.map((change) => change.setQuantity ?? null),
    changes.map((change) => change.addQuantity ?? 0),
    changes.map((change) => change.addCommitted ?? 0),
    changes.map((change) => change.expectedQuantity ?? null),
    guard.refuseWhenSynced,
    guard.keepAvailableNonNegative,
    movement.reason,
    movement.orderId ?? null,
    movement.note ?? null,
    guard.onlyTracked ?? true,
    changes.map((change) => change.take ?? 0),
  ];
  return { ctes, params };
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
  const track = "coalesce($3, i.track_inventory)";
  const sellWithoutStock = "coalesce($4, i.sell_without_stock)";
  const { rows } = await tx.query<ChangedRow>(
    `WITH locked AS (
       SELECT id, availability AS availability_before FROM items WHERE store_id = $1 AND id = $2 FOR UPDATE
     )
     UPDATE items i SET
       track_inventory = ${track} AND i.type = 'PRODUCT',
       sell_without_stock = ${sellWithoutStock},
       availability = ${availabilitySql("i.quantity", "i.committed_quantity", sellWithoutStock, `(${track} AND i.type = 'PRODUCT')`)},
       version = i.version + 1,
       updated_at = now()
     FROM locked l, stores s
     WHERE i.store_id = $1 AND i.id = l.id AND s.id = $1
     RETURNING i.id, i.type, i.track_inventory, i.quantity, i.committed_quantity, i.availability, i.version, l.availability_before`,
    [storeId, itemId, settings.trackInventory ?? null, settings.sellWithoutStock ?? null],
  );
  return rows[0] ? queueEvent(tx, storeId, rows[0]) : null;
}

/**
 * Recomputes the availability of every item of the store, after its out-of-stock behaviour
 * changed. Only items whose availability moves are touched and announced. The caller holds the
 * store's item locks already (taken in id order), so this is one plain update: no self-join for
 * the planner to get wrong on a large store whose statistics are not gathered yet.
 */
export async function recomputeStoreAvailability(tx: Tx, storeId: string): Promise<StockedItem[]> {
  const { rows } = await tx.query<ChangedRow>(
    `UPDATE items i SET availability = ${availabilitySql()}, version = i.version + 1, updated_at = now()
       FROM stores s
      WHERE i.store_id = $1 AND s.id = $1 AND i.availability IS DISTINCT FROM ${availabilitySql()}
      -- every row updated here changed availability; NULL marks "before" as different
      RETURNING i.id, i.type, i.track_inventory, i.quantity, i.committed_quantity, i.availability, i.version,
                NULL::"Availability" AS availability_before`,
    [storeId],
  );
  return rows.map((row) => queueEvent(tx, storeId, row));
}

function queueEvent(tx: Tx, storeId: string, row: ChangedRow): StockedItem {
  const tracked = row.type === "PRODUCT" && row.track_inventory;
  const event: StockEvent = {
    storeId,
    itemId: row.id,
    availability: row.availability,
    availableQuantity: tracked ? row.quantity - row.committed_quantity : null,
    version: row.version,
    availabilityChanged: row.availability !== row.availability_before,
    at: new Date().toISOString(),
  };
  tx.events.push(event);
  return {
    id: row.id,
    quantity: row.quantity,
    committedQuantity: row.committed_quantity,
    availability: row.availability,
    version: row.version,
  };
}
