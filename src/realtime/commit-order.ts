import type { StockEvent, StockEventPublisher } from "./stock-events.ts";

/**
 * Hands on the events of one turn of the event loop in version order. Two transactions on one
 * item commit in lock order, and their answers come back on two database connections; when both
 * arrive in the same turn, Node may read the later one first, and a subscriber would get version
 * v + 1 before v (and then drop v as stale). Collected until the turn ends (setImmediate runs after
 * the sockets read in it) and sorted by version, they go out in the order they committed.
 * Publishing still never waits for anyone.
 */
export function inCommitOrder(publisher: StockEventPublisher): StockEventPublisher {
  let pending: StockEvent[] = [];
  const flush = () => {
    const events = pending.sort((a, b) => a.version - b.version);
    pending = [];
    publisher.publish(events);
  };
  return {
    publish(events) {
      if (pending.length === 0) setImmediate(flush);
      pending.push(...events);
    },
  };
}
