import { openSubscriptions } from "../observability/metrics.ts";
import type { StockEvent, StockEventSource } from "./stock-events.ts";

/** What one subscription asked for. */
export type StockUpdateQuery = {
  storeId: string;
  /** only these items; all of the store's when absent */
  itemIds?: readonly string[] | null;
  /** only updates that changed the item's availability (availabilityChanges) */
  availabilityChangesOnly?: boolean;
};

/**
 * How many items may wait for one subscriber. Waiting updates are one per item, so this is only
 * reached by a subscriber that stopped reading while more than this many items of its store
 * changed; it then gets SubscriberTooSlowError instead of a memory that grows without end.
 */
export const MAX_WAITING_ITEMS = 10_000;

/**
 * Ends a subscription that fell too far behind: the client queries again and subscribes again.
 * The GraphQL layer hands it to the client with its code (src/graphql/masked-errors.ts).
 */
export class SubscriberTooSlowError extends Error {
  readonly code = "SUBSCRIBER_TOO_SLOW";
  constructor(waitingItems: number) {
    super(
      `This subscription fell behind by more than ${waitingItems} items and was ended; ` +
        "query the items again and subscribe again",
    );
  }
}

/**
 * The stock updates of one subscription, as an async iterator that the GraphQL server pulls as
 * fast as the client's socket takes them. Listening starts at once (not at the first pull), the
 * updates wait in a LatestPerItem buffer, and `return()` stops listening at once even while a
 * pull is waiting (an async generator would wait for the next event first, and leak until then).
 */
export function streamStockUpdates(
  source: StockEventSource,
  query: StockUpdateQuery,
  maxWaitingItems = MAX_WAITING_ITEMS,
): AsyncIterableIterator<StockEvent> {
  return new StockUpdateStream(source, query, maxWaitingItems);
}

class StockUpdateStream implements AsyncIterableIterator<StockEvent> {
  private readonly waiting: LatestPerItem;
  /** the pull waiting for the next update; only one, as `for await` never pulls twice at once */
  private pull: ((result: IteratorResult<StockEvent>) => void) | null = null;
  private failure: Error | null = null;
  private finished = false;
  private readonly stopListening: () => void;
  private readonly field: string;

  constructor(source: StockEventSource, query: StockUpdateQuery, maxWaitingItems: number) {
    this.waiting = new LatestPerItem(maxWaitingItems);
    this.field = query.availabilityChangesOnly ? "availabilityChanges" : "stockUpdates";
    openSubscriptions.inc({ field: this.field });
    const wanted = matcherFor(query);
    this.stopListening = source.subscribe(query.storeId, (event) => {
      if (wanted(event)) this.receive(event);
    });
  }

  next(): Promise<IteratorResult<StockEvent>> {
    const event = this.waiting.take();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.pull = resolve));
  }

  return(): Promise<IteratorResult<StockEvent>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<StockEvent>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private receive(event: StockEvent) {
    if (this.pull) {
      const pull = this.pull;
      this.pull = null;
      pull({ value: event, done: false });
    } else if (!this.waiting.offer(event)) {
      this.failure = new SubscriberTooSlowError(this.waiting.capacity);
      this.finish();
    }
  }

  private finish() {
    if (this.finished) return;
    this.finished = true;
    openSubscriptions.dec({ field: this.field });
    this.stopListening();
    this.waiting.clear();
    this.pull?.({ value: undefined, done: true });
    this.pull = null;
  }
}

function matcherFor(query: StockUpdateQuery): (event: StockEvent) => boolean {
  const itemIds = query.itemIds ? new Set(query.itemIds.map((id) => id.toLowerCase())) : null;
  return (event) =>
    event.storeId === query.storeId &&
    (itemIds === null || itemIds.has(event.itemId)) &&
    (!query.availabilityChangesOnly || event.availabilityChanged);
}

/**
 * The updates a subscriber has not taken yet, at most one per item: for stock only the newest
 * matters. A newer update of a waiting item replaces it and keeps its place in line, an update
 * not newer than the waiting one is dropped, so a slow subscriber costs memory in proportion to
 * the items that changed, not to the number of changes.
 */
export class LatestPerItem {
  private readonly byItem = new Map<string, StockEvent>();

  constructor(readonly capacity: number) {}

  /** false when the update is for one more item and `capacity` items already wait */
  offer(event: StockEvent): boolean {
    const waiting = this.byItem.get(event.itemId);
    if (waiting) {
      if (event.version > waiting.version) this.byItem.set(event.itemId, event);
      return true;
    }
    if (this.byItem.size >= this.capacity) return false;
    this.byItem.set(event.itemId, event);
    return true;
  }

  /** The update that has waited longest. */
  take(): StockEvent | undefined {
    for (const [itemId, event] of this.byItem) {
      this.byItem.delete(itemId);
      return event;
    }
    return undefined;
  }

  clear() {
    this.byItem.clear();
  }
}
