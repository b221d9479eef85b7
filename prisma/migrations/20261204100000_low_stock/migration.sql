-- Low stock (SPEC section 9): a threshold per store and per variant, each variant's low flag (so
-- that crossing into low is seen once, and rising above re-arms it), and the alerts recorded as
-- variants cross.

ALTER TABLE "stores" ADD COLUMN "low_stock_threshold" INTEGER;

ALTER TABLE "variants" ADD COLUMN "low_stock_threshold" INTEGER,
    ADD COLUMN "low_stock" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "low_stock_alerts" (
    "store_id" UUID NOT NULL,
    "id" BIGSERIAL NOT NULL,
    "item_id" UUID NOT NULL,
    "variant_id" UUID NOT NULL,
    "available_quantity" INTEGER NOT NULL,
    "threshold" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "low_stock_alerts_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateIndex
CREATE INDEX "low_stock_alerts_store_id_variant_id_id_idx" ON "low_stock_alerts"("store_id", "variant_id", "id" DESC);

-- AddForeignKey
ALTER TABLE "low_stock_alerts" ADD CONSTRAINT "low_stock_alerts_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE NO ACTION;
ALTER TABLE "low_stock_alerts" ADD CONSTRAINT "low_stock_alerts_store_id_item_id_fkey" FOREIGN KEY ("store_id", "item_id") REFERENCES "items"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;
ALTER TABLE "low_stock_alerts" ADD CONSTRAINT "low_stock_alerts_store_id_variant_id_fkey" FOREIGN KEY ("store_id", "variant_id") REFERENCES "variants"("store_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION;
