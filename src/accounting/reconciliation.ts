import type { Deps } from "../deps.ts";
import { settlesWithin } from "./accounting-lock.ts";
import { syncInventory } from "./inventory-sync.ts";

export type Reconciliation = { stop(): Promise<void> };

/**
 * The periodic reconciliation: every `intervalMs`, a sync of each store whose inventory is synced,
 * repairing whatever notifications were missed (the accounting system drops a subscription after
 * ten failed deliveries, and queued work dies with its process). A store synced within the last
 * half interval (by hand, or by another process of the service) is skipped, and so is one busy
 * with another accounting operation. `intervalMs` 0 turns it off.
 */
export function startReconciliation(deps: Deps, intervalMs: number): Reconciliation {
  if (intervalMs <= 0) return { stop: async () => {} };
  let round: Promise<void> | null = null;
  let stopped = false;

  const reconcile = async () => {
    const stores = await deps.db.prisma.store.findMany({
      where: { accountingSync: true, syncRuns: { none: { startedAt: { gt: new Date(Date.now() - intervalMs / 2) } } } },
      select: { id: true },
    });
    for (const store of stores) {
      if (stopped) return;
      // one store that cannot be synced (its credentials no longer open, say) must not keep the others from it
      try {
        const run = await syncInventory(deps, store.id, { trigger: "SCHEDULED", waitMs: 0 });
        if ("status" in run && run.status === "FAILED") deps.logger.warn({ storeId: store.id, error: run.error }, "scheduled sync failed");
      } catch (error) {
        deps.logger.error({ storeId: store.id, err: error }, "scheduled sync could not run");
      }
    }
  };

  const timer = setInterval(() => {
    round ??= reconcile()
      .catch((error) => deps.logger.error({ err: error }, "reconciliation round failed"))
      .finally(() => (round = null));
  }, intervalMs);
  timer.unref();

  return {
    /** No new round; the store being synced gets a few seconds to finish (an interrupted run is closed as FAILED later). */
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (round) await settlesWithin(round, 5_000);
    },
  };
}
