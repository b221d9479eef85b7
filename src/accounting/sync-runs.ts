import type { PrismaClient, SyncRun } from "../generated/prisma/client.ts";
import type { SyncTrigger } from "../generated/prisma/enums.ts";
import type { UnmatchedItem } from "./matching.ts";

/** The record of each sync (table sync_runs): started RUNNING, finished SUCCEEDED or FAILED. */

export type SyncOutcome = { matched: number; updated: number; unmatched: UnmatchedItem[] };

/**
 * Records a new RUNNING run. Called with the store's accounting lock held, so any run still
 * RUNNING was left by a process that stopped, or lost its database, before recording how the run
 * ended: it is closed as FAILED first. (Its counts may have been applied: a sync sets absolute
 * counts, so this run sets them again.)
 */
export async function startRun(prisma: PrismaClient, storeId: string, trigger: SyncTrigger): Promise<string> {
  await prisma.syncRun.updateMany({
    where: { storeId, status: "RUNNING" },
    data: { status: "FAILED", error: "interrupted before it was recorded as finished", finishedAt: new Date() },
  });
  const run = await prisma.syncRun.create({ data: { storeId, trigger }, select: { id: true } });
  return run.id;
}

export function finishRun(prisma: PrismaClient, storeId: string, runId: string, outcome: SyncOutcome): Promise<SyncRun> {
  return prisma.syncRun.update({
    where: { storeId_id: { storeId, id: runId } },
    data: {
      status: "SUCCEEDED",
      itemsMatched: outcome.matched,
      itemsUpdated: outcome.updated,
      itemsUnmatched: outcome.unmatched.length,
      unmatched: outcome.unmatched,
      finishedAt: new Date(),
    },
  });
}

export function failRun(prisma: PrismaClient, storeId: string, runId: string, error: string): Promise<SyncRun> {
  return prisma.syncRun.update({
    where: { storeId_id: { storeId, id: runId } },
    data: { status: "FAILED", error, finishedAt: new Date() },
  });
}
