-- CreateEnum
CREATE TYPE "ItemType" AS ENUM ('PRODUCT', 'SERVICE');

-- CreateEnum
CREATE TYPE "Availability" AS ENUM ('IN_STOCK', 'BACKORDER', 'SOLD_OUT', 'HIDDEN');

-- CreateEnum
CREATE TYPE "OutOfStockBehavior" AS ENUM ('MARK_SOLD_OUT', 'HIDE');

-- CreateEnum
CREATE TYPE "StockMovementReason" AS ENUM ('INITIAL_COUNT', 'MANUAL_SET', 'MANUAL_ADJUSTMENT', 'ORDER_PLACED', 'ORDER_CANCELLED', 'ORDER_INVOICED', 'ACCOUNTING_SYNC', 'SYNC_DISABLED');

-- CreateEnum
CREATE TYPE "OrderStatus" AS ENUM ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED');

-- CreateTable
CREATE TABLE "stores" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "admin_token_hash" BYTEA NOT NULL,
    "out_of_stock_behavior" "OutOfStockBehavior" NOT NULL DEFAULT 'MARK_SOLD_OUT',
    "accounting_sync" BOOLEAN NOT NULL DEFAULT false,
    "last_order_number" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stores_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "warehouses" (
    "store_id" UUID NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "accounting_id" TEXT,
    "is_main" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "warehouses_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateTable
CREATE TABLE "items" (
    "store_id" UUID NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "sku" TEXT,
    "name" TEXT NOT NULL,
    "type" "ItemType" NOT NULL,
    "price" DECIMAL(12,2) NOT NULL,
    "track_inventory" BOOLEAN NOT NULL,
    "sell_without_stock" BOOLEAN NOT NULL DEFAULT false,
    "quantity" INTEGER NOT NULL DEFAULT 0,
    "committed_quantity" INTEGER NOT NULL DEFAULT 0,
    "availability" "Availability" NOT NULL DEFAULT 'IN_STOCK',
    "version" INTEGER NOT NULL DEFAULT 1,
    "warehouse_id" UUID,
    "accounting_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "items_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateTable
CREATE TABLE "stock_movements" (
    "store_id" UUID NOT NULL,
    "id" BIGSERIAL NOT NULL,
    "item_id" UUID NOT NULL,
    "delta" INTEGER NOT NULL,
    "quantity_after" INTEGER NOT NULL,
    "reason" "StockMovementReason" NOT NULL,
    "order_id" UUID,
    "note" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stock_movements_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateTable
CREATE TABLE "orders" (
    "store_id" UUID NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "number" INTEGER NOT NULL,
    "status" "OrderStatus" NOT NULL DEFAULT 'PENDING',
    "total" DECIMAL(14,2) NOT NULL,
    "customer_name" TEXT,
    "customer_email" TEXT,
    "idempotency_key" TEXT,
    "request_hash" TEXT,
    "holds_committed" BOOLEAN NOT NULL DEFAULT false,
    "invoice_accounting_id" TEXT,
    "invoice_number" TEXT,
    "invoiced_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateTable
CREATE TABLE "order_lines" (
    "store_id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "item_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,
    "unit_price" DECIMAL(12,2) NOT NULL,
    "stock_taken" BOOLEAN NOT NULL,

    CONSTRAINT "order_lines_pkey" PRIMARY KEY ("store_id","order_id","item_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "stores_slug_key" ON "stores"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "warehouses_store_id_accounting_id_key" ON "warehouses"("store_id", "accounting_id");

-- CreateIndex
CREATE INDEX "items_store_id_name_idx" ON "items"("store_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "items_store_id_sku_key" ON "items"("store_id", "sku");

-- CreateIndex
CREATE UNIQUE INDEX "items_store_id_accounting_id_key" ON "items"("store_id", "accounting_id");

-- CreateIndex
CREATE INDEX "stock_movements_store_id_item_id_id_idx" ON "stock_movements"("store_id", "item_id", "id" DESC);

-- CreateIndex
CREATE INDEX "orders_store_id_status_number_idx" ON "orders"("store_id", "status", "number" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "orders_store_id_number_key" ON "orders"("store_id", "number");

-- CreateIndex
CREATE UNIQUE INDEX "orders_store_id_idempotency_key_key" ON "orders"("store_id", "idempotency_key");

-- AddForeignKey
ALTER TABLE "warehouses" ADD CONSTRAINT "warehouses_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "items" ADD CONSTRAINT "items_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "items" ADD CONSTRAINT "items_store_id_warehouse_id_fkey" FOREIGN KEY ("store_id", "warehouse_id") REFERENCES "warehouses"("store_id", "id") ON DELETE NO ACTION ON UPDATE NO ACTION;

-- AddForeignKey
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "orders" ADD CONSTRAINT "orders_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_store_id_order_id_fkey" FOREIGN KEY ("store_id", "order_id") REFERENCES "orders"("store_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Availability of an item, the one place it is decided (SPEC section 1). Prisma does not model
-- functions; every statement that changes stock or its settings stores its result in
-- items.availability, so listings can filter HIDDEN items and updates can see transitions.
CREATE FUNCTION item_availability(
    item_type "ItemType",
    track_inventory BOOLEAN,
    available_quantity INTEGER,
    sell_without_stock BOOLEAN,
    out_of_stock_behavior "OutOfStockBehavior"
) RETURNS "Availability" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN item_type = 'SERVICE' OR NOT track_inventory OR available_quantity > 0 THEN 'IN_STOCK'
        WHEN sell_without_stock THEN 'BACKORDER'
        WHEN out_of_stock_behavior = 'HIDE' THEN 'HIDDEN'
        ELSE 'SOLD_OUT'
    END::"Availability"
$$;
