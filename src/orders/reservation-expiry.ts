import type { Deps } from "../deps.ts";
import { sql } from "../db/sql.ts";
import { isDatabaseUnavailable } from "../db/outage.ts";
import { reservationsExpiredTotal } from "../observability/metrics.ts";
import { endReservations } from "./reservations.ts";

/**
 * Expiry of cart holds (SPEC section 9): every process of the service, about every `intervalMs`
 * (with jitter, so that processes started together do not sweep in step), ends the holds past
 * their `expiresAt` and gives their units back, so that they come back within seconds of it with
 * no scheduler process of its own. One read finds the expired holds of every store (the one
 * read across stores: each store's are then ended in a transaction of its own, SPEC section 7);
 * a store whose holds another process is ending right now is skipped for this round
 * (end_reservations() behind a transaction-scoped advisory lock that is only tried, never waited
 * for). Each hold still ends once whatever races it (a checkout, a release, another sweep, a
 * process killed mid-way, PostgreSQL restarting): its status changes from HELD once, under its
 * items' locks, in the transaction that gives its units back. Checkouts and holds that need the
 * units sooner end those holds themselves (place_orders(), reserve_stock()).
 */
export type ReservationExpiry = { stop(): Promise<void>; /** one sweep now, for tests */ sweep(): Promise<number> };

/** Holds found per round, and ended per transaction. */
const FOUND_PER_ROUND = 2_000;
const ENDED_PER_TRANSACTION = 200;

export function startReservationExpiry(deps: Pick<Deps, "db" | "publisher" | "logger">, intervalMs: number): ReservationExpiry {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<number> | null = null;
  let failing = false;

  const sweep = async (): Promise<number> => {
    const { rows } = await deps.db.pool.query<{ storeId: string; ids: string[] }>(
      sql`SELECT store_id AS "storeId", array_agg(id) AS ids
            FROM (SELECT store_id, id FROM reservations WHERE status = 'HELD' AND expires_at <= now()
                   ORDER BY expires_at LIMIT ${FOUND_PER_ROUND}) due
           GROUP BY store_id`,
    );
    let ended = 0;
    for (const { storeId, ids } of rows) {
      for (let from = 0; from < ids.length && !stopped; from += ENDED_PER_TRANSACTION) {
        const answer = await endReservations(deps, storeId, ids.slice(from, from + ENDED_PER_TRANSACTION), "EXPIRED", { onlyWhenFree: true });
        if (!answer) break; // another process is on this store
        ended += answer.ended.length;
        reservationsExpiredTotal.inc(answer.ended.length);
      }
    }
    return ended;
  };

  const runRound = () => {
    round ??= sweep()
      .then((ended) => {
        if (failing) deps.logger.info("cart holds expire again");
        failing = false;
        return ended;
      })
      .catch((error) => {
        // logged once per outage: the next rounds try again
        if (!failing) deps.logger[isDatabaseUnavailable(error) ? "warn" : "error"]({ err: error }, "expiring cart holds failed; trying again");
        failing = true;
        return 0;
      })
      .finally(() => (round = null));
    return round;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void runRound().finally(schedule), intervalMs * (0.5 + Math.random()));
    timer.unref();
  };
  if (intervalMs > 0) schedule();

  return {
    sweep: runRound,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
