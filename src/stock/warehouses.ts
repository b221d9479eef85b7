import { z } from "zod";
import { Prisma, type Warehouse } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { transactionLock, type LockKey } from "../db/advisory-lock.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, MAX_ABS_QUANTITY, rules } from "../validation.ts";
import { refreshVariants, type BeyondLimit } from "./stock-ledger.ts";
import { lockStoreItems } from "./store-items.ts";

/**
 * Warehouses ("bodegas", SPEC section 8). Every store has a main one from its creation; admins
 * add more (at most 50), choose which fulfil online orders (the main one by default) and in what
 * priority orders take from them. A variant has a stock level in every warehouse of the store.
 */

export const MAX_WAREHOUSES = 50;
export const MAIN_WAREHOUSE = { name: "Principal", isMain: true, fulfilsOnlineOrders: true, priority: 0 } as const;

// A lock space; any constant works as long as every process of the service uses the same one.
const STORE_WAREHOUSES_SPACE = 727_465_004;

/**
 * Held exclusively while a store's warehouses are added or removed, and shared while variants
 * are added: so every variant gets a level in every warehouse, whichever commits first.
 */
export function lockWarehouses(tx: Tx, storeId: string, mode: "exclusive" | "shared"): Promise<void> {
  const key: LockKey = { space: STORE_WAREHOUSES_SPACE, id: storeId };
  return transactionLock(tx, key, mode);
}

const WAREHOUSE = columnsOf(Prisma.WarehouseScalarFieldEnum);

const CreateWarehouse = z.object({
  name: rules.name,
  fulfilsOnlineOrders: z.boolean().nullish(),
  priority: rules.warehousePriority.nullish(),
});

/** `createWarehouse`: a new warehouse, not fulfilling unless said, after the others unless a priority is given. */
export async function createWarehouse(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: z.input<typeof CreateWarehouse>,
): Promise<Warehouse | OperationError> {
  const valid = check(CreateWarehouse, input);
  if (valid instanceof OperationError) return valid;
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    await lockWarehouses(tx, storeId, "exclusive");
    const created = await insertWarehouses(tx, storeId, [{ name: valid.name, accountingId: null, fulfilsOnlineOrders: valid.fulfilsOnlineOrders ?? false, priority: valid.priority ?? null }]);
    if (created instanceof OperationError) return tx.rollbackWith(created);
    return created[0]!;
  });
}

export type NewWarehouse = { name: string; accountingId: string | null; fulfilsOnlineOrders: boolean; priority: number | null };

/**
 * Inserts warehouses (a priority of null: after the existing ones) with a stock level of every
 * variant of the store in each. The caller holds lockWarehouses exclusively. New warehouses
 * hold no stock, so no variant's sums change. INVALID_INPUT past MAX_WAREHOUSES.
 */
export async function insertWarehouses(tx: Tx, storeId: string, warehouses: readonly NewWarehouse[]): Promise<Warehouse[] | OperationError> {
  const { rows: count } = await tx.query<{ count: number; last: number }>(
    sql`SELECT count(*)::int AS count, coalesce(max(priority), -1)::int AS last FROM warehouses WHERE store_id = ${storeId}::uuid`,
  );
  if (count[0]!.count + warehouses.length > MAX_WAREHOUSES) return invalidInput(`a store has at most ${MAX_WAREHOUSES} warehouses`, "name");
  const { rows } = await tx.query<Warehouse>(
    sql`INSERT INTO warehouses (store_id, name, accounting_id, fulfils_online_orders, priority)
        SELECT ${storeId}::uuid, w.name, w.accounting_id, w.fulfils, coalesce(w.priority, ${count[0]!.last}::int + w.n::int)
          FROM unnest(${warehouses.map((w) => w.name)}::text[], ${warehouses.map((w) => w.accountingId)}::text[],
                      ${warehouses.map((w) => w.fulfilsOnlineOrders)}::bool[], ${warehouses.map((w) => w.priority)}::int[])
            WITH ORDINALITY AS w(name, accounting_id, fulfils, priority, n)
        RETURNING ${WAREHOUSE}`,
  );
  await tx.query(
    sql`INSERT INTO stock_levels (store_id, variant_id, warehouse_id)
        SELECT ${storeId}::uuid, v.id, w.id FROM variants v CROSS JOIN unnest(${rows.map((w) => w.id)}::uuid[]) AS w(id)
         WHERE v.store_id = ${storeId}::uuid`,
  );
  return rows;
}

const UpdateWarehouse = z.object({
  id: z.string(),
  name: rules.name.nullish(),
  fulfilsOnlineOrders: z.boolean().nullish(),
  priority: rules.warehousePriority.nullish(),
});

/**
 * `updateWarehouse`: its name, priority, or whether it fulfils online orders. Changing the last
 * recomputes the quantities and availability of every variant with stock there, at once, and
 * tells subscribers; unless a variant's or item's sums would then break the limit rule
 * (INVALID_INPUT at fulfilsOnlineOrders, nothing changed).
 */
export async function updateWarehouse(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: z.input<typeof UpdateWarehouse>,
): Promise<Warehouse | OperationError> {
  const valid = check(UpdateWarehouse, input);
  if (valid instanceof OperationError) return valid;
  if (!isRecordId(valid.id)) return notFound("Warehouse", "id");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    if (valid.fulfilsOnlineOrders != null) await lockStoreItems(tx, storeId);
    const { rows } = await tx.query<Warehouse & { fulfilledBefore: boolean }>(
      sql`WITH before AS (SELECT fulfils_online_orders FROM warehouses WHERE store_id = ${storeId}::uuid AND id = ${valid.id}::uuid)
          UPDATE warehouses SET
            name = coalesce(${valid.name ?? null}, name),
            fulfils_online_orders = coalesce(${valid.fulfilsOnlineOrders ?? null}::boolean, fulfils_online_orders),
            priority = coalesce(${valid.priority ?? null}::int, priority)
          WHERE store_id = ${storeId}::uuid AND id = ${valid.id}::uuid
          RETURNING ${WAREHOUSE}, (SELECT fulfils_online_orders FROM before) AS "fulfilledBefore"`,
    );
    const updated = rows[0];
    if (!updated) return tx.rollbackWith(notFound("Warehouse", "id"));
    const { fulfilledBefore, ...warehouse } = updated;
    if (fulfilledBefore !== warehouse.fulfilsOnlineOrders) {
      const { beyondLimit } = await refreshVariants(tx, storeId, null);
      if (beyondLimit) return tx.rollbackWith(fulfilsPastLimit(beyondLimit));
    }
    return warehouse;
  });
}

function fulfilsPastLimit({ itemId, variantId }: BeyondLimit): OperationError {
  const what = variantId ? `variant ${variantId} of item ${itemId}` : `item ${itemId}`;
  const limit = MAX_ABS_QUANTITY.toLocaleString("en-US");
  return invalidInput(
    `${what} would hold more than ${limit} units (or less than -${limit}) over the warehouses that fulfil online orders; nothing was changed`,
    "fulfilsOnlineOrders",
  );
}

/**
 * `deleteWarehouse`: never the main one, nor one holding stock (or committed units, or units
 * held for carts) of any variant, nor one that open orders (pending, confirmed, shipped) took units from. Its empty
 * levels go with it; the movements and allocations that name it stay, as history.
 */
export async function deleteWarehouse(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  warehouseId: string,
): Promise<Warehouse | OperationError> {
  if (!isRecordId(warehouseId)) return notFound("Warehouse", "id");
  return inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    await lockStoreItems(tx, storeId);
    await lockWarehouses(tx, storeId, "exclusive");
    const { rows } = await tx.query<Warehouse & { holdsStock: boolean; openAllocations: boolean }>(
      sql`SELECT ${WAREHOUSE},
                 EXISTS (SELECT 1 FROM stock_levels l WHERE l.store_id = w.store_id AND l.warehouse_id = w.id
                           AND (l.quantity <> 0 OR l.committed_quantity <> 0 OR l.reserved_quantity <> 0)) AS "holdsStock",
                 EXISTS (SELECT 1 FROM order_line_allocations a JOIN orders o ON o.store_id = a.store_id AND o.id = a.order_id
                          WHERE a.store_id = w.store_id AND a.warehouse_id = w.id AND o.status IN ('PENDING', 'CONFIRMED', 'SHIPPED')) AS "openAllocations"
            FROM warehouses w WHERE w.store_id = ${storeId}::uuid AND w.id = ${warehouseId}::uuid`,
    );
    const found = rows[0];
    if (!found) return tx.rollbackWith(notFound("Warehouse", "id"));
    const { holdsStock, openAllocations, ...warehouse } = found;
    if (warehouse.isMain) return tx.rollbackWith(invalidInput("the main warehouse cannot be deleted", "id"));
    if (holdsStock) return tx.rollbackWith(invalidInput("this warehouse holds stock: transfer or count it out first", "id"));
    if (openAllocations) return tx.rollbackWith(invalidInput("open orders took units from this warehouse", "id"));
    await tx.query(sql`DELETE FROM stock_levels WHERE store_id = ${storeId}::uuid AND warehouse_id = ${warehouseId}::uuid`);
    await tx.query(sql`DELETE FROM warehouses WHERE store_id = ${storeId}::uuid AND id = ${warehouseId}::uuid`);
    return warehouse;
  });
}

/**
 * The accounting system's warehouses in the store (SPEC section 8): each is the store warehouse
 * carrying its accounting id, created (not fulfilling online orders, after the others) where
 * missing; the accounting default is the store's main warehouse, which takes its id while no
 * other warehouse has it. Answers accounting id -> store warehouse id, or INVALID_INPUT when the
 * missing ones would take the store past MAX_WAREHOUSES (nothing is created then).
 */
export async function mirrorAccountingWarehouses(
  tx: Tx,
  storeId: string,
  warehouses: readonly { id: string; name: string }[],
  defaultAccountingId: string,
): Promise<Map<string, string> | OperationError> {
  await lockWarehouses(tx, storeId, "exclusive");
  await tx.query(
    sql`UPDATE warehouses SET accounting_id = ${defaultAccountingId}
         WHERE store_id = ${storeId}::uuid AND is_main AND accounting_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM warehouses WHERE store_id = ${storeId}::uuid AND accounting_id = ${defaultAccountingId})`,
  );
  const { rows } = await tx.query<{ id: string; accountingId: string }>(
    sql`SELECT id, accounting_id AS "accountingId" FROM warehouses WHERE store_id = ${storeId}::uuid AND accounting_id IS NOT NULL`,
  );
  const mapped = new Map(rows.map((row) => [row.accountingId, row.id]));
  const missing = [...new Map(warehouses.filter((w) => !mapped.has(w.id)).map((w) => [w.id, w])).values()];
  if (missing.length > 0) {
    const created = await insertWarehouses(
      tx,
      storeId,
      missing.map((w) => ({ name: w.name || `Bodega ${w.id}`, accountingId: w.id, fulfilsOnlineOrders: false, priority: null })),
    );
    if (created instanceof OperationError) return created;
    for (const warehouse of created) mapped.set(warehouse.accountingId!, warehouse.id);
  }
  // Item.warehouse: where an item's stock is kept once synced, the main warehouse (items locked by the sync)
  await tx.query(
    sql`UPDATE items i SET warehouse_id = w.id, updated_at = now() FROM warehouses w
         WHERE i.store_id = ${storeId}::uuid AND w.store_id = i.store_id AND w.is_main AND i.warehouse_id IS DISTINCT FROM w.id`,
  );
  return mapped;
}
