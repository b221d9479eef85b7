import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import QueryStream from "pg-query-stream";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { sql } from "../db/sql.ts";
import { tracksInventory } from "./availability.ts";
import type { OptionValue } from "./variants.ts";

/**
 * The inventory as a spreadsheet (SPEC section 9, "Bulk counts"): one row per stock level of
 * every tracked variant in every warehouse, the file the merchant edits and imports back (and
 * the levels its rows name, for the import's preview). The header is Spanish, as the console and
 * the help article speak.
 */
export const INVENTORY_CSV_COLUMNS = [
  "sku",
  "producto",
  "variante",
  "bodega",
  "bodega_id",
  "cantidad",
  "comprometida",
  "reservada",
  "disponible",
] as const;

type LevelRow = {
  sku: string | null;
  product: string;
  options: OptionValue[];
  warehouse: string;
  warehouseId: string;
  quantity: number;
  committed: number;
  reserved: number;
};

/** Rows fetched from PostgreSQL at a time: enough to keep the socket busy, few enough to keep memory flat. */
const BATCH_ROWS = 500;
/** CSV text handed to the socket at a time. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Writes the store's inventory to `out` as UTF-8 CSV (RFC 4180: comma separated, CRLF, fields
 * quoted where they must be), streamed from a server-side cursor: PostgreSQL hands over
 * BATCH_ROWS rows at a time, and only when `out` has taken the previous ones, so a store of any
 * size exports in the same memory and a slow reader slows the cursor instead of filling this
 * process. Rows go by product name, then variant, then warehouse (the main one first, then by
 * priority). Holds one pooled connection until the last row is written or `out` fails.
 */
export async function writeInventoryCsv(pool: pg.Pool, storeId: string, out: Writable): Promise<void> {
  const statement = sql`
    SELECT v.sku, i.name AS product, v.options, w.name AS warehouse, w.id AS "warehouseId",
           l.quantity, l.committed_quantity AS committed, l.reserved_quantity AS reserved
      FROM stock_levels l
      JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
      JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
      JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
     WHERE l.store_id = ${storeId}::uuid AND i.type = 'PRODUCT' AND i.track_inventory
     ORDER BY i.name, i.id, v.position, v.id, w.is_main DESC, w.priority, w.created_at, w.id`;
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const rows = client.query(new QueryStream(statement.text, statement.values, { batchSize: BATCH_ROWS, highWaterMark: BATCH_ROWS }));
    await pipeline(rows, csvChunks, out);
  } catch (error) {
    // a cursor cut off part way (the reader left, a statement failed) leaves the connection mid-protocol
    broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}

/** The CSV text of the rows, in chunks of about CHUNK_CHARS, the header first. */
async function* csvChunks(rows: AsyncIterable<LevelRow>): AsyncGenerator<string> {
  let chunk = csvLine(INVENTORY_CSV_COLUMNS);
  for await (const row of rows) {
    chunk += csvLine([
      row.sku ?? "",
      row.product,
      variantLabel(row.options),
      row.warehouse,
      row.warehouseId,
      row.quantity,
      row.committed,
      row.reserved,
      row.quantity - row.committed - row.reserved,
    ]);
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

/** "Talla: M / Color: Negro"; empty for a default variant. */
export const variantLabel = (options: readonly OptionValue[]) => options.map((option) => `${option.name}: ${option.value}`).join(" / ");

/** One RFC 4180 record: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvLine(fields: readonly (string | number)[]): string {
  return fields.map((field) => (typeof field === "string" && /[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field)).join(",") + "\r\n";
}

/** SKUs one levelsBySku looks up: a spreadsheet of 10,000 rows is matched in 20 calls. */
export const MAX_SKUS_LOOKED_UP = 500;

/** A stock level as a spreadsheet row names it (by SKU and warehouse), with what deciding on its count needs. */
export type SkuStockLevel = {
  sku: string;
  itemId: string;
  variantId: string;
  warehouseId: string;
  quantity: number;
  product: string;
  variant: string;
  trackInventory: boolean;
  sellWithoutStock: boolean;
};

/**
 * The stock levels, in every warehouse, of the store's variants that carry `skus` (an item
 * without options: its own SKU, which its default variant carries): what the console's Importar
 * compares an edited sheet with. By the variants' unique (store, SKU) index.
 */
export async function levelsBySku(prisma: PrismaClient, storeId: string, skus: readonly string[]): Promise<SkuStockLevel[]> {
  const variants = await prisma.variant.findMany({
    where: { storeId, sku: { in: [...skus] } },
    select: {
      id: true,
      sku: true,
      itemId: true,
      options: true,
      item: { select: { name: true, type: true, trackInventory: true, sellWithoutStock: true } },
      stockLevels: { select: { warehouseId: true, quantity: true } },
    },
  });
  return variants.flatMap((variant) =>
    variant.stockLevels.map((level) => ({
      sku: variant.sku!,
      itemId: variant.itemId,
      variantId: variant.id,
      warehouseId: level.warehouseId,
      quantity: level.quantity,
      product: variant.item.name,
      variant: variantLabel(variant.options as OptionValue[]),
      trackInventory: tracksInventory(variant.item),
      sellWithoutStock: variant.item.sellWithoutStock,
    })),
  );
}
