import { z } from "zod";
import type { PrismaClient } from "../generated/prisma/client.ts";
import type { OutOfStockBehavior } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, OperationError } from "../errors.ts";
import { LowStockThresholdRule } from "../stock/low-stock.ts";
import { changeLowStockThreshold, changeOutOfStockBehavior } from "../stock/stock-policy.ts";
import { check } from "../validation.ts";
import { sql } from "../db/sql.ts";

export type InventorySettings = {
  storeId: string;
  outOfStockBehavior: OutOfStockBehavior;
  /** the store's stock is managed by its accounting system */
  accountingSync: boolean;
  /** the store has connected an accounting system */
  accountingConnected: boolean;
  /** the store's default low-stock threshold; null: no alerts unless a variant sets one */
  lowStockThreshold: number | null;
  /** how long a cart hold lasts; 0: the store holds no stock for carts */
  reservationMinutes: number;
};

/** The store's inventory settings ("Configuración de inventario"). */
export async function loadInventorySettings(prisma: PrismaClient, storeId: string): Promise<InventorySettings> {
  const store = await prisma.store.findUniqueOrThrow({
    where: { id: storeId },
    select: {
      outOfStockBehavior: true,
      accountingSync: true,
      lowStockThreshold: true,
      reservationMinutes: true,
      accounting: { select: { storeId: true } },
    },
  });
  return {
    storeId,
    outOfStockBehavior: store.outOfStockBehavior,
    accountingSync: store.accountingSync,
    accountingConnected: store.accounting !== null,
    lowStockThreshold: store.lowStockThreshold,
    reservationMinutes: store.reservationMinutes,
  };
}

export type InventorySettingsInput = {
  outOfStockBehavior?: OutOfStockBehavior | null;
  lowStockThreshold?: number | null;
  /** true: the store's threshold back to none */
  clearLowStockThreshold?: boolean | null;
  reservationMinutes?: number | null;
};

/** The longest a store may make its cart holds last (`reservationMinutes`). */
export const MAX_RESERVATION_MINUTES = 120;

/** How long a store's cart holds last: whole minutes, 0 (no holds) to MAX_RESERVATION_MINUTES. */
const ReservationMinutesRule = z.number().int().min(0, "must not be negative").max(MAX_RESERVATION_MINUTES, `must be at most ${MAX_RESERVATION_MINUTES}`);

/** The settings' own rules, checked before anything changes: INVALID_INPUT at the field at fault. */
export function checkInventorySettings(input: InventorySettingsInput): OperationError | null {
  const valid = check(LowStockThresholdRule.nullish(), input.lowStockThreshold);
  if (valid instanceof OperationError) return invalidInput(`lowStockThreshold ${valid.message}`, "lowStockThreshold");
  if (input.clearLowStockThreshold && input.lowStockThreshold != null) {
    return invalidInput("give a low-stock threshold or clear it, not both", "clearLowStockThreshold");
  }
  const minutes = check(ReservationMinutesRule.nullish(), input.reservationMinutes);
  if (minutes instanceof OperationError) return invalidInput(`reservationMinutes ${minutes.message}`, "reservationMinutes");
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
  // read by each new hold as it is made; holds already HELD keep their expiry, so no lock is needed
  if (input.reservationMinutes != null) {
    await tx.query(sql`UPDATE stores SET reservation_minutes = ${input.reservationMinutes}::int, updated_at = now() WHERE id = ${storeId}::uuid`);
  }
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
  const minutesChange = input.reservationMinutes != null && input.reservationMinutes !== settings.reservationMinutes;
  if (!behaviorChanges && !minutesChange && (threshold === undefined || threshold === settings.lowStockThreshold)) return settings;
  await inTransaction(deps.db.pool, deps.publisher, (tx) => applyInventorySettings(tx, storeId, input));
  return loadInventorySettings(deps.db.prisma, storeId);
}
