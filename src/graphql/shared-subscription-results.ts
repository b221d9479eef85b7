import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * One live update reaches thousands of subscribers at once, and it is the same object for all of
 * them (a process parses each Redis message once). Executing the subscription's selection on it
 * once per subscriber was most of the CPU of a fan-out (bench/README.md). For the subscription
 * fields named here, whose results depend on nothing but the update and the operation (no
 * context, no per-viewer fields), each update is executed once per distinct operation (document,
 * variables and operation name) and the result is shared by every subscriber of that operation.
 * The source stream is still created per subscriber, through the field's own `subscribe`, so
 * filtering by store and items and the slow-subscriber rules are untouched.
 */
export function useSharedSubscriptionResults(fields: ReadonlySet<string>): Plugin {
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 0;
  /** per update: the result of each operation that executed it so far */
  const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();
  /** per update: the same results as JSON, for subscribers written to directly */
  const serialized = new WeakMap<object, Map<string, string>>();

  const operationKey = (args: ExecutionArgs) => {
    let id = documentIds.get(args.document);
    if (id === undefined) documentIds.set(args.document, (id = nextDocumentId++));
    return `${id}|${args.operationName ?? ""}|${JSON.stringify(args.variableValues ?? {})}`;
  };

  const resultFor = (args: ExecutionArgs, key: string, update: unknown) => {
    if (typeof update !== "object" || update === null) return execute({ ...args, rootValue: update });
    let byOperation = results.get(update);
    if (!byOperation) results.set(update, (byOperation = new Map()));
    let result = byOperation.get(key);
    if (!result) byOperation.set(key, (result = execute({ ...args, rootValue: update })));
    return result;
  };

  /**
   * The update's result for the operation as JSON, or null when it has errors (never sent as they
   * are). Synchronous once the first subscriber of the operation has serialized it.
   */
  const jsonFor = (args: ExecutionArgs, key: string, update: object): string | null | Promise<string | null> => {
    let byOperation = serialized.get(update);
    if (!byOperation) serialized.set(update, (byOperation = new Map()));
    const json = byOperation.get(key);
    if (json !== undefined) return json;
    const serialize = (result: ExecutionResult) => {
      if (result.errors?.length) return null;
      const text = JSON.stringify(result);
      byOperation.set(key, text);
      return text;
    };
    const result = resultFor(args, key, update);
    return result instanceof Promise ? result.then(serialize) : serialize(result);
  };

  return {
    onSubscribe({ args, setSubscribeFn }) {
      if (!selectsOnly(args.document, args.operationName, fields)) return;
      setSubscribeFn(async (subscribeArgs: ExecutionArgs) => {
        const stream = await createSourceEventStream(subscribeArgs);
        if (!isAsyncIterable(stream)) return stream;
        const key = operationKey(subscribeArgs);
        const { socket, subscriptionId } = (subscribeArgs.rootValue as { directDelivery?: DirectDelivery } | undefined)?.directDelivery ?? {};
        if (isOpenWebSocket(socket) && typeof subscriptionId === "string") {
          return writeToSocket(stream as AsyncIterable<object>, socket, subscriptionId, (update) => jsonFor(subscribeArgs, key, update));
        }
        return mapStream(stream as AsyncIterable<unknown>, (update) => resultFor(subscribeArgs, key, update));
      });
    },
  };
}

/**
 * What a graphql-ws subscription's root value carries as `directDelivery` (src/server.ts) for its
 * updates to be written to its WebSocket directly.
 */
export type DirectDelivery = { socket?: unknown; subscriptionId?: unknown };

type Socket = {
  readyState: number;
  bufferedAmount: number;
  send(data: string, callback?: (error?: Error) => void): void;
};

const OPEN = 1;
const isOpenWebSocket = (socket: unknown): socket is Socket =>
  typeof socket === "object" && socket !== null && (socket as Socket).readyState === OPEN && typeof (socket as Socket).send === "function";

/** Above this many bytes waiting in a socket, the next update waits until they are written. */
const MAX_BUFFERED_BYTES = 16 * 1024;

/**
 * Writes each update to the subscriber's socket as the graphql-ws `next` message graphql-ws would
 * send, `{"id":…,"type":"next","payload":…}`, the payload serialized once per update and
 * operation for all subscribers. Going through graphql-ws would serialize, wrap and acknowledge
 * every message for every subscriber, which was most of a fan-out's CPU left after sharing the
 * results (bench/results/history.md). The stream is still pulled at the socket's pace: while
 * more than MAX_BUFFERED_BYTES wait to be written, the next pull waits, so a slow subscriber's
 * updates keep coalescing in its stream (newest per item) rather than piling up in memory.
 *
 * The iterator returned to graphql-ws yields nothing: it settles when the stream ends (complete)
 * or fails (error, masked like any other), and its `return()`, called when the client completes
 * the subscription or the socket closes, stops the stream.
 */
function writeToSocket(
  stream: AsyncIterable<object>,
  socket: Socket,
  subscriptionId: string,
  jsonFor: (update: object) => string | null | Promise<string | null>,
): AsyncIterableIterator<never> {
  return new SocketWriter(stream[Symbol.asyncIterator](), socket, JSON.stringify(subscriptionId), jsonFor);
}

// A class with callbacks rather than an async loop: one runs per subscriber, and a suspended
// async function or per-object methods would hold more memory per subscriber.
class SocketWriter implements AsyncIterableIterator<never> {
  private stopped = false;
  private settle!: (step: Promise<IteratorResult<never>>) => void;
  private readonly ended = new Promise<IteratorResult<never>>((resolve) => (this.settle = resolve));

  constructor(
    private readonly updates: AsyncIterator<object>,
    private readonly socket: Socket,
    private readonly id: string,
    private readonly jsonFor: (update: object) => string | null | Promise<string | null>,
  ) {
    // a failure before graphql-ws first pulls is still delivered then, not an unhandled rejection
    this.ended.catch(() => {});
    this.pull();
  }

  next() {
    return this.ended;
  }

  async return(): Promise<IteratorResult<never>> {
    this.stopped = true;
    this.settle(Promise.resolve(DONE));
    await this.updates.return?.();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<never>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private pull() {
    this.updates.next().then(this.receive, this.fail);
  }

  private readonly receive = (step: IteratorResult<object>) => {
    if (this.stopped) return;
    if (step.done) {
      this.stopped = true;
      return this.settle(Promise.resolve(DONE));
    }
    const json = this.jsonFor(step.value);
    if (json instanceof Promise) json.then(this.write, this.fail);
    else this.write(json);
  };

  private readonly write = (json: string | null) => {
    if (this.stopped) return;
    if (json === null) return this.fail(new Error("a live update could not be executed"));
    // a closing socket is skipped: graphql-ws calls return() next
    if (this.socket.readyState === OPEN) {
      const message = `{"id":${this.id},"type":"next","payload":${json}}`;
      if (this.socket.bufferedAmount >= MAX_BUFFERED_BYTES) return this.socket.send(message, () => this.pull());
      this.socket.send(message);
    }
    this.pull();
  };

  private readonly fail = (error: unknown) => {
    if (this.stopped) return;
    this.stopped = true;
    this.settle(Promise.reject(error));
  };
}

const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true });

/** Whether the operation's root selections are all among `fields` (aliases and all). */
function selectsOnly(document: DocumentNode, operationName: string | null | undefined, fields: ReadonlySet<string>) {
  const operation = document.definitions.find(
    (definition) => definition.kind === "OperationDefinition" && (!operationName || definition.name?.value === operationName),
  );
  if (operation?.kind !== "OperationDefinition" || operation.operation !== "subscription") return false;
  return operation.selectionSet.selections.every((selection) => selection.kind === "Field" && fields.has(selection.name.value));
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === "object" && value !== null && Symbol.asyncIterator in value;

/**
 * `source` with `map` applied to each value; returning or throwing ends the source too. Written
 * with `then` rather than `await`: this runs once per subscriber per update, and each await
 * costs the fan-out microtask hops.
 */
function mapStream<T, R>(source: AsyncIterable<T>, map: (value: T) => R | Promise<R>): AsyncIterableIterator<R> {
  const iterator = source[Symbol.asyncIterator]();
  const mapStep = (step: IteratorResult<T>): IteratorResult<R> | Promise<IteratorResult<R>> => {
    if (step.done) return { value: undefined, done: true };
    const value = map(step.value);
    return value instanceof Promise ? value.then((mapped) => ({ value: mapped, done: false })) : { value, done: false };
  };
  return {
    next: () => iterator.next().then(mapStep),
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
