import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { OperationError } from "../errors.ts";
import { endCommittedHolds } from "../orders/committed-orders.ts";
import { lockStoreItems } from "../stock/store-items.ts";
import { readStockPolicy, setManagedByAccounting } from "../stock/stock-policy.ts";
import { deductHeldUnits } from "./held-units.ts";
import { openAccountingLink } from "./connection.ts";
import { syncInventory, syncIsOn } from "./inventory-sync.ts";
import { subscribeToNotifications, unsubscribeFromNotifications } from "./webhook-subscriptions.ts";

/**
 * `updateInventorySettings(accountingSync)`: hands the store's stock to its accounting system, or
 * takes it back, and changes the store's other settings of the same request (`alongside`, the
 * core's part: the out-of-stock behaviour) in the same transaction, so a settings change is
 * applied whole or not at all. The calls to the accounting system are made outside it: before
 * (switching on reads everything first) or after (switching off unsubscribes once committed).
 * Asking for the state the store is in already switches nothing and applies `alongside` alone.
 * Answers the reason when switching on could not be done; nothing at all is changed then.
 */
export async function switchAccountingSync(
  deps: Deps,
  storeId: string,
  on: boolean,
  alongside: (tx: Tx) => Promise<void> = async () => {},
): Promise<OperationError | null> {
  if (on === (await syncIsOn(deps, storeId))) {
    await inTransaction(deps.db.pool, deps.publisher, alongside);
    return null;
  }
  if (on) return switchSyncOn(deps, storeId, alongside);
  await switchSyncOff(deps, storeId, alongside);
  return null;
}

/**
 * Registers the notification subscriptions, then runs a sync whose transaction also turns the
 * switch, so the store is never "synced" with counts it has not read. From then on orders commit
 * units instead of deducting them and the store's own stock mutations answer
 * INVENTORY_MANAGED_BY_ACCOUNTING. Orders placed before keep what they took: the accounting counts
 * are taken as up to date ("asegúrate de tener el inventario actualizado").
 */
async function switchSyncOn(deps: Deps, storeId: string, alongside: (tx: Tx) => Promise<void>): Promise<OperationError | null> {
  const run = await syncInventory(deps, storeId, {
    trigger: "SYNC_ENABLED",
    turnSyncOn: true,
    alongside,
    beforeReading: subscribeToNotifications,
  });
  if (run instanceof OperationError) return new OperationError(run.code, run.message, "accountingSync");
  if (run.status === "FAILED") {
    return new OperationError("ACCOUNTING_UNAVAILABLE", `sync stays off: the first sync failed: ${run.error}`, "accountingSync");
  }
  return null;
}

/**
 * The store manages its stock again. In one transaction, every open order still holding committed
 * units has them deducted from `quantity` (SYNC_DISABLED movements) and becomes an ordinary
 * deducting order, so cancelling it later gives them back as usual, and `committedQuantity`
 * returns to 0. The notification subscriptions are then removed; the accounting system being down
 * does not keep the store from switching (a notification that still arrives is ignored while sync
 * is off).
 */
async function switchSyncOff(deps: Deps, storeId: string, alongside: (tx: Tx) => Promise<void>): Promise<void> {
  await inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    await lockStoreItems(tx, storeId);
    if ((await readStockPolicy(tx, storeId)).accountingSync) {
      await setManagedByAccounting(tx, storeId, false);
      await deductHeldUnits(tx, storeId, await endCommittedHolds(tx, storeId), { reason: "SYNC_DISABLED" });
    }
    await alongside(tx);
  });
  const link = await openAccountingLink(deps, storeId);
  if (!link) return;
  await unsubscribeFromNotifications(link).catch((error: Error) =>
    deps.logger.warn({ storeId, err: error }, "could not remove the accounting webhook subscriptions"),
  );
}
