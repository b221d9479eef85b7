import { openSubscriptions } from "../observability/metrics.ts";
import type { StockSubscription } from "./stock-events.ts";

/** Where a subscription's updates wait until its client takes them: `offer` is false when full. */
export type WaitingUpdates<T> = { offer(update: T): boolean; take(): T | undefined; clear(): void };

/**
 * The updates of one subscription, as an async iterator that the GraphQL server pulls as fast as
 * the client's socket takes them. Listening starts at once (not at the first pull), the updates
 * wait in `waiting` (the newest per variant for stock, every one in order for alerts), and
 * `return()` stops listening at once even while a pull is waiting (an async generator would wait
 * for the next update first, and leak until then). A subscriber whose updates no longer fit ends
 * with `tooSlow()`'s error. It hears every update from its `ready` on.
 */
export class SubscriptionStream<T> implements AsyncIterableIterator<T> {
  /** the pull waiting for the next update; only one, as `for await` never pulls twice at once */
  private pull: ((result: IteratorResult<T>) => void) | null = null;
  private failure: Error | null = null;
  private finished = false;
  private readonly listening: StockSubscription;

  constructor(
    private readonly field: string,
    private readonly waiting: WaitingUpdates<T>,
    private readonly tooSlow: () => Error,
    listen: (receive: (update: T) => void) => StockSubscription,
  ) {
    openSubscriptions.inc({ field });
    this.listening = listen((update) => this.receive(update));
  }

  get ready() {
    return this.listening.ready;
  }

  next(): Promise<IteratorResult<T>> {
    const update = this.waiting.take();
    if (update !== undefined) return Promise.resolve({ value: update, done: false });
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.pull = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private receive(update: T) {
    if (this.pull) {
      const pull = this.pull;
      this.pull = null;
      pull({ value: update, done: false });
    } else if (!this.waiting.offer(update)) {
      this.failure = this.tooSlow();
      this.finish();
    }
  }

  private finish() {
    if (this.finished) return;
    this.finished = true;
    openSubscriptions.dec({ field: this.field });
    this.listening.stop();
    this.waiting.clear();
    this.pull?.({ value: undefined, done: true });
    this.pull = null;
  }
}

/** Every update in the order it came, at most `capacity` of them waiting. */
export class InArrivalOrder<T> implements WaitingUpdates<T> {
  private readonly updates: T[] = [];

  constructor(readonly capacity: number) {}

  offer(update: T) {
    if (this.updates.length >= this.capacity) return false;
    this.updates.push(update);
    return true;
  }

  take() {
    return this.updates.shift();
  }

  clear() {
    this.updates.length = 0;
  }
}
