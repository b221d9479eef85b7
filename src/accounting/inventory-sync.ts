import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { OperationError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { syncRunsTotal } from "../observability/metrics.ts";
import { AccountingUnavailable, type AccountingItem, type AccountingWarehouse } from "./accounting-api.ts";
import { BUSY } from "./accounting-lock.ts";
import {
  lacksWarehouseBreakdown,
  lockStoreItems,
  pickMainWarehouse,
  quantityInWarehouse,
  setCountsFromAccounting,
} from "./accounting-stock.ts";
import { notConnected, openAccountingLink, type AccountingLink } from "./connection.ts";
import { matchItems, type ItemMatch } from "./matching.ts";
import { failRun, finishRun, startRun, type SyncRunRow, type SyncTrigger } from "./sync-runs.ts";

export type SyncOptions = {
  trigger: SyncTrigger;
  /** switch the store's sync on in the transaction that applies this sync */
  turnSyncOn?: boolean;
  /** runs first, under the store's accounting lock (registering notifications when switching on) */
  beforeReading?: (link: AccountingLink) => Promise<void>;
  /** how long to wait for another accounting operation of the store; default: lockWaitMs */
  waitMs?: number;
};

type AccountingSnapshot = { warehouses: AccountingWarehouse[]; main: AccountingWarehouse; items: AccountingItem[] };

/** The run could not be applied for a reason other than an outage; its message is the run's error. */
class SyncAborted extends Error {}

/**
 * A sync ("Sincronizar ahora"): reads the accounting warehouses and every accounting item, page by
 * page, before touching the database; then, in one transaction, makes the main warehouse every
 * item's warehouse, links each matched item to its accounting item and sets its quantity to what
 * the main warehouse holds (ACCOUNTING_SYNC movements), and records the run with its counts and
 * unmatched items. Any failure leaves every item untouched and the run FAILED with its error.
 * One accounting operation per store runs at a time; a sync that cannot get its turn within
 * `waitMs` answers ACCOUNTING_UNAVAILABLE.
 */
export async function syncInventory(deps: Deps, storeId: string, options: SyncOptions): Promise<SyncRunRow | OperationError> {
  const link = await openAccountingLink(deps, storeId);
  if (!link) return notConnected();
  if (!options.turnSyncOn && !(await syncIsOn(deps, storeId))) {
    return new OperationError("INVALID_INPUT", "inventory sync is off; turn it on with updateInventorySettings(accountingSync: true)");
  }
  const outcome = await deps.accounting.locks.run(deps.db.pool, storeId, options.waitMs ?? deps.accounting.lockWaitMs, async () => {
    const runId = await startRun(deps.db.pool, storeId, options.trigger);
    try {
      await options.beforeReading?.(link);
      const snapshot = await readAccounting(link, deps.logger);
      return await applySync(deps, storeId, runId, snapshot, options.turnSyncOn ?? false);
    } catch (error) {
      return failRun(deps.db.pool, storeId, runId, failureMessage(error, deps.logger));
    }
  });
  if (outcome === BUSY) return accountingBusy();
  syncRunsTotal.inc({ status: outcome.status });
  return outcome;
}

export const accountingBusy = () =>
  new OperationError("ACCOUNTING_UNAVAILABLE", "another sync or invoice of this store is in progress; try again in a moment");

export async function syncIsOn(deps: Deps, storeId: string): Promise<boolean> {
  const { rows } = await deps.db.pool.query("SELECT accounting_sync FROM stores WHERE id = $1", [storeId]);
  return rows[0]?.accounting_sync === true;
}

async function readAccounting(link: AccountingLink, logger: Logger): Promise<AccountingSnapshot> {
  const warehouses = await link.api.warehouses();
  const main = pickMainWarehouse(warehouses, logger);
  const items = await link.api.allItems();
  const withoutBreakdown = items.filter(lacksWarehouseBreakdown).length;
  if (withoutBreakdown > 0) {
    logger.warn({ items: withoutBreakdown }, "accounting items list no warehouses: their overall available quantity was used");
  }
  return { warehouses, main, items };
}

function applySync(deps: Deps, storeId: string, runId: string, snapshot: AccountingSnapshot, turnSyncOn: boolean) {
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    // Items first, in id order, then the store row: the order in which placeOrder takes them.
    const items = await lockStoreItems(tx, storeId);
    const { rows } = await tx.query("SELECT accounting_sync FROM stores WHERE id = $1 FOR UPDATE", [storeId]);
    if (!rows[0].accounting_sync && !turnSyncOn) throw new SyncAborted("inventory sync was switched off while the sync ran");

    const mainWarehouseId = await saveWarehouses(tx, storeId, snapshot.warehouses, snapshot.main);
    const { matches, unmatched } = matchItems(items, snapshot.items);
    await linkItems(tx, storeId, matches, mainWarehouseId);
    const counts = new Map<string, number>();
    for (const match of matches) {
      const quantity = quantityInWarehouse(match.accountingItem, snapshot.main.id);
      if (quantity !== null) counts.set(match.itemId, quantity);
    }
    const updated = await setCountsFromAccounting(tx, storeId, items, counts, `sync ${runId}`);
    if (turnSyncOn) await tx.query("UPDATE stores SET accounting_sync = true, updated_at = now() WHERE id = $1", [storeId]);
    return finishRun(tx, storeId, runId, { matched: matches.length, updated, unmatched });
  });
}

/** Mirrors the accounting warehouses, marks the main one, and answers its id in the store. */
async function saveWarehouses(tx: Tx, storeId: string, warehouses: AccountingWarehouse[], main: AccountingWarehouse) {
  const unique = [...new Map(warehouses.map((warehouse) => [warehouse.id, warehouse])).values()];
  await tx.query(
    `INSERT INTO warehouses (store_id, accounting_id, name)
     SELECT $1, w.accounting_id, w.name FROM unnest($2::text[], $3::text[]) AS w(accounting_id, name)
     ON CONFLICT (store_id, accounting_id) DO UPDATE SET name = excluded.name`,
    [storeId, unique.map((w) => w.id), unique.map((w) => w.name || `Bodega ${w.id}`)],
  );
  const { rows } = await tx.query<{ id: string; isMain: boolean }>(
    `UPDATE warehouses SET is_main = coalesce(accounting_id = $2, false) WHERE store_id = $1 RETURNING id, is_main AS "isMain"`,
    [storeId, main.id],
  );
  return rows.find((row) => row.isMain)!.id;
}

/** Keeps each matched item's accounting id for the next syncs and invoices; every item goes to the main warehouse. */
async function linkItems(tx: Tx, storeId: string, matches: readonly ItemMatch[], mainWarehouseId: string) {
  await tx.query(
    `UPDATE items i SET accounting_id = m.accounting_id, updated_at = now()
       FROM unnest($2::uuid[], $3::text[]) AS m(item_id, accounting_id)
      WHERE i.store_id = $1 AND i.id = m.item_id AND i.accounting_id IS DISTINCT FROM m.accounting_id`,
    [storeId, matches.map((match) => match.itemId), matches.map((match) => match.accountingItem.id)],
  );
  await tx.query(
    "UPDATE items SET warehouse_id = $2, updated_at = now() WHERE store_id = $1 AND warehouse_id IS DISTINCT FROM $2",
    [storeId, mainWarehouseId],
  );
}

/** What a failed run records: the outage or refusal as told, anything else only as "internal". */
function failureMessage(error: unknown, logger: Logger): string {
  if (error instanceof AccountingUnavailable || error instanceof SyncAborted) return error.message;
  logger.error({ err: error }, "inventory sync failed");
  return "internal error while applying the sync; see the service logs";
}
