import type { PrismaClient } from "../generated/prisma/client.ts";
import type { OutOfStockBehavior } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { inTransaction } from "../db/transaction.ts";
import { changeOutOfStockBehavior } from "../stock/store-stock-settings.ts";

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

/**
 * Changes the store's own inventory settings and answers them all. "Ocultar producto" / "Marcar
 * como agotado": changing the out-of-stock behaviour recomputes the availability of every item of
 * the store at once, and subscribers hear of each item that moved. (Switching accounting sync is
 * the accounting connector's: src/accounting/sync-switch.ts, called first by the API.)
 */
export async function updateInventorySettings(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: { outOfStockBehavior?: OutOfStockBehavior | null },
): Promise<InventorySettings> {
  const settings = await loadInventorySettings(deps.db.prisma, storeId);
  const behavior = input.outOfStockBehavior;
  if (!behavior || behavior === settings.outOfStockBehavior) return settings;
  await inTransaction(deps.db.pool, deps.publisher, (tx) => changeOutOfStockBehavior(tx, storeId, behavior));
  return loadInventorySettings(deps.db.prisma, storeId);
}
