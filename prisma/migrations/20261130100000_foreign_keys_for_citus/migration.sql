-- Citus refuses ON UPDATE CASCADE (and SET NULL, SET DEFAULT) on a foreign key that includes the
-- distribution column, store_id (docs/distribution.md): every foreign key that had it (Prisma's
-- default) is made again with ON UPDATE NO ACTION, its ON DELETE kept. Keys are never updated, so
-- nothing behaves differently; test/distribution.test.ts holds the schema to Citus's rules.

-- accounting_connections
ALTER TABLE "accounting_connections" DROP CONSTRAINT "accounting_connections_store_id_fkey";
ALTER TABLE "accounting_connections" ADD CONSTRAINT "accounting_connections_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- items
ALTER TABLE "items" DROP CONSTRAINT "items_store_id_fkey";
ALTER TABLE "items" ADD CONSTRAINT "items_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- order_counters
ALTER TABLE "order_counters" DROP CONSTRAINT "order_counters_store_id_fkey";
ALTER TABLE "order_counters" ADD CONSTRAINT "order_counters_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- order_line_allocations
ALTER TABLE "order_line_allocations" DROP CONSTRAINT "order_line_allocations_store_id_order_id_variant_id_fkey";
ALTER TABLE "order_line_allocations" ADD CONSTRAINT "order_line_allocations_store_id_order_id_variant_id_fkey" FOREIGN KEY ("store_id", "order_id", "variant_id") REFERENCES "order_lines"("store_id", "order_id", "variant_id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- order_lines
ALTER TABLE "order_lines" DROP CONSTRAINT "order_lines_store_id_item_id_fkey";
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE RESTRICT ON UPDATE NO ACTION;

-- order_lines
ALTER TABLE "order_lines" DROP CONSTRAINT "order_lines_store_id_order_id_fkey";
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_store_id_order_id_fkey" FOREIGN KEY ("store_id", "order_id") REFERENCES "orders"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- order_lines
ALTER TABLE "order_lines" DROP CONSTRAINT "order_lines_store_id_variant_id_fkey";
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE RESTRICT ON UPDATE NO ACTION;

-- orders
ALTER TABLE "orders" DROP CONSTRAINT "orders_store_id_fkey";
ALTER TABLE "orders" ADD CONSTRAINT "orders_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- stock_levels
ALTER TABLE "stock_levels" DROP CONSTRAINT "stock_levels_store_id_variant_id_fkey";
ALTER TABLE "stock_levels" ADD CONSTRAINT "stock_levels_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- stock_levels
ALTER TABLE "stock_levels" DROP CONSTRAINT "stock_levels_store_id_warehouse_id_fkey";
ALTER TABLE "stock_levels" ADD CONSTRAINT "stock_levels_store_id_warehouse_id_fkey" FOREIGN KEY ("store_id", "warehouse_id") REFERENCES "warehouses"("store_id", "id") ON DELETE RESTRICT ON UPDATE NO ACTION;

-- stock_movements
ALTER TABLE "stock_movements" DROP CONSTRAINT "stock_movements_store_id_fkey";
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- stock_movements
ALTER TABLE "stock_movements" DROP CONSTRAINT "stock_movements_store_id_item_id_fkey";
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- stock_movements
ALTER TABLE "stock_movements" DROP CONSTRAINT "stock_movements_store_id_variant_id_fkey";
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- storefront_tokens
ALTER TABLE "storefront_tokens" DROP CONSTRAINT "storefront_tokens_store_id_fkey";
ALTER TABLE "storefront_tokens" ADD CONSTRAINT "storefront_tokens_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- sync_runs
ALTER TABLE "sync_runs" DROP CONSTRAINT "sync_runs_store_id_fkey";
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- variants
ALTER TABLE "variants" DROP CONSTRAINT "variants_store_id_item_id_fkey";
ALTER TABLE "variants" ADD CONSTRAINT "variants_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- warehouses
ALTER TABLE "warehouses" DROP CONSTRAINT "warehouses_store_id_fkey";
ALTER TABLE "warehouses" ADD CONSTRAINT "warehouses_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;
