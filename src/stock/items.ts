import { z } from "zod";
import { Prisma, type Item } from "../generated/prisma/client.ts";
import { ItemType, type StockMovementReason } from "../generated/prisma/enums.ts";
import type { Deps } from "../deps.ts";
import { columnsOf } from "../db/records.ts";
import { sql } from "../db/sql.ts";
import { inTransaction, type Tx } from "../db/transaction.ts";
import { invalidInput, notFound, OperationError } from "../errors.ts";
import { check, isRecordId, rules } from "../validation.ts";
import { tracksInventory } from "./availability.ts";
import { changeStockSettings, lockItems } from "./stock-ledger.ts";
import {
  combinationOf,
  duplicateSku,
  insertVariants,
  MAX_VARIANTS,
  onDuplicateSku,
  OptionsRule,
  skuTaken,
  VariantRule,
  type ItemOption,
  type NewVariant,
  type VariantInput,
} from "./variants.ts";

export type CreateItemInput = {
  name: string;
  type: ItemType;
  price: string;
  sku?: string | null;
  trackInventory?: boolean | null;
  quantity?: number | null;
  sellWithoutStock?: boolean | null;
  options?: ItemOption[] | null;
  variants?: VariantInput[] | null;
};

const CreateItem = z.object({
  name: rules.name,
  type: z.enum(ItemType),
  price: rules.price,
  sku: rules.sku.nullish(),
  trackInventory: z.boolean().nullish(),
  quantity: rules.initialQuantity.nullish(),
  sellWithoutStock: z.boolean().nullish(),
  options: OptionsRule.nullish(),
  variants: z.array(VariantRule).max(MAX_VARIANTS, `must have at most ${MAX_VARIANTS} variants`).nullish(),
});

/**
 * Creates an item with its variants: the one default variant of an item without options, or
 * the option combinations listed. A product tracks inventory unless told otherwise, a service
 * never does; each tracked variant's first count goes to the main warehouse as an INITIAL_COUNT
 * movement.
 */
export async function createItem(deps: Pick<Deps, "db" | "publisher">, storeId: string, input: CreateItemInput) {
  const valid = check(CreateItem, input);
  if (valid instanceof OperationError) return valid;
  const tracked = tracksInventory({ type: valid.type, trackInventory: valid.trackInventory ?? true });
  const options = valid.options ?? [];
  const variants = newVariants(valid, options, tracked);
  if (variants instanceof OperationError) return variants;
  return onDuplicateSku(
    inTransaction(deps.db.pool, deps.publisher, async (tx) => {
      if (valid.sku && (await skuTaken(tx, storeId, valid.sku))) return tx.rollbackWith(duplicateSku(valid.sku));
      const { rows } = await tx.query<{ id: string }>(
        // availability starts IN_STOCK; the first counts below recompute it
        sql`INSERT INTO items (store_id, sku, name, type, price, track_inventory, sell_without_stock, options)
            VALUES (${storeId}::uuid, ${valid.sku ?? null}, ${valid.name}, ${valid.type}::"ItemType", ${valid.price}::numeric,
                    ${tracked}, ${valid.sellWithoutStock ?? false}, ${JSON.stringify(options)}::jsonb)
            RETURNING id`,
      );
      const id = rows[0]!.id;
      await lockItems(tx, storeId, [id]);
      const created = await insertVariants(tx, storeId, id, variants, { tracked, firstPosition: 0, field: (index) => `variants.${index}` });
      if (created instanceof OperationError) return tx.rollbackWith(created);
      return loadItem(tx, storeId, id);
    }),
  );
}

/** The variants a new item is created with, or what is wrong with them. */
function newVariants(valid: z.infer<typeof CreateItem>, options: ItemOption[], tracked: boolean): NewVariant[] | OperationError {
  if (options.length === 0) {
    if (valid.variants?.length) return invalidInput("variants need options: list the item's options first", "variants");
    if (!tracked && valid.quantity) return invalidInput("quantity can only be given for a product that tracks inventory", "quantity");
    return [{ values: [], key: "", sku: valid.sku ?? null, price: null, quantity: valid.quantity ?? 0, isDefault: true }];
  }
  if (valid.quantity != null) return invalidInput("an item with options counts its stock per variant: give each variant's quantity", "quantity");
  if (valid.sku != null) return invalidInput("an item with options carries its SKUs on its variants", "sku");
  if (!valid.variants?.length) return invalidInput("an item with options needs the variants it is sold as", "variants");
  const variants: NewVariant[] = [];
  for (const [index, variant] of valid.variants.entries()) {
    const combination = combinationOf(options, variant.options, `variants.${index}.options`);
    if (combination instanceof OperationError) return combination;
    if (variants.some((other) => other.key === combination.key)) {
      return invalidInput("the same combination of options is listed twice", `variants.${index}.options`);
    }
    if (variant.sku && variants.some((other) => other.sku === variant.sku)) return duplicateSku(variant.sku, `variants.${index}.sku`);
    if (!tracked && variant.quantity) {
      return invalidInput("quantity can only be given for a product that tracks inventory", `variants.${index}.quantity`);
    }
    variants.push({ ...combination, sku: variant.sku ?? null, price: variant.price ?? null, quantity: variant.quantity ?? 0, isDefault: false });
  }
  return variants;
}

export type UpdateItemInput = {
  id: string;
  name?: string | null;
  price?: string | null;
  sku?: string | null;
  trackInventory?: boolean | null;
  sellWithoutStock?: boolean | null;
};

const UpdateItem = z.object({
  id: z.string(),
  name: rules.name.nullish(),
  price: rules.price.nullish(),
  // an empty SKU clears it
  sku: z.union([z.literal(""), rules.sku]).nullish(),
  trackInventory: z.boolean().nullish(),
  sellWithoutStock: z.boolean().nullish(),
});

/**
 * Changes an item's description, price, SKU (an item without options: its default variant's
 * too) or stock settings. Turning "sell without stock" or inventory tracking on or off
 * recomputes availability at once and tells subscribers.
 */
export async function updateItem(deps: Deps, storeId: string, input: UpdateItemInput) {
  const valid = check(UpdateItem, input);
  if (valid instanceof OperationError) return valid;
  if (!isRecordId(valid.id)) return notFound("Item", "id");
  return onDuplicateSku(
    inTransaction(deps.db.pool, deps.publisher, async (tx) => {
      await lockItems(tx, storeId, [valid.id]);
      const { rows } = await tx.query<{ hasOptions: boolean }>(
        sql`SELECT jsonb_array_length(options) > 0 AS "hasOptions" FROM items WHERE store_id = ${storeId}::uuid AND id = ${valid.id}::uuid`,
      );
      if (!rows[0]) return tx.rollbackWith(notFound("Item", "id"));
      const sku = valid.sku == null ? undefined : valid.sku === "" ? null : valid.sku;
      if (sku !== undefined) {
        if (rows[0].hasOptions && sku !== null) return tx.rollbackWith(invalidInput("an item with options carries its SKUs on its variants", "sku"));
        if (sku && (await skuTaken(tx, storeId, sku, valid.id))) return tx.rollbackWith(duplicateSku(sku));
      }
      await tx.query(
        sql`WITH item AS (
              UPDATE items SET
                name = coalesce(${valid.name ?? null}, name),
                price = coalesce(${valid.price ?? null}::numeric, price),
                sku = CASE WHEN ${sku !== undefined} THEN ${sku ?? null} ELSE sku END,
                updated_at = now()
              WHERE store_id = ${storeId}::uuid AND id = ${valid.id}::uuid
              RETURNING id, sku
            )
            UPDATE variants v SET sku = item.sku, updated_at = now() FROM item
             WHERE v.store_id = ${storeId}::uuid AND v.item_id = item.id AND v.is_default AND v.sku IS DISTINCT FROM item.sku`,
      );
      if (valid.trackInventory != null || valid.sellWithoutStock != null) {
        await changeStockSettings(tx, storeId, valid.id, {
          trackInventory: valid.trackInventory ?? undefined,
          sellWithoutStock: valid.sellWithoutStock ?? undefined,
        });
      }
      return loadItem(tx, storeId, valid.id);
    }),
  );
}

/** Reads an item back inside the transaction, as Prisma reads it. */
export async function loadItem(tx: Tx, storeId: string, itemId: string): Promise<Item> {
  const { rows } = await tx.query<Item>(
    sql`SELECT ${columnsOf(Prisma.ItemScalarFieldEnum)} FROM items WHERE store_id = ${storeId}::uuid AND id = ${itemId}::uuid`,
  );
  return rows[0]!;
}
