import type pg from "pg";

/**
 * Many tracked products at once, straight into the tables (a setup shortcut for tests and the
 * bench: thousands through the API would take longer than what they measure), in the shape the
 * service keeps them: each item with its default variant, a stock level in every warehouse of
 * the store, `quantity` units in the main one with their INITIAL_COUNT movement, and an
 * availability that matches (SOLD_OUT at 0). Then ANALYZE, as autovacuum would do soon after:
 * planning for the empty tables it thinks there are, PostgreSQL would join these thousands of
 * rows in ways that outlast the statement timeout. Answers the item ids in id order.
 */
export async function insertBulkItems(
  pool: pg.Pool,
  storeId: string,
  count: number,
  quantity: number,
  naming: { name: string; sku?: string } = { name: "Item", sku: "SKU" },
): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH created AS (
       INSERT INTO items (store_id, sku, name, type, price, track_inventory, quantity, availability)
       SELECT $1, CASE WHEN $5::text IS NULL THEN NULL ELSE $5 || '-' || g END, $4 || ' ' || g, 'PRODUCT', 19.90, true, $3,
              CASE WHEN $3 > 0 THEN 'IN_STOCK' ELSE 'SOLD_OUT' END::"Availability"
         FROM generate_series(1, $2) g
       RETURNING id, sku, quantity, availability
     ), variants AS (
       INSERT INTO variants (store_id, item_id, is_default, sku, option_key, quantity, availability)
       SELECT $1, id, true, sku, '', quantity, availability FROM created
       RETURNING id, item_id, quantity
     ), levels AS (
       INSERT INTO stock_levels (store_id, variant_id, warehouse_id, quantity)
       SELECT $1, v.id, w.id, CASE WHEN w.is_main THEN v.quantity ELSE 0 END
         FROM variants v CROSS JOIN warehouses w WHERE w.store_id = $1
     ), counted AS (
       INSERT INTO stock_movements (store_id, item_id, variant_id, warehouse_id, delta, quantity_after, reason)
       SELECT $1, v.item_id, v.id, w.id, v.quantity, v.quantity, 'INITIAL_COUNT'
         FROM variants v JOIN warehouses w ON w.store_id = $1 AND w.is_main
     )
     SELECT id FROM created ORDER BY id`,
    [storeId, count, quantity, naming.name, naming.sku ?? null],
  );
  await pool.query("ANALYZE items; ANALYZE variants; ANALYZE stock_levels");
  return rows.map((row) => row.id);
}

/**
 * A store at the documented maxima, straight into the tables: warehouses up to `warehouses` (the
 * main one and `warehouses - 1` more), and `items` tracked products each sold in
 * `variantsPerItem` variants (options "Talla" x "Color", as many values as it takes), with a
 * stock level of every variant in every warehouse (1 unit in each). Answers the item ids in id
 * order. Aggregates are set as the ledger would leave them; no movements are written.
 */
export async function insertStoreAtMaxima(
  pool: pg.Pool,
  storeId: string,
  { items, variantsPerItem, warehouses }: { items: number; variantsPerItem: number; warehouses: number },
): Promise<string[]> {
  const sizes = Math.ceil(Math.sqrt(variantsPerItem));
  const colours = Math.ceil(variantsPerItem / sizes);
  const options = [
    { name: "Talla", values: Array.from({ length: sizes }, (_, n) => `T${n}`) },
    { name: "Color", values: Array.from({ length: colours }, (_, n) => `C${n}`) },
  ];
  await pool.query(
    `INSERT INTO warehouses (store_id, name, fulfils_online_orders, priority)
     SELECT $1, 'Bodega ' || g, false, g FROM generate_series(1, $2 - (SELECT count(*)::int FROM warehouses WHERE store_id = $1)) g`,
    [storeId, warehouses],
  );
  const { rows } = await pool.query<{ id: string }>(
    `WITH created AS (
       INSERT INTO items (store_id, name, type, price, track_inventory, quantity, availability, options)
       SELECT $1, 'Camiseta ' || g, 'PRODUCT', 19.90, true, $3, 'IN_STOCK', $4::jsonb
         FROM generate_series(1, $2) g
       RETURNING id
     ), variants AS (
       INSERT INTO variants (store_id, item_id, position, sku, options, option_key, quantity, availability)
       SELECT $1, c.id, v - 1, 'SKU-' || c.id || '-' || v,
              jsonb_build_array(jsonb_build_object('name', 'Talla', 'value', 'T' || ((v - 1) / $5)),
                                jsonb_build_object('name', 'Color', 'value', 'C' || ((v - 1) % $5))),
              'T' || ((v - 1) / $5) || '/' || 'C' || ((v - 1) % $5), 1, 'IN_STOCK'
         FROM created c CROSS JOIN generate_series(1, $3) v
       RETURNING id
     ), levels AS (
       INSERT INTO stock_levels (store_id, variant_id, warehouse_id, quantity)
       SELECT $1, v.id, w.id, 1 FROM variants v CROSS JOIN warehouses w WHERE w.store_id = $1
     )
     SELECT id FROM created ORDER BY id`,
    [storeId, items, variantsPerItem, JSON.stringify(options), colours],
  );
  await pool.query("ANALYZE items; ANALYZE variants; ANALYZE stock_levels; ANALYZE warehouses");
  return rows.map((row) => row.id);
}
