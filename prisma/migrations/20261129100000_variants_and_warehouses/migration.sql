-- Variants and warehouses (SPEC section 8). An item is sold as variants (its default one when it
-- has no options); stock is kept per variant per warehouse (a stock level); an order line records
-- where its units were taken from (allocations); every movement names its variant and warehouse.
-- Existing data moves into this shape: each item gets its default variant, holding the item's
-- count in the store's main warehouse (created here where a store has none), with its movements,
-- order lines and their allocations pointing there. Items keep their quantity, committed
-- quantity, availability and version as the aggregates of their variants.

-- AlterEnum
ALTER TYPE "StockMovementReason" ADD VALUE 'TRANSFER';

-- Warehouses: which fulfil online orders, and in what order orders take from them.
ALTER TABLE "warehouses" ADD COLUMN "fulfils_online_orders" BOOLEAN NOT NULL DEFAULT false,
                         ADD COLUMN "priority" INTEGER NOT NULL DEFAULT 0;

INSERT INTO "warehouses" ("store_id", "name", "is_main")
SELECT s."id", 'Principal', true FROM "stores" s
 WHERE NOT EXISTS (SELECT 1 FROM "warehouses" w WHERE w."store_id" = s."id" AND w."is_main");

UPDATE "warehouses" SET "fulfils_online_orders" = true WHERE "is_main";

UPDATE "warehouses" w SET "priority" = r."n"
  FROM (SELECT "store_id", "id", (row_number() OVER (PARTITION BY "store_id" ORDER BY "is_main" DESC, "created_at", "id") - 1)::int AS "n"
          FROM "warehouses") r
 WHERE w."store_id" = r."store_id" AND w."id" = r."id";

-- Items: their options ([{ "name": "Talla", "values": ["S", "M"] }], in the merchant's order).
ALTER TABLE "items" ADD COLUMN "options" JSONB NOT NULL DEFAULT '[]';

-- CreateTable
CREATE TABLE "variants" (
    "store_id" UUID NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "item_id" UUID NOT NULL,
    "is_default" BOOLEAN NOT NULL DEFAULT false,
    "position" INTEGER NOT NULL DEFAULT 0,
    "sku" TEXT,
    "options" JSONB NOT NULL DEFAULT '[]',
    "option_key" TEXT NOT NULL,
    "price" DECIMAL(12,2),
    "quantity" INTEGER NOT NULL DEFAULT 0,
    "committed_quantity" INTEGER NOT NULL DEFAULT 0,
    "availability" "Availability" NOT NULL DEFAULT 'IN_STOCK',
    "version" INTEGER NOT NULL DEFAULT 1,
    "accounting_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "variants_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateTable
CREATE TABLE "stock_levels" (
    "store_id" UUID NOT NULL,
    "variant_id" UUID NOT NULL,
    "warehouse_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL DEFAULT 0,
    "committed_quantity" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "stock_levels_pkey" PRIMARY KEY ("store_id","variant_id","warehouse_id")
);

-- CreateTable
CREATE TABLE "order_line_allocations" (
    "store_id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "variant_id" UUID NOT NULL,
    "warehouse_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,

    CONSTRAINT "order_line_allocations_pkey" PRIMARY KEY ("store_id","order_id","variant_id","warehouse_id")
);

-- The default variant of every item, with the item's stock, SKU and accounting link.
INSERT INTO "variants" ("store_id", "item_id", "is_default", "sku", "option_key", "quantity", "committed_quantity",
                        "availability", "version", "accounting_id", "created_at", "updated_at")
SELECT "store_id", "id", true, "sku", '', "quantity", "committed_quantity", "availability", "version", "accounting_id",
       "created_at", "updated_at"
  FROM "items";

-- A level for every variant in every warehouse; the main one holds what the item held.
INSERT INTO "stock_levels" ("store_id", "variant_id", "warehouse_id", "quantity", "committed_quantity")
SELECT v."store_id", v."id", w."id",
       CASE WHEN w."is_main" THEN v."quantity" ELSE 0 END,
       CASE WHEN w."is_main" THEN v."committed_quantity" ELSE 0 END
  FROM "variants" v JOIN "warehouses" w ON w."store_id" = v."store_id";

-- Movements name their variant and warehouse; a transfer's two movements share a transfer id.
ALTER TABLE "stock_movements" ADD COLUMN "variant_id" UUID,
                              ADD COLUMN "warehouse_id" UUID,
                              ADD COLUMN "transfer_id" UUID;

UPDATE "stock_movements" m SET "variant_id" = v."id", "warehouse_id" = w."id"
  FROM "variants" v, "warehouses" w
 WHERE v."store_id" = m."store_id" AND v."item_id" = m."item_id" AND v."is_default"
   AND w."store_id" = m."store_id" AND w."is_main";

ALTER TABLE "stock_movements" ALTER COLUMN "variant_id" SET NOT NULL,
                              ALTER COLUMN "warehouse_id" SET NOT NULL;

-- Order lines are per variant; the units each took came from the main warehouse.
ALTER TABLE "order_lines" ADD COLUMN "variant_id" UUID;

UPDATE "order_lines" l SET "variant_id" = v."id"
  FROM "variants" v
 WHERE v."store_id" = l."store_id" AND v."item_id" = l."item_id" AND v."is_default";

ALTER TABLE "order_lines" ALTER COLUMN "variant_id" SET NOT NULL,
                          DROP CONSTRAINT "order_lines_pkey",
                          ADD CONSTRAINT "order_lines_pkey" PRIMARY KEY ("store_id","order_id","variant_id");

INSERT INTO "order_line_allocations" ("store_id", "order_id", "variant_id", "warehouse_id", "quantity")
SELECT l."store_id", l."order_id", l."variant_id", w."id", l."quantity"
  FROM "order_lines" l JOIN "warehouses" w ON w."store_id" = l."store_id" AND w."is_main"
 WHERE l."stock_taken";

-- CreateIndex
CREATE INDEX "warehouses_store_id_priority_idx" ON "warehouses"("store_id", "priority");

-- CreateIndex
CREATE INDEX "variants_store_id_item_id_position_idx" ON "variants"("store_id", "item_id", "position");

-- CreateIndex
CREATE UNIQUE INDEX "variants_store_id_item_id_option_key_key" ON "variants"("store_id", "item_id", "option_key");

-- CreateIndex
CREATE UNIQUE INDEX "variants_store_id_sku_key" ON "variants"("store_id", "sku");

-- CreateIndex
CREATE UNIQUE INDEX "variants_store_id_accounting_id_key" ON "variants"("store_id", "accounting_id");

-- CreateIndex
CREATE INDEX "stock_movements_store_id_variant_id_warehouse_id_id_idx" ON "stock_movements"("store_id", "variant_id", "warehouse_id", "id" DESC);

-- AddForeignKey
ALTER TABLE "variants" ADD CONSTRAINT "variants_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stock_levels" ADD CONSTRAINT "stock_levels_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stock_levels" ADD CONSTRAINT "stock_levels_store_id_warehouse_id_fkey" FOREIGN KEY ("store_id", "warehouse_id") REFERENCES "warehouses"("store_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "order_line_allocations" ADD CONSTRAINT "order_line_allocations_store_id_order_id_variant_id_fkey" FOREIGN KEY ("store_id", "order_id", "variant_id") REFERENCES "order_lines"("store_id", "order_id", "variant_id") ON DELETE CASCADE ON UPDATE CASCADE;

