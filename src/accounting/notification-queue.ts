import type { Deps } from "../deps.ts";
import { settlesWithin } from "./accounting-lock.ts";
import { syncInventory } from "./inventory-sync.ts";
import { BACKGROUND_WAIT_MS, refreshItems } from "./item-refresh.ts";

/** What a notification asks for: re-reading some accounting items, or a whole sync. */
export type NotificationWork = { accountingItemIds: string[] } | "FULL_SYNC";

/**
 * The work notifications ask for, done after they are answered (the accounting system wants an
 * answer within 5 seconds). Per store, one worker at a time; ids that arrive while it runs are
 * merged into its next round, so a burst of notifications makes few API calls. The queue lives in
 * memory: what a stopping process drops, the periodic reconciliation repairs.
 */
export class NotificationQueue {
  private readonly pending = new Map<string, Set<string> | "FULL_SYNC">();
  private readonly workers = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly deps: Deps) {}

  add(storeId: string, work: NotificationWork) {
    if (this.closed) return;
    const queued = this.pending.get(storeId);
    this.pending.set(
      storeId,
      work === "FULL_SYNC" || queued === "FULL_SYNC" ? "FULL_SYNC" : new Set([...(queued ?? []), ...work.accountingItemIds]),
    );
    if (!this.workers.has(storeId)) this.workers.set(storeId, this.work(storeId));
  }

  /** Resolves once every queued notification has been acted on. */
  async idle(): Promise<void> {
    while (this.workers.size > 0) await Promise.all(this.workers.values());
  }

  /**
   * Takes no more work, drops what is queued and gives what is running a few seconds to end, so
   * a shutdown is not held by a store waiting for its turn (the reconciliation repairs the rest).
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await settlesWithin(this.idle(), graceMs);
  }

  private async work(storeId: string) {
    await new Promise((resolve) => setImmediate(resolve)); // the notification is answered first
    for (let next = this.take(storeId); next; next = this.take(storeId)) {
      try {
        if (next === "FULL_SYNC") await syncInventory(this.deps, storeId, { trigger: "WEBHOOK", waitMs: BACKGROUND_WAIT_MS });
        else await refreshItems(this.deps, storeId, [...next]);
      } catch (error) {
        this.deps.logger.warn({ err: error, storeId }, "could not act on an accounting notification; the reconciliation repairs it");
      }
    }
    this.workers.delete(storeId);
  }

  private take(storeId: string) {
    const next = this.pending.get(storeId);
    this.pending.delete(storeId);
    return next;
  }
}
