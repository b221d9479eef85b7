import type { SyncRun } from "../generated/prisma/client.ts";
import type { SyncTrigger } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { OperationError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { syncRunsTotal } from "../observability/metrics.ts";
import { lockStoreItemRecords, linkItemsToAccounting } from "../stock/store-items.ts";
import { readStoreStockSettings, setManagedByAccounting } from "../stock/store-stock-settings.ts";
import { mirrorAccountingWarehouses } from "../stock/warehouses.ts";
import { AccountingUnavailable, type AccountingItem, type AccountingWarehouse } from "./accounting-api.ts";
import { BUSY } from "./accounting-lock.ts";
import { lacksWarehouseBreakdown, pickMainWarehouse, quantityInWarehouse, setCountsFromAccounting } from "./accounting-stock.ts";
import { notConnected, openAccountingLink, type AccountingLink } from "./connection.ts";
import { matchItems } from "./matching.ts";
import { failRun, finishRun, startRun, type SyncOutcome } from "./sync-runs.ts";

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
 * the main warehouse holds (ACCOUNTING_SYNC movements); then records the run with its counts and
 * unmatched items. Any failure leaves every item untouched and the run FAILED with its error.
 * One accounting operation per store runs at a time; a sync that cannot get its turn within
 * `waitMs` answers ACCOUNTING_UNAVAILABLE.
 */
export async function syncInventory(deps: Deps, storeId: string, options: SyncOptions): Promise<SyncRun | OperationError> {
  const link = await openAccountingLink(deps, storeId);
  if (!link) return notConnected();
  if (!options.turnSyncOn && !(await syncIsOn(deps, storeId))) {
    return new OperationError("INVALID_INPUT", "inventory sync is off; turn it on with updateInventorySettings(accountingSync: true)");
  }
  const prisma = deps.db.prisma;
  const outcome = await deps.accounting.locks.run(deps.db.pool, storeId, options.waitMs ?? deps.accounting.lockWaitMs, async () => {
    const runId = await startRun(prisma, storeId, options.trigger);
    let applied: SyncOutcome;
    try {
      await options.beforeReading?.(link);
      const snapshot = await readAccounting(link, deps.logger);
      applied = await applySync(deps, storeId, runId, snapshot, options.turnSyncOn ?? false);
    } catch (error) {
      return failRun(prisma, storeId, runId, failureMessage(error, deps.logger));
    }
    // After COMMIT, so not in the transaction (Prisma cannot join it): the counts are in, and a
    // process that stops before this write leaves the run RUNNING, which the store's next sync
    // closes as interrupted. Never FAILED with its error while the items were changed.
    return finishRun(prisma, storeId, runId, applied);
  });
  if (outcome === BUSY) return accountingBusy();
  syncRunsTotal.inc({ status: outcome.status });
  return outcome;
}

export const accountingBusy = () =>
  new OperationError("ACCOUNTING_UNAVAILABLE", "another sync or invoice of this store is in progress; try again in a moment");

export async function syncIsOn(deps: Deps, storeId: string): Promise<boolean> {
  const store = await deps.db.prisma.store.findUnique({ where: { id: storeId }, select: { accountingSync: true } });
  return store?.accountingSync === true;
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

/**
 * The sync's transaction, with every item of the store locked (and so its stock settings). Makes
 * the main warehouse every item's warehouse, links each matched item to its accounting item, sets
 * its quantity to what the main warehouse holds (ACCOUNTING_SYNC movements) and, when switching
 * on, hands the stock to accounting. All of it or nothing.
 */
function applySync(deps: Deps, storeId: string, runId: string, snapshot: AccountingSnapshot, turnSyncOn: boolean) {
  return inTransaction(deps.db.pool, deps.publisher, async (tx): Promise<SyncOutcome> => {
    const items = await lockStoreItemRecords(tx, storeId);
    const store = await readStoreStockSettings(tx, storeId);
    if (!store.accountingSync && !turnSyncOn) throw new SyncAborted("inventory sync was switched off while the sync ran");

    const warehouses = await mirrorAccountingWarehouses(tx, storeId, snapshot.warehouses, snapshot.main.id);
    const { matches, unmatched } = matchItems(items, snapshot.items);
    await linkItemsToAccounting(
      tx,
      storeId,
      matches.map((match) => ({ itemId: match.itemId, accountingId: match.accountingItem.id })),
    );
    const counts = new Map<string, number>();
    for (const match of matches) {
      const quantity = quantityInWarehouse(match.accountingItem, snapshot.main.id);
      if (quantity !== null) counts.set(match.itemId, quantity);
    }
    const mainWarehouseId = warehouses.get(snapshot.main.id)!;
    const updated = await setCountsFromAccounting(tx, storeId, items, counts, `sync ${runId}`, mainWarehouseId);
    if (turnSyncOn) await setManagedByAccounting(tx, storeId, true);
    return { matched: matches.length, updated, unmatched };
  });
}

/** What a failed run records: the outage or refusal as told, anything else only as "internal". */
function failureMessage(error: unknown, logger: Logger): string {
  if (error instanceof AccountingUnavailable || error instanceof SyncAborted) return error.message;
  logger.error({ err: error }, "inventory sync failed");
  return "internal error while applying the sync; see the service logs";
}
