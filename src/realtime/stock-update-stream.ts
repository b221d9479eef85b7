import type { StockEvent, StockEventSource } from "./stock-events.ts";
import { SubscriptionStream, type WaitingUpdates } from "./subscription-stream.ts";

/** What one subscription asked for. */
export type StockUpdateQuery = {
  storeId: string;
  /** only these items; all of the store's when absent */
  itemIds?: readonly string[] | null;
  /** only updates that changed the item's or the variant's availability (availabilityChanges) */
  availabilityChangesOnly?: boolean;
};

/**
 * How many variants may wait for one subscriber. Waiting updates are one per variant (an item
 * without options has one), so this is only reached by a subscriber that stopped reading while
 * more than this many variants of its store changed; it then gets SubscriberTooSlowError instead
 * of a memory that grows without end.
 */
export const MAX_WAITING_VARIANTS = 10_000;

/**
 * Ends a subscription that fell too far behind: the client queries again and subscribes again.
 * The GraphQL layer hands it to the client with its code (src/graphql/masked-errors.ts).
 */
export class SubscriberTooSlowError extends Error {
  readonly code = "SUBSCRIBER_TOO_SLOW";
  constructor(waiting: number, what = "variants") {
    super(`This subscription fell behind on more than ${waiting} ${what} and was ended; query again and subscribe again`);
  }
}

/**
 * The stock updates of one subscription, as an async iterator that the GraphQL server pulls as
 * fast as the client's socket takes them. Listening starts at once (not at the first pull), the
 * updates wait in a LatestPerVariant buffer, and `return()` stops listening at once even while a
 * pull is waiting (an async generator would wait for the next event first, and leak until then).
 * It hears every event published from its `ready` on (see openStockUpdates).
 */
export function streamStockUpdates(
  source: StockEventSource,
  query: StockUpdateQuery,
  maxWaitingVariants = MAX_WAITING_VARIANTS,
): AsyncIterableIterator<StockEvent> & { readonly ready: Promise<void> } {
  const wanted = matcherFor(query);
  return new SubscriptionStream<StockEvent>(
    query.availabilityChangesOnly ? "availabilityChanges" : "stockUpdates",
    new LatestPerVariant(maxWaitingVariants),
    () => new SubscriberTooSlowError(maxWaitingVariants),
    (receive) =>
      source.subscribe(query.storeId, (event) => {
        if (wanted(event)) receive(event);
      }),
  );
}

/**
 * A subscription's stream once it is live: between processes, once Redis confirmed the store's
 * channel. The GraphQL subscription starts only then, so an update committed after it started
 * always reaches it ("subscribe, then query": README, Live updates).
 */
export async function openStockUpdates(source: StockEventSource, query: StockUpdateQuery): Promise<AsyncIterableIterator<StockEvent>> {
  const stream = streamStockUpdates(source, query);
  await stream.ready;
  return stream;
}

function matcherFor(query: StockUpdateQuery): (event: StockEvent) => boolean {
  const itemIds = query.itemIds ? new Set(query.itemIds.map((id) => id.toLowerCase())) : null;
  return (event) =>
    event.storeId === query.storeId &&
    !event.alertOnly &&
    (itemIds === null || itemIds.has(event.itemId)) &&
    (!query.availabilityChangesOnly || event.availabilityChanged);
}

/**
 * The updates a subscriber has not taken yet, at most one per variant: for stock only the newest
 * matters, and a storefront shows each variant's own (a sold-out size), so updates of different
 * variants of one item never replace each other. A newer update of a waiting variant replaces it
 * and keeps its place in line, one not newer is dropped (versions are the item's, and every
 * change of a variant bumps its item's, so of one variant's updates the highest version is the
 * newest), so a slow subscriber costs memory in proportion to the variants that changed, not to
 * the number of changes.
 *
 * An update handed out carries the newest item-level state (availability, availableQuantity,
 * version) that reached the buffer for its item: the variant waiting longest may hold item
 * fields older than a later variant's, and a client applying updates in arrival order must not
 * see its item go back in time.
 */
export class LatestPerVariant implements WaitingUpdates<StockEvent> {
  private readonly byVariant = new Map<string, StockEvent>();
  /** for each item with variants waiting: its newest update seen, and how many of its variants wait */
  private readonly items = new Map<string, { newest: StockEvent; waiting: number }>();

  constructor(readonly capacity: number) {}

  /** false when the update is for one more variant and `capacity` variants already wait */
  offer(event: StockEvent): boolean {
    const waiting = this.byVariant.get(event.variantId);
    if (waiting) {
      if (event.version <= waiting.version) return true;
      this.byVariant.set(event.variantId, event);
    } else {
      if (this.byVariant.size >= this.capacity) return false;
      this.byVariant.set(event.variantId, event);
    }
    const item = this.items.get(event.itemId);
    if (!item) this.items.set(event.itemId, { newest: event, waiting: 1 });
    else {
      if (!waiting) item.waiting++;
      if (event.version > item.newest.version) item.newest = event;
    }
    return true;
  }

  /** The update of the variant that has waited longest, with its item's newest state. */
  take(): StockEvent | undefined {
    for (const [variantId, event] of this.byVariant) {
      this.byVariant.delete(variantId);
      const item = this.items.get(event.itemId)!;
      if (--item.waiting === 0) this.items.delete(event.itemId);
      const { newest } = item;
      if (newest.version <= event.version) return event;
      return { ...event, availability: newest.availability, availableQuantity: newest.availableQuantity, version: newest.version, at: newest.at };
    }
    return undefined;
  }

  clear() {
    this.byVariant.clear();
    this.items.clear();
  }
}
