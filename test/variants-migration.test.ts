import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_DIR } from "../src/db/migrate.ts";
import { createLogger } from "../src/logger.ts";
import { databaseUrl } from "./support/harness.ts";

/**
 * The variants-and-warehouses migration on a database filled the way the service filled it before
 * (SPEC section 8: each item gets its default variant, its count and committed units move to the
 * main warehouse's level, its movements to that variant and warehouse, and every order line that
 * took stock to an allocation from the main warehouse).
 */
const VARIANTS_MIGRATION = "20261129100000_variants_and_warehouses";

const logger = createLogger("silent");
let admin: pg.Client;
let pool: pg.Pool;
let name: string;

beforeAll(async () => {
  const url = new URL(databaseUrl());
  name = `inventory_migration_${Date.now().toString(36)}`;
  const adminUrl = new URL(url);
  adminUrl.pathname = "/postgres";
  admin = new pg.Client({ connectionString: adminUrl.toString() });
  // a connection cut while the database is dropped at the end is expected, not a failure
  admin.on("error", () => {});
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  url.pathname = `/${name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on("error", () => {});

  // the migrations before this one, as the service had applied them
  const before = mkdtempSync(join(tmpdir(), "migrations-"));
  for (const entry of readdirSync(MIGRATIONS_DIR)) {
    if (entry < VARIANTS_MIGRATION) cpSync(join(MIGRATIONS_DIR, entry), join(before, entry), { recursive: true });
  }
  await applyMigrations(pool, logger, { migrations: before, functions: null });
  rmSync(before, { recursive: true });
  await pool.query(FILLED_BY_THE_SERVICE);
  await applyMigrations(pool, logger);
});

afterAll(async () => {
  await pool?.end();
  await admin?.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin?.end();
});

// Two stores: "plain" (no accounting; it never had a warehouse) and "synced" (accounting sync on,
// its warehouses mirrored from accounting, units committed by an open order). Items of every kind,
// orders in every status, movements that add up to each item's quantity.
const PLAIN = "00000000-0000-4000-8000-000000000001";
const SYNCED = "00000000-0000-4000-8000-000000000002";
const item = (n: number) => `00000000-0000-4000-8000-0000000001${String(n).padStart(2, "0")}`;
const order = (n: number) => `00000000-0000-4000-8000-0000000002${String(n).padStart(2, "0")}`;
const FILLED_BY_THE_SERVICE = `
INSERT INTO stores (id, slug, name, admin_token_hash, out_of_stock_behavior, accounting_sync, last_order_number) VALUES
  ('${PLAIN}', 'plain', 'Plain', '\\x00', 'HIDE', false, 6),
  ('${SYNCED}', 'synced', 'Synced', '\\x00', 'MARK_SOLD_OUT', true, 2);
INSERT INTO warehouses (store_id, id, name, accounting_id, is_main) VALUES
  ('${SYNCED}', '00000000-0000-4000-8000-000000000301', 'Principal', '1', true),
  ('${SYNCED}', '00000000-0000-4000-8000-000000000302', 'Bodega norte', '2', false);
INSERT INTO items (store_id, id, sku, name, type, price, track_inventory, sell_without_stock, quantity, committed_quantity, availability, version, warehouse_id, accounting_id) VALUES
  ('${PLAIN}', '${item(1)}', 'CAMISETA', 'Camiseta', 'PRODUCT', 45000, true, false, 7, 0, 'IN_STOCK', 6, NULL, NULL),
  ('${PLAIN}', '${item(2)}', 'BOLSO', 'Bolso de cuero', 'PRODUCT', 120000, true, true, -5, 0, 'BACKORDER', 3, NULL, NULL),
  ('${PLAIN}', '${item(3)}', 'SOMBRERO', 'Sombrero', 'PRODUCT', 85000, true, false, 0, 0, 'HIDDEN', 2, NULL, NULL),
  ('${PLAIN}', '${item(4)}', NULL, 'Envío', 'SERVICE', 10000, false, false, 0, 0, 'IN_STOCK', 1, NULL, NULL),
  ('${PLAIN}', '${item(5)}', 'TAZA', 'Taza (sin inventario)', 'PRODUCT', 18000, false, false, 0, 0, 'IN_STOCK', 1, NULL, NULL),
  ('${SYNCED}', '${item(6)}', 'MESA', 'Mesa', 'PRODUCT', 300000, true, false, 10, 3, 'IN_STOCK', 4, '00000000-0000-4000-8000-000000000301', '17'),
  ('${SYNCED}', '${item(7)}', 'SILLA', 'Silla', 'PRODUCT', 90000, true, false, 2, 0, 'IN_STOCK', 3, '00000000-0000-4000-8000-000000000301', '18');
INSERT INTO orders (store_id, id, number, status, total, holds_committed, invoice_accounting_id, invoice_number, invoiced_at) VALUES
  ('${PLAIN}', '${order(1)}', 1, 'PENDING', 90000, false, NULL, NULL, NULL),
  ('${PLAIN}', '${order(2)}', 2, 'CONFIRMED', 1200000, false, NULL, NULL, NULL),
  ('${PLAIN}', '${order(3)}', 3, 'SHIPPED', 55000, false, NULL, NULL, NULL),
  ('${PLAIN}', '${order(4)}', 4, 'DELIVERED', 85000, false, NULL, NULL, NULL),
  ('${PLAIN}', '${order(5)}', 5, 'CANCELLED', 45000, false, NULL, NULL, NULL),
  ('${PLAIN}', '${order(6)}', 6, 'PENDING', 18000, false, NULL, NULL, NULL),
  ('${SYNCED}', '${order(7)}', 1, 'PENDING', 900000, true, NULL, NULL, NULL),
  ('${SYNCED}', '${order(8)}', 2, 'CONFIRMED', 180000, false, '900', 'FV-1', now());
INSERT INTO order_lines (store_id, order_id, item_id, quantity, unit_price, stock_taken) VALUES
  ('${PLAIN}', '${order(1)}', '${item(1)}', 2, 45000, true),
  ('${PLAIN}', '${order(2)}', '${item(2)}', 10, 120000, true),
  ('${PLAIN}', '${order(3)}', '${item(1)}', 1, 45000, true),
  ('${PLAIN}', '${order(3)}', '${item(4)}', 1, 10000, false),
  ('${PLAIN}', '${order(4)}', '${item(3)}', 1, 85000, true),
  ('${PLAIN}', '${order(5)}', '${item(1)}', 1, 45000, true),
  ('${PLAIN}', '${order(6)}', '${item(5)}', 1, 18000, false),
  ('${SYNCED}', '${order(7)}', '${item(6)}', 3, 300000, true),
  ('${SYNCED}', '${order(8)}', '${item(7)}', 2, 90000, true);
INSERT INTO stock_movements (store_id, item_id, delta, quantity_after, reason, order_id, note) VALUES
  ('${PLAIN}', '${item(1)}', 10, 10, 'INITIAL_COUNT', NULL, NULL),
  ('${PLAIN}', '${item(1)}', -2, 8, 'ORDER_PLACED', '${order(1)}', NULL),
  ('${PLAIN}', '${item(1)}', -1, 7, 'ORDER_PLACED', '${order(3)}', NULL),
  ('${PLAIN}', '${item(1)}', -1, 6, 'ORDER_PLACED', '${order(5)}', NULL),
  ('${PLAIN}', '${item(1)}', 1, 7, 'ORDER_CANCELLED', '${order(5)}', NULL),
  ('${PLAIN}', '${item(2)}', 5, 5, 'INITIAL_COUNT', NULL, NULL),
  ('${PLAIN}', '${item(2)}', -10, -5, 'ORDER_PLACED', '${order(2)}', NULL),
  ('${PLAIN}', '${item(3)}', 1, 1, 'INITIAL_COUNT', NULL, NULL),
  ('${PLAIN}', '${item(3)}', -1, 0, 'ORDER_PLACED', '${order(4)}', NULL),
  ('${PLAIN}', '${item(5)}', 0, 0, 'INITIAL_COUNT', NULL, NULL),
  ('${SYNCED}', '${item(6)}', 10, 10, 'ACCOUNTING_SYNC', NULL, 'sync 1'),
  ('${SYNCED}', '${item(7)}', 4, 4, 'ACCOUNTING_SYNC', NULL, 'sync 1'),
  ('${SYNCED}', '${item(7)}', -2, 2, 'ORDER_INVOICED', '${order(8)}', 'invoice FV-1');
`;

describe("the variants and warehouses migration, on data the service wrote before it", () => {
  it("gives every store one main warehouse that fulfils online orders first; the synced store keeps its mirrored ones", async () => {
    const { rows } = await pool.query(
      `SELECT store_id AS "storeId", name, accounting_id AS "accountingId", is_main AS "isMain",
              fulfils_online_orders AS "fulfils", priority
         FROM warehouses ORDER BY store_id, priority`,
    );
    expect(rows).toEqual([
      { storeId: PLAIN, name: "Principal", accountingId: null, isMain: true, fulfils: true, priority: 0 },
      { storeId: SYNCED, name: "Principal", accountingId: "1", isMain: true, fulfils: true, priority: 0 },
      { storeId: SYNCED, name: "Bodega norte", accountingId: "2", isMain: false, fulfils: false, priority: 1 },
    ]);
  });

  it("gives every item exactly one default variant with its SKU, stock, availability, version and accounting link", async () => {
    const { rows } = await pool.query(
      `SELECT i.id, count(v.*)::int AS variants, bool_and(v.is_default) AS "isDefault", max(v.option_key) AS "optionKey",
              bool_and(v.sku IS NOT DISTINCT FROM i.sku AND v.quantity = i.quantity AND v.committed_quantity = i.committed_quantity
                       AND v.availability = i.availability AND v.version = i.version
                       AND v.accounting_id IS NOT DISTINCT FROM i.accounting_id AND v.price IS NULL) AS "sameAsItem",
              i.options
         FROM items i LEFT JOIN variants v ON v.store_id = i.store_id AND v.item_id = i.id
        GROUP BY i.store_id, i.id ORDER BY i.id`,
    );
    expect(rows).toHaveLength(7);
    for (const row of rows) expect(row).toMatchObject({ variants: 1, isDefault: true, optionKey: "", sameAsItem: true, options: [] });
  });

  it("moves each item's count and committed units to its level in the main warehouse, zero elsewhere", async () => {
    const { rows } = await pool.query(
      `SELECT v.item_id AS "itemId", w.is_main AS "isMain", l.quantity, l.committed_quantity AS committed
         FROM stock_levels l JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
         JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
        ORDER BY v.item_id, w.priority`,
    );
    expect(rows).toEqual([
      { itemId: item(1), isMain: true, quantity: 7, committed: 0 },
      { itemId: item(2), isMain: true, quantity: -5, committed: 0 },
      { itemId: item(3), isMain: true, quantity: 0, committed: 0 },
      { itemId: item(4), isMain: true, quantity: 0, committed: 0 },
      { itemId: item(5), isMain: true, quantity: 0, committed: 0 },
      { itemId: item(6), isMain: true, quantity: 10, committed: 3 },
      { itemId: item(6), isMain: false, quantity: 0, committed: 0 },
      { itemId: item(7), isMain: true, quantity: 2, committed: 0 },
      { itemId: item(7), isMain: false, quantity: 0, committed: 0 },
    ]);
  });

  it("names the default variant and the main warehouse on every movement, and every level's movements add up to it", async () => {
    const { rows: unnamed } = await pool.query(
      `SELECT m.id FROM stock_movements m
         LEFT JOIN variants v ON v.store_id = m.store_id AND v.id = m.variant_id AND v.item_id = m.item_id AND v.is_default
         LEFT JOIN warehouses w ON w.store_id = m.store_id AND w.id = m.warehouse_id AND w.is_main
        WHERE v.id IS NULL OR w.id IS NULL`,
    );
    expect(unnamed).toEqual([]);
    const { rows: unbalanced } = await pool.query(
      `SELECT l.variant_id, l.warehouse_id, l.quantity, s.total, n.quantity_after
         FROM stock_levels l
         LEFT JOIN LATERAL (SELECT coalesce(sum(delta), 0)::int AS total FROM stock_movements m
                             WHERE m.store_id = l.store_id AND m.variant_id = l.variant_id AND m.warehouse_id = l.warehouse_id) s ON true
         LEFT JOIN LATERAL (SELECT quantity_after FROM stock_movements m
                             WHERE m.store_id = l.store_id AND m.variant_id = l.variant_id AND m.warehouse_id = l.warehouse_id
                             ORDER BY id DESC LIMIT 1) n ON true
         JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
         JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
        WHERE i.type = 'PRODUCT' AND i.track_inventory
          AND (s.total <> l.quantity OR (n.quantity_after IS NOT NULL AND n.quantity_after <> l.quantity))`,
    );
    expect(unbalanced).toEqual([]);
  });

  it("turns each order line into a line of the default variant, and each line that took stock into an allocation from the main warehouse", async () => {
    const { rows: lines } = await pool.query(
      `SELECT l.order_id AS "orderId", l.item_id AS "itemId", v.is_default AS "isDefault", l.stock_taken AS "stockTaken",
              coalesce(json_agg(json_build_object('main', w.is_main, 'quantity', a.quantity)) FILTER (WHERE a.order_id IS NOT NULL), '[]') AS allocations
         FROM order_lines l JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id AND v.item_id = l.item_id
         LEFT JOIN order_line_allocations a ON a.store_id = l.store_id AND a.order_id = l.order_id AND a.variant_id = l.variant_id
         LEFT JOIN warehouses w ON w.store_id = a.store_id AND w.id = a.warehouse_id
        GROUP BY l.store_id, l.order_id, l.variant_id, l.item_id, v.is_default, l.stock_taken, l.quantity
        ORDER BY l.order_id, l.item_id`,
    );
    expect(lines).toHaveLength(9);
    const { rows: sources } = await pool.query(`SELECT order_id, item_id, quantity, stock_taken FROM order_lines ORDER BY order_id, item_id`);
    for (const [index, line] of lines.entries()) {
      expect(line.isDefault).toBe(true);
      expect(line.allocations).toEqual(line.stockTaken ? [{ main: true, quantity: sources[index].quantity }] : []);
    }
  });

  it("keeps the orders, their numbers and totals, and the stores' settings as they were", async () => {
    const { rows } = await pool.query(`SELECT store_id, number, status, total::text, holds_committed FROM orders ORDER BY store_id, number`);
    expect(rows.map((row) => `${row.number}:${row.status}:${row.total}:${row.holds_committed}`)).toEqual([
      "1:PENDING:90000.00:false",
      "2:CONFIRMED:1200000.00:false",
      "3:SHIPPED:55000.00:false",
      "4:DELIVERED:85000.00:false",
      "5:CANCELLED:45000.00:false",
      "6:PENDING:18000.00:false",
      "1:PENDING:900000.00:true",
      "2:CONFIRMED:180000.00:false",
    ]);
    // the order counters moved to their own table in a later migration, with their values
    const { rows: stores } = await pool.query(
      `SELECT slug, out_of_stock_behavior, accounting_sync, c.last_number FROM stores s JOIN order_counters c ON c.store_id = s.id ORDER BY slug`,
    );
    expect(stores).toEqual([
      { slug: "plain", out_of_stock_behavior: "HIDE", accounting_sync: false, last_number: 6 },
      { slug: "synced", out_of_stock_behavior: "MARK_SOLD_OUT", accounting_sync: true, last_number: 2 },
    ]);
  });
});
