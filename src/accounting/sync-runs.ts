import type { Tx } from "../db/transaction.ts";
import type { UnmatchedItem } from "./matching.ts";

/** The record of each sync (table sync_runs): started RUNNING, finished SUCCEEDED or FAILED. */

export type SyncTrigger = "MANUAL" | "SYNC_ENABLED" | "SCHEDULED" | "WEBHOOK";
export type SyncStatus = "RUNNING" | "SUCCEEDED" | "FAILED";

/** A sync run in the shape of the Prisma `SyncRun` model. */
export type SyncRunRow = {
  storeId: string;
  id: string;
  trigger: SyncTrigger;
  status: SyncStatus;
  itemsMatched: number;
  itemsUpdated: number;
  itemsUnmatched: number;
  unmatched: UnmatchedItem[];
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
};

const COLUMNS = `store_id AS "storeId", id, trigger, status, items_matched AS "itemsMatched",
  items_updated AS "itemsUpdated", items_unmatched AS "itemsUnmatched", unmatched, error,
  started_at AS "startedAt", finished_at AS "finishedAt"`;

type Db = { query: Tx["query"] };

/**
 * Records a new RUNNING run. Called with the store's accounting lock held, so any run still
 * RUNNING was left by a process that stopped mid-sync: it is closed as FAILED first.
 */
export async function startRun(db: Db, storeId: string, trigger: SyncTrigger): Promise<string> {
  await db.query(
    `UPDATE sync_runs SET status = 'FAILED', error = 'interrupted: the process running it stopped', finished_at = now()
      WHERE store_id = $1 AND status = 'RUNNING'`,
    [storeId],
  );
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO sync_runs (store_id, trigger) VALUES ($1, $2::"SyncTrigger") RETURNING id`,
    [storeId, trigger],
  );
  return rows[0]!.id;
}

export async function finishRun(
  tx: Tx,
  storeId: string,
  runId: string,
  outcome: { matched: number; updated: number; unmatched: UnmatchedItem[] },
): Promise<SyncRunRow> {
  const { rows } = await tx.query<SyncRunRow>(
    `UPDATE sync_runs SET status = 'SUCCEEDED', items_matched = $3, items_updated = $4, items_unmatched = $5,
            unmatched = $6::jsonb, finished_at = now()
      WHERE store_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [storeId, runId, outcome.matched, outcome.updated, outcome.unmatched.length, JSON.stringify(outcome.unmatched)],
  );
  return rows[0]!;
}

export async function failRun(db: Db, storeId: string, runId: string, error: string): Promise<SyncRunRow> {
  const { rows } = await db.query<SyncRunRow>(
    `UPDATE sync_runs SET status = 'FAILED', error = $3, finished_at = now()
      WHERE store_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [storeId, runId, error],
  );
  return rows[0]!;
}
