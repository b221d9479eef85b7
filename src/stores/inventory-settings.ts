import type { PrismaClient } from "../generated/prisma/client.ts";
import type { OutOfStockBehavior } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, OperationError } from "../errors.ts";
import { LowStockThresholdRule } from "../stock/low-stock.ts";
import { changeLowStockThreshold, changeOutOfStockBehavior } from "../stock/stock-policy.ts";
import { check } from "../validation.ts";

export type InventorySettings = {
  storeId: string;
  outOfStockBehavior: OutOfStockBehavior;
  /** the store's stock is managed by its accounting system */
  accountingSync: boolean;
  /** the store has connected an accounting system */
  accountingConnected: boolean;
  /** the store's default low-stock threshold; null: no alerts unless a variant sets one */
  lowStockThreshold: number | null;
};

/** The store's inventory settings ("Configuración de inventario"). */
export async function loadInventorySettings(prisma: PrismaClient, storeId: string): Promise<InventorySettings> {
  const store = await prisma.store.findUniqueOrThrow({
    where: { id: storeId },
    select: { outOfStockBehavior: true, accountingSync: true, lowStockThreshold: true, accounting: { select: { storeId: true } } },
  });
  return {
    storeId,
    outOfStockBehavior: store.outOfStockBehavior,
    accountingSync: store.accountingSync,
    accountingConnected: store.accounting !== null,
    lowStockThreshold: store.lowStockThreshold,
  };
}

export type InventorySettingsInput = {
  outOfStockBehavior?: OutOfStockBehavior | null;
  lowStockThreshold?: number | null;
  /** true: the store's threshold back to none */
  clearLowStockThreshold?: boolean | null;
};

/** The settings' own rules, checked before anything changes: INVALID_INPUT at the field at fault. */
export function checkInventorySettings(input: InventorySettingsInput): OperationError | null {
  const valid = check(LowStockThresholdRule.nullish(), input.lowStockThreshold);
  if (valid instanceof OperationError) return invalidInput(`lowStockThreshold ${valid.message}`, "lowStockThreshold");
  if (input.clearLowStockThreshold && input.lowStockThreshold != null) {
    return invalidInput("give a low-stock threshold or clear it, not both", "clearLowStockThreshold");
  }
  return null;
}

/** The store's threshold the input sets: a number, null to clear it, undefined to leave it. */
const thresholdOf = (input: InventorySettingsInput) => (input.clearLowStockThreshold ? null : (input.lowStockThreshold ?? undefined));

/**
 * The store's own inventory settings changed as the input asks, in the caller's transaction.
 * "Ocultar producto" / "Marcar como agotado": changing the out-of-stock behaviour recomputes the
 * availability of every item of the store at once, and subscribers hear of each item that moved
 * once the transaction commits. (Switching accounting sync is the accounting connector's, which
 * runs this in the transaction that turns its switch: src/accounting/sync-switch.ts.)
 */
export async function applyInventorySettings(tx: Tx, storeId: string, input: InventorySettingsInput): Promise<void> {
  if (input.outOfStockBehavior) await changeOutOfStockBehavior(tx, storeId, input.outOfStockBehavior);
  const threshold = thresholdOf(input);
  if (threshold !== undefined) await changeLowStockThreshold(tx, storeId, threshold);
}

/** Changes the store's own inventory settings in one transaction and answers them all. */
export async function updateInventorySettings(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: InventorySettingsInput,
): Promise<InventorySettings | OperationError> {
  const refused = checkInventorySettings(input);
  if (refused) return refused;
  const settings = await loadInventorySettings(deps.db.prisma, storeId);
  // the same settings again change nothing: no need to lock every item of the store
  const threshold = thresholdOf(input);
  const behaviorChanges = Boolean(input.outOfStockBehavior) && input.outOfStockBehavior !== settings.outOfStockBehavior;
  if (!behaviorChanges && (threshold === undefined || threshold === settings.lowStockThreshold)) return settings;
  await inTransaction(deps.db.pool, deps.publisher, (tx) => applyInventorySettings(tx, storeId, input));
  return loadInventorySettings(deps.db.prisma, storeId);
}
