-- CreateEnum
CREATE TYPE "SyncStatus" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "SyncTrigger" AS ENUM ('MANUAL', 'SYNC_ENABLED', 'SCHEDULED', 'WEBHOOK');

-- CreateTable
CREATE TABLE "accounting_connections" (
    "store_id" UUID NOT NULL,
    "base_url" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "token_sealed" BYTEA NOT NULL,
    "webhook_secret_sealed" BYTEA NOT NULL,
    "invoice_client_id" TEXT NOT NULL,
    "connected_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounting_connections_pkey" PRIMARY KEY ("store_id")
);

-- CreateTable
CREATE TABLE "sync_runs" (
    "store_id" UUID NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "trigger" "SyncTrigger" NOT NULL,
    "status" "SyncStatus" NOT NULL DEFAULT 'RUNNING',
    "items_matched" INTEGER NOT NULL DEFAULT 0,
    "items_updated" INTEGER NOT NULL DEFAULT 0,
    "items_unmatched" INTEGER NOT NULL DEFAULT 0,
    "unmatched" JSONB NOT NULL DEFAULT '[]',
    "error" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sync_runs_pkey" PRIMARY KEY ("store_id","id")
);

-- CreateIndex
CREATE INDEX "sync_runs_store_id_started_at_idx" ON "sync_runs"("store_id", "started_at" DESC);

-- AddForeignKey
ALTER TABLE "accounting_connections" ADD CONSTRAINT "accounting_connections_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;
