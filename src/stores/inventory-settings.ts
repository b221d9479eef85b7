import type { PrismaClient } from "../generated/prisma/client.ts";
import type { OutOfStockBehavior } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { changeOutOfStockBehavior } from "../stock/stock-policy.ts";

export type InventorySettings = {
  storeId: string;
  outOfStockBehavior: OutOfStockBehavior;
  /** the store's stock is managed by its accounting system */
  accountingSync: boolean;
  /** the store has connected an accounting system */
  accountingConnected: boolean;
};

/** The store's inventory settings ("Configuración de inventario"). */
export async function loadInventorySettings(prisma: PrismaClient, storeId: string): Promise<InventorySettings> {
  const store = await prisma.store.findUniqueOrThrow({
    where: { id: storeId },
    select: { outOfStockBehavior: true, accountingSync: true, accounting: { select: { storeId: true } } },
  });
  return {
    storeId,
    outOfStockBehavior: store.outOfStockBehavior,
    accountingSync: store.accountingSync,
    accountingConnected: store.accounting !== null,
  };
}

export type InventorySettingsInput = { outOfStockBehavior?: OutOfStockBehavior | null };

/**
 * The store's own inventory settings changed as the input asks, in the caller's transaction.
 * "Ocultar producto" / "Marcar como agotado": changing the out-of-stock behaviour recomputes the
 * availability of every item of the store at once, and subscribers hear of each item that moved
 * once the transaction commits. (Switching accounting sync is the accounting connector's, which
 * runs this in the transaction that turns its switch: src/accounting/sync-switch.ts.)
 */
export async function applyInventorySettings(tx: Tx, storeId: string, input: InventorySettingsInput): Promise<void> {
  if (input.outOfStockBehavior) await changeOutOfStockBehavior(tx, storeId, input.outOfStockBehavior);
}

/** Changes the store's own inventory settings in one transaction and answers them all. */
export async function updateInventorySettings(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: InventorySettingsInput,
): Promise<InventorySettings> {
  const settings = await loadInventorySettings(deps.db.prisma, storeId);
  // the same behaviour again changes nothing: no need to lock every item of the store
  if (!input.outOfStockBehavior || input.outOfStockBehavior === settings.outOfStockBehavior) return settings;
  await inTransaction(deps.db.pool, deps.publisher, (tx) => applyInventorySettings(tx, storeId, input));
  return loadInventorySettings(deps.db.prisma, storeId);
}
