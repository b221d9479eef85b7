import { z } from "zod";
import { Prisma, type Variant } from "../generated/prisma/client.ts";
import type { Deps } from "../deps.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, MAX_ABS_QUANTITY, rules } from "../validation.ts";
import { changeStock, lockItems, pastLimit } from "./stock-ledger.ts";
import { LowStockThresholdRule, setVariantLowStockThreshold } from "./low-stock.ts";
import { lockWarehouses } from "./warehouses.ts";

/**
 * Options and variants (SPEC section 8): an item may have up to 3 options ("Talla": S, M, L),
 * each with 1 to 50 values, and is then sold as the combinations the merchant lists (up to 100),
 * each with its own SKU, price and stock. An item without options has one variant, its default.
 */

export const MAX_OPTIONS = 3;
export const MAX_OPTION_VALUES = 50;
export const MAX_VARIANTS = 100;

export type ItemOption = { name: string; values: string[] };
export type OptionValue = { name: string; value: string };
export type VariantInput = { options: OptionValue[]; sku?: string | null; price?: string | null; quantity?: number | null };

const optionText = rules.name.pipe(z.string().max(100, "must be at most 100 characters"));

export const OptionsRule = z
  .array(
    z.object({
      name: optionText,
      values: z
        .array(optionText)
        .min(1, "must have at least one value")
        .max(MAX_OPTION_VALUES, `must have at most ${MAX_OPTION_VALUES} values`)
        .refine((values) => new Set(values.map(fold)).size === values.length, "must not repeat a value"),
    }),
  )
  .max(MAX_OPTIONS, `must have at most ${MAX_OPTIONS} options`)
  .refine((options) => new Set(options.map((option) => fold(option.name))).size === options.length, "must not repeat an option name");

export const VariantRule = z.object({
  options: z.array(z.object({ name: optionText, value: optionText })),
  sku: rules.sku.nullish(),
  price: rules.price.nullish(),
  quantity: rules.initialQuantity.nullish(),
});

/** Option names and values compare without regard to case or surrounding spaces. */
function fold(text: string) {
  return text.trim().toLocaleLowerCase("es");
}

/**
 * A variant's option values in the item's option order, with the item's own spelling, and its
 * key ('' for the default variant); INVALID_INPUT at `field` when the combination is not one of
 * the item's options and values (one value of each option, no other).
 */
export function combinationOf(
  options: readonly ItemOption[],
  values: readonly OptionValue[],
  field: string,
): { values: OptionValue[]; key: string } | OperationError {
  if (values.length !== options.length) {
    return invalidInput(`must give one value of each of the item's options (${options.map((o) => o.name).join(", ")})`, field);
  }
  const ordered: OptionValue[] = [];
  for (const option of options) {
    const given = values.filter((value) => fold(value.name) === fold(option.name));
    if (given.length !== 1) return invalidInput(`must give one value of option "${option.name}"`, field);
    const value = option.values.find((candidate) => fold(candidate) === fold(given[0]!.value));
    if (value === undefined) return invalidInput(`"${given[0]!.value}" is not a value of option "${option.name}"`, field);
    ordered.push({ name: option.name, value });
  }
  return { values: ordered, key: ordered.map((value) => fold(value.value)).join("\u001f") };
}

export type NewVariant = { values: OptionValue[]; key: string; sku: string | null; price: string | null; quantity: number; isDefault: boolean };

/**
 * Inserts the variants of an item (its items row exists, locked by the caller's transaction),
 * a stock level of each in every warehouse of the store, and records each tracked variant's
 * first count in the main warehouse (INITIAL_COUNT). Answers INVALID_INPUT at `field` for a
 * combination or SKU that is taken, or for counts that would take the item past the limit
 * (all the variants of an item hold at most 1e9 units over the fulfilling warehouses).
 */
export async function insertVariants(
  tx: Tx,
  storeId: string,
  itemId: string,
  variants: readonly NewVariant[],
  options: { tracked: boolean; firstPosition: number; field: (index: number) => string },
): Promise<string[] | OperationError> {
  await lockWarehouses(tx, storeId, "shared");
  const taken = await tx.query<{ sku: string | null; optionKey: string }>(
    sql`SELECT sku, option_key AS "optionKey" FROM variants
         WHERE store_id = ${storeId}::uuid
           AND (sku = ANY(${variants.map((v) => v.sku).filter(Boolean)}::text[])
                OR (item_id = ${itemId}::uuid AND option_key = ANY(${variants.map((v) => v.key)}::text[])))`,
  );
  for (const [index, variant] of variants.entries()) {
    if (variant.sku && taken.rows.some((row) => row.sku === variant.sku)) return duplicateSku(variant.sku, `${options.field(index)}.sku`);
    if (taken.rows.some((row) => row.optionKey === variant.key)) {
      return invalidInput("the item already has this combination of options", `${options.field(index)}.options`);
    }
  }
  const { rows } = await tx.query<{ id: string }>(
    // a variant created at or below the store's threshold is low from the start: listed, but no alert
    sql`INSERT INTO variants (store_id, item_id, is_default, position, sku, options, option_key, price, low_stock)
        SELECT ${storeId}::uuid, ${itemId}::uuid, v.is_default, v.position, v.sku, v.options, v.option_key, v.price,
               is_low_stock(i.type, i.track_inventory, 0, NULL, s.low_stock_threshold)
          FROM items i JOIN stores s ON s.id = i.store_id, unnest(${variants.map((v) => v.isDefault)}::bool[],
                      ${variants.map((_, index) => options.firstPosition + index)}::int[],
                      ${variants.map((v) => v.sku)}::text[],
                      ${variants.map((v) => JSON.stringify(v.values))}::jsonb[],
                      ${variants.map((v) => v.key)}::text[],
                      ${variants.map((v) => v.price)}::numeric[])
            WITH ORDINALITY AS v(is_default, position, sku, options, option_key, price, n)
         WHERE i.store_id = ${storeId}::uuid AND i.id = ${itemId}::uuid
         ORDER BY v.n
        RETURNING id`,
  );
  const ids = rows.map((row) => row.id);
  await tx.query(
    sql`INSERT INTO stock_levels (store_id, variant_id, warehouse_id)
        SELECT ${storeId}::uuid, v.id, w.id FROM unnest(${ids}::uuid[]) AS v(id)
          CROSS JOIN warehouses w WHERE w.store_id = ${storeId}::uuid`,
  );
  if (options.tracked) {
    const main = await mainWarehouseId(tx, storeId);
    const counted = await changeStock(
      tx,
      storeId,
      ids.map((id, index) => ({ variantId: id, warehouseId: main, setQuantity: variants[index]!.quantity })),
      { keepAvailableNonNegative: false, refuseWhenSynced: variants.some((variant) => variant.quantity !== 0), allOrNothing: true },
      { reason: "INITIAL_COUNT" },
    );
    if (counted.levels !== ids.length) {
      // past the item's limit: the first variant whose count takes the item's sum over it
      let sum = 0;
      const past = variants.findIndex((variant) => Math.abs((sum += variant.quantity)) > MAX_ABS_QUANTITY);
      const index = past >= 0 ? past : (counted.refused[0]?.change ?? 0);
      return pastLimit(counted.refused, `${options.field(index)}.quantity`, "these first counts") ?? managedByAccounting();
    }
  }
  return ids;
}

/** The store's main warehouse (every store has one from its creation). */
export async function mainWarehouseId(tx: Tx, storeId: string): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(sql`SELECT id FROM warehouses WHERE store_id = ${storeId}::uuid AND is_main`);
  return rows[0]!.id;
}

export const managedByAccounting = () =>
  new OperationError("INVENTORY_MANAGED_BY_ACCOUNTING", "stock is managed in the accounting system while inventory sync is on");

export const duplicateSku = (sku: string | null | undefined, field = "sku") =>
  invalidInput(`another item or variant of this store already has SKU "${sku}"`, field);

/** A SKU taken by a racing request shows as a unique violation: the same answer as one taken before. */
export async function onDuplicateSku<T>(work: Promise<T>, field = "sku"): Promise<T | OperationError> {
  try {
    return await work;
  } catch (error) {
    if ((error as { code?: string }).code === "23505") return invalidInput("another item or variant of this store already has this SKU", field);
    throw error;
  }
}

/** Whether a SKU is free in the store among items and variants, but for `exceptItemId`'s own. */
export async function skuTaken(tx: Tx, storeId: string, sku: string, exceptItemId?: string): Promise<boolean> {
  const { rows } = await tx.query(
    sql`SELECT 1 FROM variants WHERE store_id = ${storeId}::uuid AND sku = ${sku} AND item_id IS DISTINCT FROM ${exceptItemId ?? null}::uuid
        UNION ALL
        SELECT 1 FROM items WHERE store_id = ${storeId}::uuid AND sku = ${sku} AND id IS DISTINCT FROM ${exceptItemId ?? null}::uuid`,
  );
  return rows.length > 0;
}

/** `addVariant`: a new combination of an item's options, with its SKU, price and first count. */
export async function addVariant(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: { itemId: string; variant: VariantInput },
): Promise<Variant | OperationError> {
  if (!isRecordId(input.itemId)) return notFound("Item", "itemId");
  const variant = check(VariantRule, input.variant);
  if (variant instanceof OperationError) return new OperationError(variant.code, variant.message, `variant.${variant.field}`);
  const added = inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    await lockItems(tx, storeId, [input.itemId]);
    const { rows } = await tx.query<{ options: ItemOption[]; tracked: boolean; count: number }>(
      sql`SELECT i.options, (i.type = 'PRODUCT' AND i.track_inventory) AS tracked,
                 (SELECT count(*)::int FROM variants v WHERE v.store_id = i.store_id AND v.item_id = i.id) AS count
            FROM items i WHERE i.store_id = ${storeId}::uuid AND i.id = ${input.itemId}::uuid`,
    );
    const item = rows[0];
    if (!item) return tx.rollbackWith(notFound("Item", "itemId"));
    if (item.options.length === 0) {
      return tx.rollbackWith(invalidInput("this item has no options: it is sold as its one default variant", "itemId"));
    }
    if (item.count >= MAX_VARIANTS) return tx.rollbackWith(invalidInput(`an item has at most ${MAX_VARIANTS} variants`, "itemId"));
    if (!item.tracked && variant.quantity) {
      return tx.rollbackWith(invalidInput("quantity can only be given for a product that tracks inventory", "variant.quantity"));
    }
    const combination = combinationOf(item.options, variant.options, "variant.options");
    if (combination instanceof OperationError) return tx.rollbackWith(combination);
    if (variant.sku && (await skuTaken(tx, storeId, variant.sku))) return tx.rollbackWith(duplicateSku(variant.sku, "variant.sku"));
    const ids = await insertVariants(
      tx,
      storeId,
      input.itemId,
      [{ ...combination, sku: variant.sku ?? null, price: variant.price ?? null, quantity: variant.quantity ?? 0, isDefault: false }],
      { tracked: item.tracked, firstPosition: item.count, field: () => "variant" },
    );
    if (ids instanceof OperationError) return tx.rollbackWith(ids);
    return loadVariant(tx, storeId, ids[0]!);
  });
  return onDuplicateSku(added, "variant.sku");
}

/**
 * `updateVariant`: its SKU (empty clears it), its own price, or its own low-stock threshold
 * (`clearLowStockThreshold`: the store's again; a threshold it already meets records an alert).
 * The default variant's SKU is its item's.
 */
export async function updateVariant(
  deps: Pick<Deps, "db" | "publisher">,
  storeId: string,
  input: { id: string; sku?: string | null; price?: string | null; lowStockThreshold?: number | null; clearLowStockThreshold?: boolean | null },
): Promise<Variant | OperationError> {
  if (!isRecordId(input.id)) return notFound("Variant", "id");
  const valid = check(
    z.object({ sku: z.union([z.literal(""), rules.sku]).nullish(), price: rules.price.nullish(), lowStockThreshold: LowStockThresholdRule.nullish() }),
    input,
  );
  if (valid instanceof OperationError) return valid;
  if (input.clearLowStockThreshold && valid.lowStockThreshold != null) {
    return invalidInput("give a low-stock threshold or clear it, not both", "clearLowStockThreshold");
  }
  const updated = inTransaction(deps.db.pool, deps.publisher, async (tx) => {
    const { rows } = await tx.query<{ itemId: string; isDefault: boolean; sku: string | null }>(
      sql`SELECT item_id AS "itemId", is_default AS "isDefault", sku FROM variants WHERE store_id = ${storeId}::uuid AND id = ${input.id}::uuid`,
    );
    const found = rows[0];
    if (!found) return tx.rollbackWith(notFound("Variant", "id"));
    await lockItems(tx, storeId, [found.itemId]);
    if (valid.sku != null) {
      const sku = valid.sku === "" ? null : valid.sku;
      // its own SKU again is no clash
      if (sku && sku !== found.sku && (await skuTaken(tx, storeId, sku, found.isDefault ? found.itemId : undefined))) {
        return tx.rollbackWith(duplicateSku(sku));
      }
      await tx.query(sql`UPDATE variants SET sku = ${sku}, updated_at = now() WHERE store_id = ${storeId}::uuid AND id = ${input.id}::uuid`);
      if (found.isDefault) {
        await tx.query(sql`UPDATE items SET sku = ${sku}, updated_at = now() WHERE store_id = ${storeId}::uuid AND id = ${found.itemId}::uuid`);
      }
    }
    if (valid.price != null) {
      await tx.query(
        sql`UPDATE variants SET price = ${valid.price}::numeric, updated_at = now() WHERE store_id = ${storeId}::uuid AND id = ${input.id}::uuid`,
      );
    }
    if (valid.lowStockThreshold != null || input.clearLowStockThreshold) {
      await setVariantLowStockThreshold(tx, storeId, found.itemId, input.id, valid.lowStockThreshold ?? null);
    }
    return loadVariant(tx, storeId, input.id);
  });
  return onDuplicateSku(updated);
}

/** Reads a variant back inside the transaction, as Prisma reads it. */
export async function loadVariant(tx: Tx, storeId: string, variantId: string): Promise<Variant> {
  const { rows } = await tx.query<Variant>(
    sql`SELECT ${columnsOf(Prisma.VariantScalarFieldEnum)} FROM variants WHERE store_id = ${storeId}::uuid AND id = ${variantId}::uuid`,
  );
  return rows[0]!;
}
