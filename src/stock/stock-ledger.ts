import { Prisma, type Item } from "../generated/prisma/client.ts";
import type { Availability, ItemType, StockMovementReason } from "../generated/prisma/enums.ts";
import type { Tx } from "../db/transaction.ts";
import { sql, type Sql } from "../db/sql.ts";
import type { LowStockAlertNote, StockEvent } from "../realtime/stock-events.ts";
import { MAX_ABS_QUANTITY } from "../validation.ts";
import { invalidInput, type OperationError } from "../errors.ts";
import { availabilitySql, tracksInventory } from "./availability.ts";
import { refreshLowStock } from "./low-stock.ts";

/**
 * The one place where stock changes. Stock is kept per variant per warehouse (a stock level);
 * a variant's quantity, committed quantity and availability are over the warehouses that fulfil
 * online orders, and an item's are the aggregate of its variants' (availability: the best of
 * them). Every function here runs inside the caller's transaction with the items concerned
 * locked (lockItems, lockItemsOfVariants: items in id order, the one global lock order, so no two
 * changes deadlock), changes levels with single guarded statements that also write the movement
 * of every quantity change, carry the change up to the variant and the item, bump both versions,
 * and queue one StockEvent per changed variant that `inTransaction` publishes after COMMIT.
 *
 * The one global lock order, which every transaction keeps so that none deadlocks with another: a
 * store's items first, in id order; then, when it needs them, the rows that hang off them: the
 * store's row (its stock settings, src/stock/stock-policy.ts) and order rows. The checkout
 * locks its items, then writes its order; cancelling and invoicing lock the order's items before
 * the order row (src/orders/order-lines.ts lockItemsOfOrder); switching accounting sync off, or
 * any store-wide settings change, locks every item of the store before the store row and the
 * orders that hold units.
 *
 * The limit rule (prisma/functions/within_stock_limit.sql) holds on every path: each level's
 * quantity, each variant's sums over the fulfilling warehouses and each item's sums over its
 * variants stay within +-MAX_ABS_QUANTITY (committed quantities at most that), so no sum, and no
 * available quantity, overflows the 32-bit integers they are kept in. A change that would break
 * it is refused (LEVEL_LIMIT, VARIANT_LIMIT, ITEM_LIMIT), and the caller answers INVALID_INPUT
 * at its own field (pastLimit).
 */

export type StockChange = {
  variantId: string;
  warehouseId: string;
  /** the level's new absolute count; otherwise `addQuantity` is added */
  setQuantity?: number;
  addQuantity?: number;
  addCommitted?: number;
  /** units a cart hold keeps (negative: gives back); they change no quantity and write no movement */
  addReserved?: number;
  /**
   * units an order takes: deducted from the quantity, or added to the committed quantity while
   * the store's inventory is managed by accounting (decided in the statement, under the locks)
   */
  take?: number;
  /** compare-and-set: the change applies only while the level's quantity still equals this */
  expectedQuantity?: number;
};

export type StockGuard = {
  /** refuse changes leaving a level's available units below zero, unless the item sells without stock */
  keepAvailableNonNegative: boolean;
  /** ...even when it sells without stock (the source of a transfer) */
  neverBelowZero?: boolean;
  /** refuse while the store's inventory is managed by its accounting system */
  refuseWhenSynced: boolean;
  /**
   * change only items that track inventory now; giving back what an order took applies even
   * when tracking was switched off since, so the kept count stays exact
   */
  onlyTracked?: boolean;
  /** when any change is refused, apply none (a transfer's two sides, an item's first counts) */
  allOrNothing?: boolean;
};

/** What releases or returns units an order holds: no guard, whatever the item's settings now. */
export const RETURNING_UNITS: StockGuard = { keepAvailableNonNegative: false, refuseWhenSynced: false, onlyTracked: false };

export type MovementInfo = {
  reason: StockMovementReason;
  orderId?: string | null;
  transferId?: string | null;
  note?: string | null;
};

/** A variant after a change, with its item's aggregate. */
export type StockedVariant = {
  id: string;
  itemId: string;
  quantity: number;
  committedQuantity: number;
  reservedQuantity: number;
  availability: Availability;
  version: number;
  item: { quantity: number; committedQuantity: number; reservedQuantity: number; availability: Availability; version: number };
};

/** Why stock_change() left a change out. */
export type RefusalReason =
  | "NOT_FOUND"
  | "NOT_TRACKED"
  | "MANAGED_BY_ACCOUNTING"
  | "STALE_QUANTITY"
  | "BELOW_ZERO"
  | "LEVEL_LIMIT"
  | "VARIANT_LIMIT"
  | "ITEM_LIMIT";

/** A change left out: its index in the changes given, and why (with allOrNothing the others are left out too, unlisted). */
export type StockRefusal = { change: number; reason: RefusalReason };

/** What a stock change did: how many levels it changed, the variants they belong to, and the changes it refused. */
export type StockResult = { levels: number; variants: StockedVariant[]; refused: StockRefusal[] };

/** One row per changed variant, as every statement here returns it. */
export type ChangedRow = {
  id: string;
  itemId: string;
  quantity: number;
  committedQuantity: number;
  reservedQuantity: number;
  availability: Availability;
  availabilityBefore: Availability | null;
  version: number;
  type: ItemType;
  trackInventory: boolean;
  itemQuantity: number;
  itemCommittedQuantity: number;
  itemReservedQuantity: number;
  itemAvailability: Availability;
  itemAvailabilityBefore: Availability | null;
  itemVersion: number;
  /** the low-stock alert the change recorded, when it took the variant into low stock */
  lowStockAlert: LowStockAlertNote | null;
};

/**
 * Locks the items of `itemIds` in id order for the rest of the transaction. A stock change reads
 * and writes an item's variants and levels only under its item's lock.
 */
export async function lockItems(tx: Tx, storeId: string, itemIds: readonly string[]): Promise<void> {
  await tx.query(sql`SELECT 1 FROM items WHERE store_id = ${storeId}::uuid AND id = ANY(${itemIds}::uuid[]) ORDER BY id FOR UPDATE`);
}

/** lockItems for the items the variants belong to. */
export async function lockItemsOfVariants(tx: Tx, storeId: string, variantIds: readonly string[]): Promise<void> {
  await tx.query(
    sql`SELECT 1 FROM items WHERE store_id = ${storeId}::uuid
          AND id IN (SELECT item_id FROM variants WHERE store_id = ${storeId}::uuid AND id = ANY(${variantIds}::uuid[]))
        ORDER BY id FOR UPDATE`,
  );
}

/**
 * Applies `changes` to stock levels of tracked products of the store, locking their items first.
 * A change whose level is missing, whose item is untracked, or that `guard`, its
 * expectedQuantity or the limit rule refuses, is left out and its level untouched, and listed in
 * `refused` with its reason (with `guard.allOrNothing`, every change is left out then). The
 * statement is the SQL function stock_change() (prisma/functions/stock_change.sql), which the
 * checkout's place_orders() calls too: one definition of a stock change.
 */
export async function changeStock(
  tx: Tx,
  storeId: string,
  changes: readonly StockChange[],
  guard: StockGuard,
  movement: MovementInfo,
): Promise<StockResult> {
  if (changes.length === 0) return { levels: 0, variants: [], refused: [] };
  await lockItemsOfVariants(tx, storeId, [...new Set(changes.map((change) => change.variantId))]);
  return changeLockedStock(tx, storeId, changes, guard, movement);
}

/**
 * changeStock for a caller that already holds the items' locks (lockItems, taken once for a
 * whole bulk count before reading the levels it decides on).
 */
export async function changeLockedStock(
  tx: Tx,
  storeId: string,
  changes: readonly StockChange[],
  guard: StockGuard,
  movement: MovementInfo,
): Promise<StockResult> {
  if (changes.length === 0) return { levels: 0, variants: [], refused: [] };
  const column = <K extends keyof StockChange>(key: K) => changes.map((change) => change[key] ?? null);
  const { rows } = await tx.query<{ result: StockAnswer }>(
    sql`SELECT stock_change(
          ${storeId}::uuid, ${column("variantId")}::uuid[], ${column("warehouseId")}::uuid[], ${column("setQuantity")}::int[],
          ${column("addQuantity")}::int[], ${column("addCommitted")}::int[], ${column("addReserved")}::int[],
          ${column("expectedQuantity")}::int[], ${column("take")}::int[],
          ${guard.keepAvailableNonNegative}, ${guard.neverBelowZero ?? false}, ${guard.refuseWhenSynced}, ${guard.onlyTracked ?? true},
          ${movement.reason}::"StockMovementReason", ${movement.orderId ?? null}::uuid, ${movement.transferId ?? null}::uuid,
          ${movement.note ?? null}, ${guard.allOrNothing ?? false}
        ) AS result`,
  );
  return queueStockEvents(tx, storeId, rows[0]!.result);
}

/** What stock_change() answers: the levels it changed, one row per changed variant, the changes it refused. */
export type StockAnswer = { levels: number; variants: ChangedRow[]; refused: StockRefusal[] };

/** The StockResult of a stock_change() answer, its events queued for after COMMIT. */
export function queueStockEvents(tx: Pick<Tx, "events">, storeId: string, answer: StockAnswer): StockResult {
  return { levels: answer.levels, variants: answer.variants.map((row) => queueEvent(tx, storeId, row)), refused: answer.refused };
}

const LIMIT = MAX_ABS_QUANTITY.toLocaleString("en-US");
const PAST_LIMIT: Partial<Record<RefusalReason, string>> = {
  LEVEL_LIMIT: `a stock level holds at most ${LIMIT} units (and at least -${LIMIT})`,
  VARIANT_LIMIT: `a variant holds at most ${LIMIT} units (and at least -${LIMIT}) over the warehouses that fulfil online orders`,
  ITEM_LIMIT: `an item holds at most ${LIMIT} units (and at least -${LIMIT}) over its variants`,
};

/**
 * INVALID_INPUT at `field` when the first refusal is the limit rule's, saying which sum it would
 * break; null for any other refusal (or none).
 */
export function pastLimit(refused: readonly StockRefusal[], field: string, doing = "this change"): OperationError | null {
  const message = refused[0] && PAST_LIMIT[refused[0].reason];
  return message ? invalidInput(`${doing} would break the limit: ${message}; nothing was changed`, field) : null;
}

const changedVariantsJson = sql`(SELECT coalesce(json_agg(changed), '[]'::json) FROM changed) AS variants`;

/** The columns of ChangedRow, from a variant `v` and its item `i` (each with availability_before). */
const CHANGED_COLUMNS = sql`v.id, v.item_id AS "itemId", v.quantity, v.committed_quantity AS "committedQuantity",
  v.reserved_quantity AS "reservedQuantity", v.availability, v.availability_before AS "availabilityBefore", v.version, i.type,
  i.track_inventory AS "trackInventory", i.quantity AS "itemQuantity", i.committed_quantity AS "itemCommittedQuantity",
  i.reserved_quantity AS "itemReservedQuantity", i.availability AS "itemAvailability",
  i.availability_before AS "itemAvailabilityBefore", i.version AS "itemVersion", NULL::json AS "lowStockAlert"`;

/** The first variant (or item, variantId null) whose re-summed stock would break the limit rule. */
export type BeyondLimit = { itemId: string; variantId: string | null };

/**
 * Brings the variants of `itemIds` (of the whole store when null) in line with their stock
 * levels and settings: quantity and committed quantity over the fulfilling warehouses, and
 * availability; then their items (sums, the best availability). Only variants that change are
 * touched, their items' versions bumped and each announced. For changes that do not move units:
 * an item's stock settings, the store's out-of-stock behaviour, which warehouses fulfil orders.
 * When a variant's or an item's new sums would break the limit rule (a warehouse that starts
 * fulfilling can bring three levels of 1e9 into one sum), nothing changes and `beyondLimit`
 * names the first. The caller holds the items' locks (the whole store's in id order when itemIds
 * is null).
 */
export async function refreshVariants(
  tx: Tx,
  storeId: string,
  itemIds: readonly string[] | null,
): Promise<{ variants: StockedVariant[]; beyondLimit: BeyondLimit | null }> {
  const ofItems = itemIds ? sql`AND item_id = ANY(${itemIds}::uuid[])` : sql``;
  const { rows } = await tx.query<{ variants: ChangedRow[]; beyondLimit: BeyondLimit | null }>(
    sql`WITH sums AS (
          -- in bigint: the new sums are held to the limit before they are stored in integers
          SELECT v.id,
                 coalesce(sum(l.quantity) FILTER (WHERE w.fulfils_online_orders), 0)::bigint AS quantity,
                 coalesce(sum(l.committed_quantity) FILTER (WHERE w.fulfils_online_orders), 0)::bigint AS committed,
                 coalesce(sum(l.reserved_quantity) FILTER (WHERE w.fulfils_online_orders), 0)::bigint AS reserved
            FROM variants v
            LEFT JOIN stock_levels l ON l.store_id = v.store_id AND l.variant_id = v.id
            LEFT JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
           WHERE v.store_id = ${storeId}::uuid ${ofItems}
           GROUP BY v.id
        ), target AS (
          -- only the sign of what is available decides, and past the limit it would not fit an integer
          SELECT v.id, v.item_id, x.quantity, x.committed, x.reserved, v.availability AS availability_before,
                 within_stock_limit(x.quantity, v.quantity) AND within_stock_limit(x.committed, v.committed_quantity)
                   AND within_stock_limit(x.committed + x.reserved, v.committed_quantity + v.reserved_quantity) AS within,
                 ${availabilitySql({ quantity: sql`sign(x.quantity - x.committed - x.reserved)::int`, committed: sql`0`, reserved: sql`0` })} AS availability
            FROM variants v JOIN sums x ON x.id = v.id JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
            JOIN stores s ON s.id = v.store_id
           WHERE v.store_id = ${storeId}::uuid
        ), item_sums AS (
          SELECT t.item_id AS id, sum(t.quantity)::bigint AS quantity, sum(t.committed)::bigint AS committed,
                 sum(t.reserved)::bigint AS reserved, min(t.availability) AS availability
            FROM target t GROUP BY t.item_id
        ), beyond AS (
          SELECT t.item_id AS "itemId", t.id AS "variantId" FROM target t WHERE NOT t.within
          UNION ALL
          SELECT x.id, NULL FROM item_sums x JOIN items i ON i.store_id = ${storeId}::uuid AND i.id = x.id
           WHERE NOT (within_stock_limit(x.quantity, i.quantity) AND within_stock_limit(x.committed, i.committed_quantity)
                      AND within_stock_limit(x.committed + x.reserved, i.committed_quantity + i.reserved_quantity))
          LIMIT 1
        ), changed_variants AS (
          UPDATE variants v SET quantity = t.quantity, committed_quantity = t.committed, reserved_quantity = t.reserved,
                 availability = t.availability, version = v.version + 1, updated_at = now()
            FROM target t
           WHERE v.store_id = ${storeId}::uuid AND v.id = t.id AND NOT EXISTS (SELECT 1 FROM beyond)
             AND (v.quantity, v.committed_quantity, v.reserved_quantity, v.availability)
                 IS DISTINCT FROM (t.quantity, t.committed, t.reserved, t.availability)
          RETURNING v.id, v.item_id, v.quantity, v.committed_quantity, v.reserved_quantity, v.availability, v.version, t.availability_before
        ), changed_items AS (
          UPDATE items i SET quantity = t.quantity, committed_quantity = t.committed, reserved_quantity = t.reserved,
                 availability = t.availability, version = i.version + 1, updated_at = now()
            FROM item_sums t, items oi
           WHERE i.store_id = ${storeId}::uuid AND i.id = t.id AND oi.store_id = i.store_id AND oi.id = i.id
             AND t.id IN (SELECT item_id FROM changed_variants)
          RETURNING i.id, i.type, i.track_inventory, i.quantity, i.committed_quantity, i.reserved_quantity, i.availability, i.version,
                    oi.availability AS availability_before
        ), changed AS (
          SELECT ${CHANGED_COLUMNS} FROM changed_variants v JOIN changed_items i ON i.id = v.item_id
        )
        SELECT ${changedVariantsJson}, (SELECT row_to_json(b) FROM beyond b) AS "beyondLimit"`,
  );
  const { variants, beyondLimit } = rows[0]!;
  // what moved the sums (a warehouse that fulfils, tracking switched on) moves the low flags too
  if (!beyondLimit) await refreshLowStock(tx, storeId, itemIds);
  return { variants: variants.map((row) => queueEvent(tx, storeId, row)), beyondLimit };
}

/**
 * Changes whether an item tracks inventory or sells without stock, and brings its variants'
 * availability in line (telling subscribers of each that moved). The caller holds the item's
 * lock. Returns false when no such item exists in the store.
 */
export async function changeStockSettings(
  tx: Tx,
  storeId: string,
  itemId: string,
  settings: { trackInventory?: boolean; sellWithoutStock?: boolean },
): Promise<boolean> {
  const { rowCount } = await tx.query(
    sql`UPDATE items SET
          track_inventory = coalesce(${settings.trackInventory ?? null}::boolean, track_inventory) AND type = 'PRODUCT',
          sell_without_stock = coalesce(${settings.sellWithoutStock ?? null}::boolean, sell_without_stock),
          updated_at = now()
        WHERE store_id = ${storeId}::uuid AND id = ${itemId}::uuid`,
  );
  if (!rowCount) return false;
  await refreshVariants(tx, storeId, [itemId]);
  return true;
}

/**
 * Recomputes the availability of every variant and item of the store, after its out-of-stock
 * behaviour or its fulfilling warehouses changed. The caller holds the store's item locks
 * (lockStoreItems, in id order).
 */
export async function recomputeStoreAvailability(tx: Tx, storeId: string): Promise<StockedVariant[]> {
  return (await refreshVariants(tx, storeId, null)).variants;
}

function queueEvent(tx: Pick<Tx, "events">, storeId: string, row: ChangedRow): StockedVariant {
  const tracked = tracksInventory(row);
  const event: StockEvent = {
    storeId,
    itemId: row.itemId,
    variantId: row.id,
    availability: row.itemAvailability,
    availableQuantity: tracked ? row.itemQuantity - row.itemCommittedQuantity - row.itemReservedQuantity : null,
    version: row.itemVersion,
    variantAvailability: row.availability,
    variantAvailableQuantity: tracked ? row.quantity - row.committedQuantity - row.reservedQuantity : null,
    availabilityChanged: row.itemAvailability !== row.itemAvailabilityBefore || row.availability !== row.availabilityBefore,
    at: new Date().toISOString(),
  };
  if (row.lowStockAlert) event.lowStockAlert = { ...row.lowStockAlert, at: new Date(row.lowStockAlert.at).toISOString() };
  tx.events.push(event);
  return {
    id: row.id,
    itemId: row.itemId,
    quantity: row.quantity,
    committedQuantity: row.committedQuantity,
    reservedQuantity: row.reservedQuantity,
    availability: row.availability,
    version: row.version,
    item: {
      quantity: row.itemQuantity,
      committedQuantity: row.itemCommittedQuantity,
      reservedQuantity: row.itemReservedQuantity,
      availability: row.itemAvailability,
      version: row.itemVersion,
    },
  };
}

