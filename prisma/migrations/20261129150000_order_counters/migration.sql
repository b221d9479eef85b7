-- Each store's order counter in a row of its own. On the stores row, every order's number was an
-- UPDATE of the row that every stock statement reads (accounting sync, out-of-stock behaviour)
-- and that every new order, line and movement locks FOR KEY SHARE through its foreign key: under
-- load each of those walked the row's fresh versions and made multixacts. Here only the order
-- counter row queues, and only from taking the number to COMMIT.

-- CreateTable
CREATE TABLE "order_counters" (
    "store_id" UUID NOT NULL,
    "last_number" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "order_counters_pkey" PRIMARY KEY ("store_id")
);

INSERT INTO "order_counters" ("store_id", "last_number") SELECT "id", "last_order_number" FROM "stores";

ALTER TABLE "stores" DROP COLUMN "last_order_number";

-- AddForeignKey
ALTER TABLE "order_counters" ADD CONSTRAINT "order_counters_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;
