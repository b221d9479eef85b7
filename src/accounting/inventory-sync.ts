import type { SyncRun } from "../generated/prisma/client.ts";
import type { SyncTrigger } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { OperationError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { syncRunsTotal } from "../observability/metrics.ts";
import {
  linkVariantsToAccounting,
  lockVariantsToLink,
  setLevelsFromAccounting,
  warehousesToCount,
  type VariantToLink,
} from "../stock/external-counts.ts";
import type { RefusalReason } from "../stock/stock-ledger.ts";
import { readStockPolicy, setManagedByAccounting } from "../stock/stock-policy.ts";
import { MAX_ABS_QUANTITY } from "../validation.ts";
import { mirrorAccountingWarehouses } from "../stock/warehouses.ts";
import { AccountingUnavailable, type AccountingItem, type AccountingWarehouse } from "./accounting-api.ts";
import { BUSY } from "./accounting-lock.ts";
import { lacksWarehouseBreakdown, levelCounts, pickMainWarehouse } from "./warehouse-mapping.ts";
import { notConnected, openAccountingLink, type AccountingLink } from "./connection.ts";
import { matchVariants, type UnmatchedItem, type VariantMismatch } from "./matching.ts";
import { failRun, finishRun, startRun, type SyncOutcome } from "./sync-runs.ts";

export type SyncOptions = {
  trigger: SyncTrigger;
  /** switch the store's sync on in the transaction that applies this sync */
  turnSyncOn?: boolean;
  /** more of the store's settings, changed in the transaction that applies this sync (after it) */
  alongside?: (tx: Tx) => Promise<void>;
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
 * page, before touching the database; then, in one transaction, maps the accounting warehouses
 * onto the store's (creating those missing), links each matched variant to its accounting item
 * and sets each of its stock levels to what that accounting warehouse holds (ACCOUNTING_SYNC
 * movements); then records the run with its counts and unmatched variants. Any failure leaves
 * every level untouched and the run FAILED with its error. One accounting operation per store
 * runs at a time; a sync that cannot get its turn within `waitMs` answers ACCOUNTING_UNAVAILABLE.
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
      applied = await applySync(deps, storeId, runId, snapshot, options);
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
    logger.warn({ items: withoutBreakdown }, "accounting items list no warehouses: their overall available quantity went to the main warehouse only");
  }
  return { warehouses, main, items };
}

/**
 * The sync's transaction, with every item of the store locked (and so its stock settings and
 * variants). Maps the accounting warehouses onto the store's (the accounting default onto the
 * main one), matches each variant to an accounting item (SPEC sections 4 and 8), links the
 * matched ones, sets each of their levels in a mapped warehouse to that warehouse's count
 * (ACCOUNTING_SYNC movements) and, when switching on, hands the stock to accounting and changes
 * whatever else the settings change asked (`alongside`). All of it or nothing, but for a variant
 * whose counts would break the stock limit rule: its counts are left as they were and the run
 * reports it (PAST_LIMIT), as it does an unmatched one. `matched` and `updated` count variants:
 * an item without options is its one variant.
 */
function applySync(deps: Deps, storeId: string, runId: string, snapshot: AccountingSnapshot, { turnSyncOn = false, alongside }: SyncOptions) {
  return inTransaction(deps.db.pool, deps.publisher, async (tx): Promise<SyncOutcome> => {
    const variants = await lockVariantsToLink(tx, storeId);
    const store = await readStockPolicy(tx, storeId);
    if (!store.accountingSync && !turnSyncOn) throw new SyncAborted("inventory sync was switched off while the sync ran");

    const mirrored = await mirrorAccountingWarehouses(tx, storeId, snapshot.warehouses, snapshot.main.id);
    if (mirrored instanceof OperationError) throw new SyncAborted(`the accounting warehouses cannot all be kept: ${mirrored.message}`);
    const { matches, unmatched } = matchVariants(variants, snapshot.items);
    await linkVariantsToAccounting(
      tx,
      storeId,
      matches.map((match) => ({ variantId: match.variant.id, accountingId: match.accountingItem.id })),
    );
    const counts = levelCounts(matches, await warehousesToCount(tx, storeId));
    const changed = await setLevelsFromAccounting(tx, storeId, counts, `sync ${runId}`);
    if (turnSyncOn) await setManagedByAccounting(tx, storeId, true);
    await alongside?.(tx);
    const notApplied = new Map(changed.notApplied.map((variant) => [variant.variantId, variant.reason]));
    const pastLimit = matches.filter((match) => notApplied.has(match.variant.id)).map(({ variant }) => pastLimitReport(variant, notApplied.get(variant.id)!));
    return {
      matched: matches.length - pastLimit.length,
      updated: changed.variants.length,
      unmatched: [...unmatched, ...pastLimit].map(unmatchedReport),
    };
  });
}

/** A matched variant whose accounting counts were not applied: they would break the stock limit rule. */
function pastLimitReport(variant: VariantToLink, reason: RefusalReason): VariantMismatch<VariantToLink> {
  const limit = MAX_ABS_QUANTITY.toLocaleString("en-US");
  const what = reason === "ITEM_LIMIT" ? "its item" : "it";
  return {
    variant,
    reason: "PAST_LIMIT",
    detail: `its accounting counts would give ${what} more than ${limit} units (or less than -${limit}) over the warehouses that fulfil online orders; its counts were left as they were`,
  };
}

/** A variant left unmatched as the run reports it; a variant of an item with options is named in the detail. */
function unmatchedReport({ variant, reason, detail }: VariantMismatch<VariantToLink>): UnmatchedItem {
  const named = variant.isDefault ? detail : `variant "${variant.label}" of "${variant.itemName}": ${detail}`;
  return { itemId: variant.itemId, variantId: variant.id, sku: variant.sku, reason, detail: named };
}

/** What a failed run records: the outage or refusal as told, anything else only as "internal". */
function failureMessage(error: unknown, logger: Logger): string {
  if (error instanceof AccountingUnavailable || error instanceof SyncAborted) return error.message;
  logger.error({ err: error }, "inventory sync failed");
  return "internal error while applying the sync; see the service logs";
}
