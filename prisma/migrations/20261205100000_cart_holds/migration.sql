-- Cart holds (SPEC section 9): units kept for a shopper while they pay. Each stock level, variant
-- and item counts the units held in it (reserved_quantity), so that available is quantity -
-- committed - reserved everywhere; the holds, their lines and where each line's units are kept.
-- A store's holds last reservation_minutes (0: none).

ALTER TABLE "stores" ADD COLUMN "reservation_minutes" INTEGER NOT NULL DEFAULT 10;

ALTER TABLE "items" ADD COLUMN "reserved_quantity" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "variants" ADD COLUMN "reserved_quantity" INTEGER NOT NULL DEFAULT 0;
-- a level never holds fewer than no units: ending a hold twice would be a bug, and fails loudly
ALTER TABLE "stock_levels" ADD COLUMN "reserved_quantity" INTEGER NOT NULL DEFAULT 0
    CONSTRAINT "stock_levels_reserved_quantity_check" CHECK ("reserved_quantity" >= 0);

-- CreateEnum
CREATE TYPE "ReservationStatus" AS ENUM ('HELD', 'CONVERTED', 'RELEASED', 'EXPIRED');

-- CreateTable
CREATE TABLE "reservations" (
    "store_id" UUID NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "status" "ReservationStatus" NOT NULL DEFAULT 'HELD',
    "token_hashes" BYTEA[] NOT NULL,
    "client_key" TEXT NOT NULL,
    "idempotency_key" TEXT,
    "request_hash" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "order_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateTable
CREATE TABLE "reservation_lines" (
    "store_id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,
    "item_id" UUID NOT NULL,
    "variant_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,

    CONSTRAINT "reservation_lines_pkey" PRIMARY KEY ("store_id","reservation_id","variant_id")
);

-- CreateTable
CREATE TABLE "reservation_allocations" (
    "store_id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,
    "variant_id" UUID NOT NULL,
    "warehouse_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,

    CONSTRAINT "reservation_allocations_pkey" PRIMARY KEY ("store_id","reservation_id","variant_id","warehouse_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "reservations_store_id_idempotency_key_key" ON "reservations"("store_id", "idempotency_key");
CREATE INDEX "reservations_store_id_status_expires_at_idx" ON "reservations"("store_id", "status", "expires_at");
CREATE INDEX "reservations_store_id_client_key_status_idx" ON "reservations"("store_id", "client_key", "status");
CREATE INDEX "reservations_store_id_created_at_id_idx" ON "reservations"("store_id", "created_at" DESC, "id" DESC);
CREATE INDEX "reservations_status_expires_at_idx" ON "reservations"("status", "expires_at");

-- AddForeignKey
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;
ALTER TABLE "reservation_lines" ADD CONSTRAINT "reservation_lines_store_id_reservation_id_fkey" FOREIGN KEY ("store_id", "reservation_id") REFERENCES "reservations"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;
ALTER TABLE "reservation_lines" ADD CONSTRAINT "reservation_lines_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE RESTRICT ON UPDATE NO ACTION;
ALTER TABLE "reservation_lines" ADD CONSTRAINT "reservation_lines_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE RESTRICT ON UPDATE NO ACTION;
ALTER TABLE "reservation_allocations" ADD CONSTRAINT "reservation_allocations_store_id_reservation_id_variant_id_fkey" FOREIGN KEY ("store_id", "reservation_id", "variant_id") REFERENCES "reservation_lines"("store_id", "reservation_id", "variant_id") ON DELETE CASCADE ON UPDATE NO ACTION;
