-- Leases in place of session advisory locks (src/db/lease.ts): which process does a store's
-- piece of work that spans calls to the accounting system, until when. A session lock stays on
-- whichever server connection PgBouncer in transaction pooling handed out, and holds a connection
-- for as long as the work waits on accounting; a lease is a row, renewed by its holder while it
-- works, that expires by itself when the holder dies.

-- CreateTable
CREATE TABLE "leases" (
    "store_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "holder" UUID NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "leases_pkey" PRIMARY KEY ("store_id","name")
);
